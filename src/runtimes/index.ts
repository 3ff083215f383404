/**
 * Runtimes: one adapter per language (python3.11, node24, wasm), each
 * knowing how to start its bootstrap. The sandbox decides where that runs.
 */
import type { Runtime } from '../domain/index.ts';
import type { RuntimeAdapter } from './port.ts';
import { NodeRuntime } from './node/index.ts';
import { PythonRuntime } from './python/index.ts';
import { WasmRuntime } from './wasm/index.ts';

export type { LaunchPaths, RuntimeAdapter, RuntimeLaunch } from './port.ts';
export { NodeRuntime, type NodeRuntimeOptions } from './node/index.ts';
export { PythonRuntime, type PythonRuntimeOptions } from './python/index.ts';
export { WasmRuntime, type WasmRuntimeOptions } from './wasm/index.ts';

export interface RuntimeOptions {
  /** Python interpreter; default /usr/bin/python3. Never a pyenv shim. */
  pythonPath?: string;
  /** Node 24 binary for the node and wasm runtimes; default the one running Relay. */
  nodePath?: string;
}

/** The adapters for every runtime Relay supports. */
export function createRuntimes(options: RuntimeOptions = {}): Record<Runtime, RuntimeAdapter> {
  return {
    'python3.11': new PythonRuntime({ pythonPath: options.pythonPath }),
    node24: new NodeRuntime({ nodePath: options.nodePath }),
    wasm: new WasmRuntime({ nodePath: options.nodePath }),
  };
}
