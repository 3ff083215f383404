/**
 * WebAssembly text → binary for the runtime tests and the examples, with the
 * wabt package. Run as a script to rebuild an example's .wasm next to its .wat:
 * `node test/integration/runtimes/wat.ts examples/wasm-echo/echo.wat`.
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** Compiles WAT source to a WASM binary. */
export async function compileWat(source: string, name = 'module.wat'): Promise<Uint8Array> {
  const wabt = await (await import('wabt')).default();
  const module = wabt.parseWat(name, source);
  try {
    module.validate();
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

if (import.meta.main) {
  for (const path of process.argv.slice(2)) {
    const binary = await compileWat(readFileSync(path, 'utf8'), path);
    writeFileSync(path.replace(/\.wat$/, '.wasm'), binary);
  }
}
