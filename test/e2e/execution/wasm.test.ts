/**
 * The runtime suite for WASI modules, through HTTP with bubblewrap, plus
 * what stands in for the cases WASI preview 1 cannot express: it has no
 * way to create a process or open a socket, so a module asking for one is
 * refused at load; and every call gets a fresh instance, so no state
 * carries over between warm calls.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../support/server.ts';
import { runtimeSuite } from './suite.ts';
import { deploy, execute, newTenant, startExecutionServer } from './support.ts';
import { WAT, wasmPackage } from './wasm-modules.ts';

// WASI errno values (preview 1): the path escapes every preopened dir; no such file.
const ENOTCAPABLE = '76';
const ENOENT = '44';

runtimeSuite({
  runtime: 'wasm',
  example: 'wasm-echo',
  expectEcho(output, { input }) {
    assert.deepEqual(output, input);
  },
  async probe(c, manifest, params = {}) {
    const wat =
      c === 'read' ? WAT.read(params.paths ?? []) : WAT[c as Exclude<keyof typeof WAT, 'read'>];
    return { pkg: await wasmPackage(wat, manifest), input: null };
  },
  raised: { type: 'WasmTrap', message: 'unreachable' },
  // The Node process running the module; WASI cannot start another.
  sleepingProcesses: 1,
  bombMemoryMb: 128,
  // Relative to the preopened /tmp: three escapes, then a file inside it.
  expectWrite(output) {
    assert.deepEqual(output, [ENOTCAPABLE, ENOTCAPABLE, ENOTCAPABLE, '0']);
  },
  // Each host path as an escape from /tmp, then as an absolute path. An
  // escape that comes back into /tmp (`../tmp/...`) names the module's own
  // scratch dir, where the host's file is simply not there.
  read: (hostPaths) => ({
    paths: hostPaths.flatMap((p) => [`..${p}`, p]),
    expected: hostPaths.flatMap((p) => [p.startsWith('/tmp/') ? ENOENT : ENOTCAPABLE, ENOTCAPABLE]),
  }),
  floodStream: 'stderr',
  // The module prints its environment on stderr, one variable a line.
  envOf: (_record, lines) =>
    Object.fromEntries(
      lines.map((l: { line: string }) => {
        const eq = l.line.indexOf('=');
        return [l.line.slice(0, eq), l.line.slice(eq + 1)];
      }),
    ),
  runtimeEnv: [
    'PWD',
    'RELAY_EXECUTION_ID',
    'RELAY_TENANT_ID',
    'RELAY_RUFID',
    'RELAY_FUNCTION_NAME',
    'RELAY_FUNCTION_VERSION',
    'RELAY_BRANCH',
    'RELAY_MEMORY_LIMIT_MB',
    'RELAY_DEADLINE_MS',
  ],
  absent: {
    fork: 'WASI preview 1 cannot create processes; a module asking for one is refused (below)',
    connect: 'WASI preview 1 cannot open sockets; a module asking for one is refused (below)',
    count: 'every WASM call gets a fresh instance; that no state carries over is tested below',
  },
});

describe('wasm: what WASI cannot do', () => {
  let ts: TestServer;
  let key: string;
  before(async () => {
    ts = await startExecutionServer();
    key = (await newTenant(ts)).key;
  });
  after(async () => {
    await ts?.close();
  });

  test('a module importing a process-creating function is refused at load (ImportModuleError, 502)', async () => {
    const rufid = await deploy(ts, key, await wasmPackage(WAT.spawn));
    const res = await execute(ts, key, rufid, null);
    assert.equal(res.status, 502);
    assert.equal(res.body.status, 'failed');
    assert.deepEqual(res.body.error, {
      type: 'ImportModuleError',
      message: "'fn.wasm' imports env.fork, which is not part of WASI preview 1",
    });
  });

  test('a module importing a socket-opening function is refused at load (ImportModuleError, 502)', async () => {
    const rufid = await deploy(ts, key, await wasmPackage(WAT.socket, { network: true }));
    const res = await execute(ts, key, rufid, null);
    assert.equal(res.status, 502);
    assert.deepEqual(res.body.error, {
      type: 'ImportModuleError',
      message:
        "'fn.wasm' imports wasi_snapshot_preview1.sock_open, which is not part of WASI preview 1",
    });
  });

  test('a global counter stays at 1 across warm calls: each call gets a fresh instance', async () => {
    const rufid = await deploy(ts, key, await wasmPackage(WAT.counter));
    const calls = [];
    for (let i = 0; i < 3; i++) {
      const res = await execute(ts, key, rufid, null);
      assert.equal(res.status, 200, res.text);
      calls.push([res.body.output, res.body.usage.coldStart]);
    }
    assert.deepEqual(calls, [
      [1, true],
      [1, false],
      [1, false],
    ]);
  });
});
