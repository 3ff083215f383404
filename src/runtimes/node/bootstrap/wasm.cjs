// Relay's WebAssembly bootstrap: runs a WASI (preview 1) command module with
// node:wasi. The module is compiled once at start; every invocation gets a
// fresh instance (no state carries over), the input JSON on stdin, a private
// scratch dir preopened as /tmp, and the context in RELAY_* environment
// variables. Its stdout is the output JSON; its stderr is the bootstrap's
// stderr, so it lands in the function's logs.
'use strict';
const {
  closeSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} = require('node:fs');
const { join } = require('node:path');
const { WASI } = require('node:wasi');
const { describeError, errorLine, replyLine, send, serve } = require('./protocol.cjs');

const WASI_NAMESPACE = 'wasi_snapshot_preview1';

// Variables the adapter sets for the bootstrap itself (src/runtimes/common.ts,
// RUNTIME_ENV_KEYS); the module sees the function's env without them.
const RUNTIME_ENV_KEYS = new Set([
  'PATH',
  'HOME',
  'TMPDIR',
  'LANG',
  'LAMBDA_TASK_ROOT',
  'NODE_PATH',
  'RELAY_HANDLER',
  'RELAY_TASK_DIR',
  'RELAY_DEPS_DIR',
]);

class LoadError extends Error {
  constructor(type, message) {
    super(message);
    this.error = { type, message, stack: '' };
  }
}

async function main() {
  const env = process.env;
  const entrypoint = env.RELAY_HANDLER ?? '';
  let compiled;
  try {
    compiled = await loadModule(entrypoint, env.RELAY_TASK_DIR ?? '.');
  } catch (err) {
    send({ ready: false, error: err instanceof LoadError ? err.error : describeError(err) });
    process.exit(0);
  }
  const functionEnv = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => !RUNTIME_ENV_KEYS.has(key) && value !== undefined),
  );
  const workspace = openWorkspace(env.TMPDIR || '/tmp');
  send({ ready: true });
  await serve((request) => invoke({ compiled, entrypoint, functionEnv, workspace }, request));
  rmSync(workspace.dir, { recursive: true, force: true });
  process.exit(0);
}

/**
 * The bootstrap's private files, made once: the module's stdin and stdout
 * files and its scratch dir. Reusing them (rather than creating and removing
 * them per call) keeps an invocation's file work to a few syscalls, which
 * matters on a disk-backed tmp dir (~1 ms per create-and-truncate on ext4).
 */
function openWorkspace(tmpDir) {
  const dir = mkdtempSync(join(tmpDir, 'relay-wasm-'));
  const scratch = join(dir, 'scratch');
  mkdirSync(scratch);
  const stdinPath = join(dir, 'stdin.json');
  return {
    dir,
    scratch,
    stdinPath,
    stdinWriter: openSync(stdinPath, 'w'),
    stdoutPath: join(dir, 'stdout.json'),
  };
}

/** Empties the scratch dir so the next invocation starts with nothing. */
function clearScratch(workspace) {
  try {
    for (const name of readdirSync(workspace.scratch)) {
      rmSync(join(workspace.scratch, name), { recursive: true, force: true });
    }
  } catch (err) {
    // Whatever could not be removed stays behind, out of the next call's sight.
    process.stderr.write(`Relay: could not clear the scratch dir: ${err.message}\n`);
    workspace.scratch = mkdtempSync(join(workspace.dir, 'scratch-'));
  }
}

