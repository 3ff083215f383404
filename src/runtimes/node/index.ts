/**
 * The Node.js runtime: Relay's own Node 24 binary running bootstrap/node.cjs
 * with a clean environment (an inherited NODE_OPTIONS or
 * NODE_EXTRA_CA_CERTS would change behaviour and cost start time). The
 * WASM runtime shares the binary, the flags and the bootstrap dir.
 */
import { realpathSync } from 'node:fs';
import type { Runtime } from '../../domain/index.ts';
import type { LaunchPaths, RuntimeAdapter, RuntimeLaunch } from '../port.ts';
import { baseEnv, bootstrapDirOf, fileSet, parseHandlerRef } from '../common.ts';

export interface NodeRuntimeOptions {
  /** The Node 24 binary; default the one running Relay. */
  nodePath?: string;
}

/**
 * Start flags. Measured against `node -e 0`: none of them costs start time.
 * --jitless was measured too and rejected: it saves nothing at start, makes
 * handlers several times slower and disables WebAssembly. No
 * --max-old-space-size: Node 24 sizes its heap from the cgroup memory limit,
 * and a smaller V8 limit would turn a cgroup OOM (reported as
 * memory_exceeded) into a plain crash.
 */
export const NODE_FLAGS: readonly string[] = [
  '--disable-warning=ExperimentalWarning',
  // No inspector can be started from outside by SIGUSR1, and one thread fewer.
  '--disable-sigusr1',
];

/** The JavaScript bootstrap dir shared by the node and wasm runtimes. */
export const JS_BOOTSTRAP_DIR = bootstrapDirOf(import.meta.url, 'bootstrap');

const EXTENSIONS = ['.mjs', '.js', '.cjs'];

/** The real path of a node binary, so the sandbox binds one file and argv[0] names it. */
export function resolveNodeBinary(nodePath: string | undefined): string {
  const path = nodePath ?? process.execPath;
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

export class NodeRuntime implements RuntimeAdapter {
  readonly runtime: Runtime = 'node24';
  readonly bootstrapDir = JS_BOOTSTRAP_DIR;
  readonly hostPaths: readonly string[];
  /**
   * Node 24 runs 10 threads (main, 4 V8 workers, the delayed-task scheduler,
   * 4 libuv workers on first fs use) and cgroup v1 counts each as a pid.
   */
  readonly minPids = 16;
  readonly nodePath: string;

  constructor(options: NodeRuntimeOptions = {}) {
    this.nodePath = resolveNodeBinary(options.nodePath);
    this.hostPaths = Object.freeze([this.nodePath]);
  }

  /** The argv and environment that start the bootstrap for `module.handler`. */
  launch(entrypoint: string, paths: LaunchPaths): RuntimeLaunch {
    const env = baseEnv(entrypoint, paths);
    if (paths.depsDir !== undefined) env.NODE_PATH = nodeModulesOf(paths.depsDir);
    return { argv: [this.nodePath, ...NODE_FLAGS, `${paths.bootstrapDir}/node.cjs`], env };
  }

  /** Null when the package has index.mjs, index.js or index.cjs for `index.handler`. */
  checkEntrypoint(entrypoint: string, files: readonly string[]): string | null {
    const ref = parseHandlerRef(entrypoint, false);
    if (ref === null) {
      return `entrypoint ${entrypoint}: expected module.function, e.g. index.handler`;
    }
    const have = fileSet(files);
    const candidates = EXTENSIONS.map((ext) => ref.modulePath + ext);
    if (candidates.some((file) => have.has(file))) return null;
    return `entrypoint ${entrypoint}: none of ${candidates.join(', ')} found in the package`;
  }
}

// An installed dependency set is `<depsDir>/node_modules`; a depsDir that is
// itself a node_modules folder is accepted too.
function nodeModulesOf(depsDir: string): string {
  return depsDir.endsWith('/node_modules') || depsDir === 'node_modules'
    ? depsDir
    : `${depsDir}/node_modules`;
}
