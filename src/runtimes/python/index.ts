/**
 * The Python runtime: `/usr/bin/python3 -I -S -B` importing relay_bootstrap.
 * Isolated mode ignores PYTHON* variables and the user site; `-S` skips
 * site-packages, so the bootstrap itself puts the task and dependency dirs on
 * sys.path. The interpreter path is configurable but must be a real
 * interpreter, never a pyenv shim (a shim costs 85-140 ms a start).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Runtime } from '../../domain/index.ts';
import type { LaunchPaths, RuntimeAdapter, RuntimeLaunch } from '../port.ts';
import { baseEnv, bootstrapDirOf, fileSet, parseHandlerRef, withRealPath } from '../common.ts';

export interface PythonRuntimeOptions {
  /** Absolute path of the interpreter; default /usr/bin/python3. */
  pythonPath?: string;
}

// Runs once per adapter on the host. Compiles the bootstrap into its
// __pycache__ (with this interpreter's magic number): importing the compiled
// module saves ~2 ms a start over compiling the source. Then prints what the
// interpreter loads from outside itself: the stdlib dirs on sys.path and,
// when it links libpython dynamically, that library.
const PROBE = `
import os, sys
try:
    import py_compile
    py_compile.compile(sys.argv[1], doraise=True)
except Exception:
    pass  # read-only install: the bootstrap is compiled at each start instead
paths = [p for p in sys.path if p and os.path.exists(p)]
try:
    with open('/proc/self/maps') as maps:
        paths += sorted({line.split()[-1] for line in maps if 'libpython' in line and '/' in line})
except OSError:
    pass
print('\\n'.join(paths))
`;

// -I leaves the bootstrap dir off sys.path, so the launcher puts it there
// (argv[1]); the bootstrap takes it off again before loading the handler.
const LAUNCHER =
  'import sys;sys.path.insert(0,sys.argv[1]);import relay_bootstrap;relay_bootstrap.main()';

export class PythonRuntime implements RuntimeAdapter {
  readonly runtime: Runtime = 'python3.11';
  readonly bootstrapDir = bootstrapDirOf(import.meta.url, 'bootstrap');
  /** The interpreter starts one thread; a little room for the function's own. */
  readonly minPids = 4;
  readonly pythonPath: string;
  #hostPaths: readonly string[] | undefined;

  constructor(options: PythonRuntimeOptions = {}) {
    this.pythonPath = options.pythonPath ?? '/usr/bin/python3';
  }

  /** Interpreter, stdlib and libpython paths; asked of the interpreter once, on first use. */
  get hostPaths(): readonly string[] {
    return this.#prepare();
  }

  /** The argv and environment that start the bootstrap for `module.handler`. */
  launch(entrypoint: string, paths: LaunchPaths): RuntimeLaunch {
    // The first launch compiles the bootstrap on the host before any sandbox needs it.
    this.#prepare();
    return {
      argv: [this.pythonPath, '-I', '-S', '-B', '-c', LAUNCHER, paths.bootstrapDir],
      env: baseEnv(entrypoint, paths),
    };
  }

  #prepare(): readonly string[] {
    this.#hostPaths ??= probe(this.pythonPath, this.bootstrapDir);
    return this.#hostPaths;
  }

  /** Null when the package has the module the entrypoint names. */
  checkEntrypoint(entrypoint: string, files: readonly string[]): string | null {
    const ref = parseHandlerRef(entrypoint.replaceAll('/', '.'), true);
    if (ref === null) {
      return `entrypoint ${entrypoint}: expected module.function, e.g. main.handler`;
    }
    const have = fileSet(files);
    const module = `${ref.modulePath}.py`;
    if (have.has(module) || have.has(`${ref.modulePath}/__init__.py`)) return null;
    return `entrypoint ${entrypoint}: ${module} not found in the package`;
  }
}

function probe(pythonPath: string, bootstrapDir: string): readonly string[] {
  const paths = new Set(withRealPath(pythonPath));
  try {
    const out = execFileSync(
      pythonPath,
      ['-I', '-S', '-c', PROBE, join(bootstrapDir, 'relay_bootstrap.py')],
      {
        env: {},
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    for (const line of out.split('\n')) if (line !== '') paths.add(line);
  } catch {
    // A missing interpreter surfaces when the sandbox starts, with its own error.
  }
  return Object.freeze([...paths]);
}