/** Compiles the module and checks it is a WASI command that needs nothing but WASI. */
async function loadModule(entrypoint, taskDir) {
  if (!entrypoint.endsWith('.wasm')) {
    throw new LoadError(
      'ImportModuleError',
      `Bad entrypoint '${entrypoint}': expected a .wasm file, e.g. 'echo.wasm'`,
    );
  }
  let bytes;
  try {
    bytes = readFileSync(join(taskDir, entrypoint));
  } catch (err) {
    throw new LoadError('ImportModuleError', `Cannot read module '${entrypoint}': ${err.message}`);
  }
  let compiled;
  try {
    compiled = await WebAssembly.compile(bytes);
  } catch (err) {
    throw new LoadError(
      'ImportModuleError',
      `'${entrypoint}' is not a valid WebAssembly module: ${err.message}`,
    );
  }
  const provided = new Set(
    Object.keys(new WASI({ version: 'preview1' }).getImportObject()[WASI_NAMESPACE]),
  );
  const missing = WebAssembly.Module.imports(compiled).find(
    (imp) => imp.module !== WASI_NAMESPACE || !provided.has(imp.name),
  );
  if (missing !== undefined) {
    throw new LoadError(
      'ImportModuleError',
      `'${entrypoint}' imports ${missing.module}.${missing.name}, which is not part of WASI preview 1`,
    );
  }
  const exported = WebAssembly.Module.exports(compiled);
  if (!exported.some((exp) => exp.name === '_start' && exp.kind === 'function')) {
    throw new LoadError(
      'HandlerNotFound',
      `'${entrypoint}' does not export _start (it must be a WASI command module)`,
    );
  }
  if (!exported.some((exp) => exp.name === 'memory' && exp.kind === 'memory')) {
    throw new LoadError(
      'ImportModuleError',
      `'${entrypoint}' does not export its memory, which WASI needs`,
    );
  }
  return compiled;
}

/** The invocation context as the module sees it: environment variables. */
function contextEnv(fields) {
  return {
    RELAY_EXECUTION_ID: String(fields.executionId ?? ''),
    RELAY_TENANT_ID: String(fields.tenantId ?? ''),
    RELAY_RUFID: String(fields.rufid ?? ''),
    RELAY_FUNCTION_NAME: String(fields.functionName ?? ''),
    RELAY_FUNCTION_VERSION: String(fields.version ?? ''),
    RELAY_BRANCH: String(fields.branch ?? ''),
    RELAY_MEMORY_LIMIT_MB: String(fields.memoryLimitMb ?? ''),
    RELAY_DEADLINE_MS: String(fields.deadlineMs ?? ''),
  };
}

async function invoke(state, request) {
  const { compiled, entrypoint, functionEnv, workspace } = state;
  const input = Buffer.from(JSON.stringify(request.input ?? null), 'utf8');
  writeSync(workspace.stdinWriter, input, 0, input.length, 0);
  ftruncateSync(workspace.stdinWriter, input.length);
  // Fresh descriptors: stdin reads from offset 0, stdout starts empty.
  const stdin = openSync(workspace.stdinPath, 'r');
  const stdout = openSync(workspace.stdoutPath, 'w');
  let exitCode;
  try {
    const wasi = new WASI({
      version: 'preview1',
      args: [entrypoint],
      env: { ...functionEnv, ...contextEnv(request.context ?? {}) },
      preopens: { '/tmp': workspace.scratch },
      stdin,
      stdout,
      stderr: 2,
      returnOnExit: true,
    });
    // A fresh instance per call (~0.4 ms for a small module): no state carries over.
    const instance = new WebAssembly.Instance(compiled, wasi.getImportObject());
    exitCode = wasi.start(instance);
  } catch (err) {
    const error = describeError(err);
    // A trap (unreachable, out-of-bounds access, stack overflow) is the module's own failure.
    if (err instanceof WebAssembly.RuntimeError) error.type = 'WasmTrap';
    return errorLine(request.id, error);
  } finally {
    closeSync(stdin);
    closeSync(stdout);
    clearScratch(workspace);
  }
  if (exitCode !== 0 && exitCode !== undefined) {
    return errorLine(request.id, {
      type: 'WasmExit',
      message: `The module exited with code ${exitCode}`,
      stack: '',
    });
  }
  return outputLine(request.id, readFileSync(workspace.stdoutPath, 'utf8'));
}

function outputLine(id, text) {
  // A module that prints nothing returns null, like a handler that returns nothing.
  if (text.trim() === '') return replyLine(id, null);
  try {
    return replyLine(id, JSON.parse(text));
  } catch (err) {
    return errorLine(id, {
      type: 'ResultNotSerializable',
      message: `The module's stdout is not valid JSON: ${err.message}`,
      stack: '',
    });
  }
}

void main();
