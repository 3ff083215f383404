/**
 * The WASM runtime: a WASI (preview 1) command module run by the Node
 * bootstrap's wasm.cjs with node:wasi. Same binary and flags as the Node
 * runtime; the entrypoint is the module's file name (`echo.wasm`).
 */
import type { Runtime } from '../../domain/index.ts';
import type { LaunchPaths, RuntimeAdapter, RuntimeLaunch } from '../port.ts';
import { baseEnv, fileSet, isSafeRelativePath } from '../common.ts';
import { JS_BOOTSTRAP_DIR, NODE_FLAGS, resolveNodeBinary } from '../node/index.ts';

export interface WasmRuntimeOptions {
  /** The Node 24 binary; default the one running Relay. */
  nodePath?: string;
}

export class WasmRuntime implements RuntimeAdapter {
  readonly runtime: Runtime = 'wasm';
  readonly bootstrapDir = JS_BOOTSTRAP_DIR;
  readonly hostPaths: readonly string[];
  /** The same threads as the Node runtime (node:wasi file I/O uses the libuv pool). */
  readonly minPids = 16;
  readonly nodePath: string;

  constructor(options: WasmRuntimeOptions = {}) {
    this.nodePath = resolveNodeBinary(options.nodePath);
    this.hostPaths = Object.freeze([this.nodePath]);
  }

  /** The argv and environment that start the WASI runner for `module.wasm`. */
  launch(entrypoint: string, paths: LaunchPaths): RuntimeLaunch {
    return {
      argv: [this.nodePath, ...NODE_FLAGS, `${paths.bootstrapDir}/wasm.cjs`],
      env: baseEnv(entrypoint, paths),
    };
  }

  /** Null when the entrypoint is a .wasm file the package has. */
  checkEntrypoint(entrypoint: string, files: readonly string[]): string | null {
    const path = entrypoint.replace(/^(\.\/)+/, '');
    if (!path.endsWith('.wasm') || !isSafeRelativePath(path)) {
      return `entrypoint ${entrypoint}: expected the path of a .wasm file in the package, e.g. echo.wasm`;
    }
    if (fileSet(files).has(path)) return null;
    return `entrypoint ${entrypoint}: ${path} not found in the package`;
  }
}
