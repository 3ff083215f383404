/**
 * Inputs for the dependency benchmark: wheels generated on the spot (one
 * module, or a package of many modules so bytecode compilation shows), task
 * dirs for the cold-start runs, and caches over throwaway data dirs.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config/index.ts';
import { createDependencyCache } from '../../src/deps/index.ts';
import type { DependencyCache, DependencyCacheOptions } from '../../src/deps/index.ts';
import { runIsolated } from '../../src/sandbox/index.ts';

const run = promisify(execFile);
export const PYTHON = '/usr/bin/python3';

// A wheel named argv[2] with argv[3] modules of ~60 lines each; __init__ imports them all.
const MAKE_WHEEL = `
import base64, hashlib, os, sys, zipfile
out, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
info = f"{name}-1.0.0.dist-info"
files = {}
body = "\\n".join(
    f"def f{j}(x, y={j}):\\n    total = 0\\n    for i in range(x):\\n        total += i * y\\n    return total\\n"
    for j in range(10)
) + "\\nclass Thing:\\n    def __init__(self, v):\\n        self.v = v\\n    def double(self):\\n        return self.v * 2\\n"
for i in range(count):
    files[f"{name}/m{i:03d}.py"] = body.encode()
files[f"{name}/__init__.py"] = ("".join(f"from . import m{i:03d}\\n" for i in range(count)) + "VERSION = '1.0.0'\\n").encode()
files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\\nName: {name}\\nVersion: 1.0.0\\n".encode()
files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\\nGenerator: relay-bench\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
record = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},{len(d)}" for p, d in files.items()]
files[f"{info}/RECORD"] = ("\\n".join(record + [f"{info}/RECORD,,"]) + "\\n").encode()
with zipfile.ZipFile(os.path.join(out, f"{name}-1.0.0-py3-none-any.whl"), "w") as whl:
    for p, d in files.items():
        whl.writestr(p, d)
`;

/** Writes `<name>-1.0.0-py3-none-any.whl` with `modules` modules into `wheelhouse`. */
export async function makeWheel(wheelhouse: string, name: string, modules: number): Promise<void> {
  await run(PYTHON, ['-c', MAKE_WHEEL, wheelhouse, name, String(modules)], {
    env: { PATH: '/usr/bin:/bin' },
  });
}

/** A directory that `cleanup` removes. */
export async function scratch(
  prefix: string,
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A cache over its own data dir, installing through the sandbox like production. */
export function benchCache(
  dataDir: string,
  wheelhouse: string,
  options: Partial<DependencyCacheOptions> = {},
): DependencyCache {
  const config = loadConfig({ RELAY_DATA_DIR: dataDir, PIP_FIND_LINKS: wheelhouse });
  return createDependencyCache({
    dataDir: config.dataDir,
    config,
    runner: (request) => runIsolated(request),
    ...options,
  });
}

/** A task dir holding `file` with `source`. */
export async function taskDir(
  root: string,
  name: string,
  file: string,
  source: string,
): Promise<string> {
  const dir = path.join(root, 'tasks', name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, file), source);
  return dir;
}
