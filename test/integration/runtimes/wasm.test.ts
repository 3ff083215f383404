/**
 * The WASM bootstrap, started directly (no sandbox) with the adapter's
 * launch, running tiny WASI command modules built here from WAT text.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { WasmRuntime } from '../../../src/runtimes/index.ts';
import { startBootstrap, testContext } from '../../support/invoke-client.ts';
import { start, startReady, taskDirs, type Files } from './fixtures.ts';
import { compileWat } from './wat.ts';

const wasm = new WasmRuntime();
const ECHO_WAT = readFileSync(
  new URL('../../../examples/wasm-echo/echo.wat', import.meta.url),
  'utf8',
);

/** A WASI command module: `$print(fd, ptr, len)` is defined, memory 0..16 is scratch. */
function command(body: string, imports = ''): string {
  return String.raw`(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  ${imports}
  (memory (export "memory") 1)
  (func $print (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  ${body})`;
}

/** Prints a constant string on fd 1, then runs `after`. */
function printing(text: string, after = ''): string {
  const escaped = text.replaceAll('\\', '\\\\').replaceAll('"', '\\"');
  return command(String.raw`(data (i32.const 100) "${escaped}")
  (func (export "_start") (call $print (i32.const 1) (i32.const 100) (i32.const ${Buffer.byteLength(text)})) ${after})`);
}

async function module(wat: string): Promise<{ 'fn.wasm': Uint8Array }> {
  return { 'fn.wasm': await compileWat(wat) };
}

test('echo returns the input unchanged, also when it is large', async (t) => {
  const client = await startReady(t, wasm, 'fn.wasm', await module(ECHO_WAT));
  const input = { text: 'héllo ✓ 🎉', n: [1, 2.5, -3e-7], nested: { ok: true, none: null } };
  const reply = await client.invoke(input);
  assert.deepEqual(reply, { id: reply.id, ok: true, output: input });
  const large = 'x'.repeat(1_000_000);
  assert.equal((await client.invoke(large)).output, large);
});

test('one process serves many invocations and exits 0 when fd 3 closes', async (t) => {
  const client = await startReady(t, wasm, 'fn.wasm', await module(ECHO_WAT));
  for (let i = 0; i < 50; i++) assert.deepEqual((await client.invoke({ i })).output, { i });
  assert.deepEqual(await client.close(), { code: 0, signal: null });
});

test('every invocation gets a fresh instance', async (t) => {
  const counter = command(String.raw`(global $count (mut i32) (i32.const 0))
  (func (export "_start")
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (i32.store8 (i32.const 100) (i32.add (i32.const 48) (global.get $count)))
    (call $print (i32.const 1) (i32.const 100) (i32.const 1)))`);
  const client = await startReady(t, wasm, 'fn.wasm', await module(counter));
  const outputs = [];
  for (let i = 0; i < 3; i++) outputs.push((await client.invoke(null)).output);
  assert.deepEqual(outputs, [1, 1, 1]);
});

test("the module's stderr is the bootstrap's stderr and never reaches the replies", async (t) => {
  const client = await startReady(t, wasm, 'fn.wasm', await module(ECHO_WAT));
  await client.invoke('a');
  await client.invoke('b');
  await client.close();
  assert.equal(client.stderr, 'echo: copying stdin to stdout\n'.repeat(2));
  assert.equal(client.stdout, '');
  assert.deepEqual(
    client.replyLines.map((line) => Object.keys(JSON.parse(line) as object)),
    [['ready'], ['id', 'ok', 'output'], ['id', 'ok', 'output']],
  );
});

test('a non-zero exit code is WasmExit, and the process keeps serving', async (t) => {
  const client = await startReady(
    t,
    wasm,
    'fn.wasm',
    await module(printing('{}', '(call $proc_exit (i32.const 3))')),
  );
  const reply = await client.invoke(null);
  assert.equal(reply.ok, false);
  assert.equal(reply.error?.type, 'WasmExit');
  assert.match(reply.error?.message ?? '', /exited with code 3/);
  assert.equal((await client.invoke(null)).error?.type, 'WasmExit');
});

test('proc_exit(0) ends the module normally with its output', async (t) => {
  const client = await startReady(
    t,
    wasm,
    'fn.wasm',
    await module(printing('{"done":true}', '(call $proc_exit (i32.const 0)) (unreachable)')),
  );
  assert.deepEqual((await client.invoke(null)).output, { done: true });
});

test('a trap is WasmTrap', async (t) => {
  const client = await startReady(
    t,
    wasm,
    'fn.wasm',
    await module(command('(func (export "_start") (unreachable))')),
  );
  const reply = await client.invoke(null);
  assert.equal(reply.error?.type, 'WasmTrap');
  assert.match(reply.error?.message ?? '', /unreachable/);
});

test('stdout that is not JSON is ResultNotSerializable; empty stdout is null', async (t) => {
  const bad = await startReady(t, wasm, 'fn.wasm', await module(printing('not json')));
  const reply = await bad.invoke(null);
  assert.equal(reply.error?.type, 'ResultNotSerializable');
  assert.match(reply.error?.message ?? '', /stdout is not valid JSON/);
  const empty = await startReady(
    t,
    wasm,
    'fn.wasm',
    await module(command('(func (export "_start"))')),
  );
  const emptyReply = await empty.invoke(1);
  assert.deepEqual(emptyReply, { id: emptyReply.id, ok: true, output: null });
});

test('the context and the function env arrive as environment variables, and nothing else', async (t) => {
  const dumpEnv = command(
    String.raw`(func (export "_start")
    (local $i i32) (local $size i32)
    (drop (call $environ_sizes_get (i32.const 16) (i32.const 20)))
    (local.set $size (i32.load (i32.const 20)))
    (drop (call $environ_get (i32.const 1024) (i32.const 4096)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $size)))
        (if (i32.eqz (i32.load8_u (i32.add (i32.const 4096) (local.get $i))))
          (then (i32.store8 (i32.add (i32.const 4096) (local.get $i)) (i32.const 10))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $print (i32.const 2) (i32.const 4096) (local.get $size)))`,
    String.raw`(import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))`,
  );
  const client = await startReady(t, wasm, 'fn.wasm', await module(dumpEnv), {
    env: { API_URL: 'https://example.test' },
  });
  const context = testContext({ deadlineMs: 1_900_000_000_000, branch: 'dev' });
  await client.invoke(null, context);
  await client.close();
  assert.deepEqual(client.stderr.trim().split('\n').sort(), [
    'API_URL=https://example.test',
    'RELAY_BRANCH=dev',
    'RELAY_DEADLINE_MS=1900000000000',
    `RELAY_EXECUTION_ID=${context.executionId}`,
    'RELAY_FUNCTION_NAME=test-fn',
    'RELAY_FUNCTION_VERSION=3',
    'RELAY_MEMORY_LIMIT_MB=128',
    `RELAY_RUFID=${context.rufid}`,
    `RELAY_TENANT_ID=${context.tenantId}`,
  ]);
});

test('the only preopened dir is /tmp, a private dir removed when the process exits', async (t) => {
  const preopens = command(
    String.raw`(func (export "_start")
    (local $len i32)
    (if (call $fd_prestat_get (i32.const 3) (i32.const 16)) (then (call $proc_exit (i32.const 7))))
    (local.set $len (i32.load (i32.const 20)))
    (i32.store8 (i32.const 100) (i32.const 34))
    (drop (call $fd_prestat_dir_name (i32.const 3) (i32.const 101) (local.get $len)))
    (i32.store8 (i32.add (i32.const 101) (local.get $len)) (i32.const 34))
    (if (i32.eqz (call $fd_prestat_get (i32.const 4) (i32.const 16))) (then (call $proc_exit (i32.const 9))))
    (call $print (i32.const 1) (i32.const 100) (i32.add (local.get $len) (i32.const 2))))`,
    String.raw`(import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $fd_prestat_dir_name (param i32 i32 i32) (result i32)))`,
  );
  const dirs = taskDirs(t, await module(preopens));
  const client = startBootstrap(wasm, 'fn.wasm', dirs);
  t.after(() => client.kill());
  assert.equal((await client.ready).ready, true);
  assert.equal((await client.invoke(null)).output, '/tmp');
  assert.equal(readdirSync(dirs.tmpDir).length, 1);
  await client.close();
  assert.deepEqual(readdirSync(dirs.tmpDir), [], 'the private dir is removed at exit');
});

test('files the module writes in /tmp are gone by the next invocation', async (t) => {
  // Creates /tmp/marker exclusively: "created", or "exists" if it survived a previous call.
  const marker = command(
    String.raw`(data (i32.const 200) "marker")
  (data (i32.const 300) "\"created\"")
  (data (i32.const 400) "\"exists\"")
  (func (export "_start")
    (local $err i32)
    (local.set $err (call $path_open (i32.const 3) (i32.const 0) (i32.const 200) (i32.const 6)
      (i32.const 5) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 500)))
    (if (i32.eqz (local.get $err))
      (then (call $print (i32.const 1) (i32.const 300) (i32.const 9)) (return)))
    (if (i32.eq (local.get $err) (i32.const 20))
      (then (call $print (i32.const 1) (i32.const 400) (i32.const 8)) (return)))
    (call $proc_exit (i32.const 100)))`,
    String.raw`(import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))`,
  );
  const client = await startReady(t, wasm, 'fn.wasm', await module(marker));
  assert.deepEqual(
    [(await client.invoke(null)).output, (await client.invoke(null)).output],
    ['created', 'created'],
  );
});

test('load failures: missing file, not WebAssembly, no _start, foreign imports', async (t) => {
  const cases: { files: Files; type: string; message: RegExp }[] = [
    { files: {}, type: 'ImportModuleError', message: /Cannot read module 'fn\.wasm'/ },
    {
      files: { 'fn.wasm': 'not wasm' },
      type: 'ImportModuleError',
      message: /not a valid WebAssembly module/,
    },
    {
      files: await module('(module (memory (export "memory") 1) (func (export "main")))'),
      type: 'HandlerNotFound',
      message: /does not export _start/,
    },
    {
      files: await module(
        command('(func (export "_start") (call $host))', '(import "env" "host" (func $host))'),
      ),
      type: 'ImportModuleError',
      message: /imports env\.host, which is not part of WASI preview 1/,
    },
  ];
  for (const { files, type, message } of cases) {
    const client = start(t, wasm, 'fn.wasm', files);
    const ready = await client.ready;
    assert.equal(ready.ready, false);
    assert.equal(ready.error?.type, type);
    assert.match(ready.error?.message ?? '', message);
    assert.deepEqual(await client.exited, { code: 0, signal: null });
  }
});

test('examples/wasm-echo/echo.wasm is echo.wat compiled', async () => {
  const committed = readFileSync(new URL('../../../examples/wasm-echo/echo.wasm', import.meta.url));
  assert.deepEqual(
    Buffer.from(await compileWat(ECHO_WAT)),
    committed,
    'rebuild: node test/integration/runtimes/wat.ts examples/wasm-echo/echo.wat',
  );
});
