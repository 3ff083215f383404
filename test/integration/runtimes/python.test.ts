/**
 * The Python bootstrap, started directly (no sandbox) with the adapter's
 * launch: the invoke protocol, Lambda-style handlers and their failures.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PythonRuntime } from '../../../src/runtimes/index.ts';
import { testContext } from '../../support/invoke-client.ts';
import { start, startOnNonBlockingFifo, startReady } from './fixtures.ts';

const python = new PythonRuntime();

const ECHO = `
def handler(event, context):
    return event
`;

test('echo returns the input unchanged, also when it is large', async (t) => {
  const client = await startReady(t, python, 'main.handler', { 'main.py': ECHO });
  const input = { text: 'héllo ✓ 🎉', n: [1, 2.5, -3e-7], nested: { ok: true, none: null } };
  const reply = await client.invoke(input);
  assert.deepEqual(reply, { id: reply.id, ok: true, output: input });
  const large = 'x'.repeat(2_000_000);
  assert.equal((await client.invoke(large)).output, large);
});

test('one process serves many invocations and exits 0 when fd 3 closes', async (t) => {
  const client = await startReady(t, python, 'main.handler', { 'main.py': ECHO });
  for (let i = 0; i < 50; i++) {
    const reply = await client.invoke({ i });
    assert.deepEqual(reply.output, { i });
  }
  assert.deepEqual(await client.close(), { code: 0, signal: null });
});

test('module state is kept between invocations', async (t) => {
  const code = `
count = 0
def handler(event, context):
    global count
    count += 1
    return count
`;
  const client = await startReady(t, python, 'main.handler', { 'main.py': code });
  const outputs = [];
  for (let i = 0; i < 3; i++) outputs.push((await client.invoke(null)).output);
  assert.deepEqual(outputs, [1, 2, 3]);
});

test('a handler exception comes back with its class name, message and traceback', async (t) => {
  const code = `
class PaymentDeclined(Exception):
    pass

def handler(event, context):
    if event == "value":
        raise ValueError("amount must be positive")
    raise PaymentDeclined("card expired")
`;
  const client = await startReady(t, python, 'main.handler', { 'main.py': code });
  const value = await client.invoke('value');
  assert.equal(value.ok, false);
  assert.equal(value.error?.type, 'ValueError');
  assert.equal(value.error?.message, 'amount must be positive');
  assert.match(value.error?.stack ?? '', /main\.py", line 7, in handler/);
  assert.doesNotMatch(value.error?.stack ?? '', /relay_bootstrap/);
  const custom = await client.invoke('custom');
  assert.equal(custom.error?.type, 'PaymentDeclined');
  assert.equal(custom.error?.message, 'card expired');
  assert.equal(
    (await client.invoke('value')).error?.type,
    'ValueError',
    'still serving after errors',
  );
});

test('a result JSON cannot express fails with ResultNotSerializable', async (t) => {
  const code = `
class Thing:
    pass

def handler(event, context):
    return {"set": {1, 2}, "object": Thing(), "nan": float("nan")}[event]
`;
  const client = await startReady(t, python, 'main.handler', { 'main.py': code });
  for (const [input, message] of [
    ['set', /Object of type set is not JSON serializable/],
    ['object', /Object of type Thing is not JSON serializable/],
    ['nan', /not JSON/],
  ] as const) {
    const reply = await client.invoke(input);
    assert.equal(reply.ok, false);
    assert.equal(reply.error?.type, 'ResultNotSerializable', input);
    assert.match(reply.error?.message ?? '', message);
  }
});

test('a handler that returns nothing answers null', async (t) => {
  const client = await startReady(t, python, 'main.handler', {
    'main.py': 'def handler(e, c):\n    pass\n',
  });
  assert.deepEqual((await client.invoke(1)).output, null);
});

test('a missing module is ready:false ImportModuleError and the process exits 0', async (t) => {
  const client = start(t, python, 'main.handler', { 'other.py': ECHO });
  const ready = await client.ready;
  assert.equal(ready.ready, false);
  assert.equal(ready.error?.type, 'ImportModuleError');
  assert.match(ready.error?.message ?? '', /Unable to import module 'main': ModuleNotFoundError/);
  assert.deepEqual(await client.exited, { code: 0, signal: null });
});

test('a syntax error or an exception at import is ImportModuleError', async (t) => {
  const syntax = start(t, python, 'main.handler', {
    'main.py': 'def handler(event, context)\n    return 1\n',
  });
  const syntaxReady = await syntax.ready;
  assert.equal(syntaxReady.error?.type, 'ImportModuleError');
  assert.match(syntaxReady.error?.message ?? '', /SyntaxError/);
  const raising = start(t, python, 'main.handler', {
    'main.py': 'raise RuntimeError("no config")\n',
  });
  const raisingReady = await raising.ready;
  assert.equal(raisingReady.error?.type, 'ImportModuleError');
  assert.match(raisingReady.error?.message ?? '', /RuntimeError: no config/);
  assert.match(raisingReady.error?.stack ?? '', /main\.py", line 1/);
});

test('a missing handler attribute is ready:false HandlerNotFound', async (t) => {
  const client = start(t, python, 'main.handle', { 'main.py': ECHO });
  const ready = await client.ready;
  assert.deepEqual(ready, {
    ready: false,
    error: {
      type: 'HandlerNotFound',
      message: "Handler 'handle' missing on module 'main'",
      stack: '',
    },
  });
});

test('the context has the Lambda attributes and Relay fields', async (t) => {
  const code = `
import time

def handler(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(0.05)
    return {
        "aws_request_id": context.aws_request_id,
        "execution_id": context.execution_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "rufid": context.rufid,
        "branch": context.branch,
        "tenant_id": context.tenant_id,
        "remaining": [first, context.get_remaining_time_in_millis()],
    }
`;
  const client = await startReady(t, python, 'main.handler', { 'main.py': code });
  const context = testContext({
    branch: 'dev',
    version: 7,
    memoryLimitMb: 256,
    deadlineMs: Date.now() + 10_000,
  });
  const { output } = (await client.invoke(null, context)) as { output: Record<string, unknown> };
  const [first, second] = output.remaining as [number, number];
  assert.ok(first <= 10_000 && first > 9_000, `first remaining ${first}`);
  assert.ok(second <= first - 40, `remaining time decreases: ${first} → ${second}`);
  delete output.remaining;
  assert.deepEqual(output, {
    aws_request_id: context.executionId,
    execution_id: context.executionId,
    function_name: 'test-fn',
    function_version: '7',
    memory_limit_in_mb: '256',
    rufid: context.rufid,
    branch: 'dev',
    tenant_id: context.tenantId,
  });
});

test('print and stderr go to stdout and stderr, never into the replies', async (t) => {
  const code = `
import sys

print("loading")

def handler(event, context):
    print('{"id": "forged", "ok": true, "output": 1}')
    print("to stderr", file=sys.stderr)
    sys.stdout.write("no newline")
    return "done"
`;
  const client = await startReady(t, python, 'main.handler', { 'main.py': code });
  const reply = await client.invoke(null);
  assert.equal(reply.output, 'done');
  await client.close();
  assert.equal(client.stdout, 'loading\n{"id": "forged", "ok": true, "output": 1}\nno newline');
  assert.equal(client.stderr, 'to stderr\n');
  assert.deepEqual(
    client.replyLines.map((line) => Object.keys(JSON.parse(line) as object)),
    [['ready'], ['id', 'ok', 'output']],
  );
});

test('async def handlers run on one event loop kept across invocations', async (t) => {
  const code = `
import asyncio

async def handler(event, context):
    await asyncio.sleep(0.01)
    return {"event": event, "loop": id(asyncio.get_running_loop())}
`;
  const client = await startReady(t, python, 'main.handler', { 'main.py': code });
  const first = (await client.invoke('a')).output as { event: string; loop: number };
  const second = (await client.invoke('b')).output as { event: string; loop: number };
  assert.equal(first.event, 'a');
  assert.equal(second.event, 'b');
  assert.equal(first.loop, second.loop);
});

test('an async handler exception is reported like a sync one', async (t) => {
  const code = `
async def handler(event, context):
    raise KeyError("missing")
`;
  const client = await startReady(t, python, 'main.handler', { 'main.py': code });
  const reply = await client.invoke(null);
  assert.equal(reply.error?.type, 'KeyError');
  assert.match(reply.error?.stack ?? '', /main\.py", line 3, in handler/);
  assert.doesNotMatch(reply.error?.stack ?? '', /asyncio/);
});

test('dotted module paths, the deps dir and the task dir as cwd', async (t) => {
  const code = `
import helper

def handler(event, context):
    with open("data.txt") as f:
        return [helper.VALUE, f.read()]
`;
  const client = await startReady(
    t,
    python,
    'pkg.mod.handler',
    { 'pkg/__init__.py': '', 'pkg/mod.py': code, 'data.txt': 'from cwd' },
    { deps: { 'helper.py': 'VALUE = "from deps"\n' } },
  );
  assert.deepEqual((await client.invoke(null)).output, ['from deps', 'from cwd']);
});

test('processes the handler starts do not inherit the protocol pipes', async (t) => {
  const code = `
import subprocess, sys

def handler(event, context):
    probe = "import os\\nfor fd in (3, 4):\\n    try:\\n        os.fstat(fd); print('open')\\n    except OSError: print('closed')"
    return subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True).stdout.split()
`;
  const client = await startReady(t, python, 'main.handler', { 'main.py': code });
  assert.deepEqual((await client.invoke(null)).output, ['closed', 'closed']);
});

test('sys.exit in a handler is an error, and the process keeps serving', async (t) => {
  const code = `
import sys

def handler(event, context):
    if event == "exit":
        sys.exit(3)
    return "alive"
`;
  const client = await startReady(t, python, 'main.handler', { 'main.py': code });
  assert.equal((await client.invoke('exit')).error?.type, 'SystemExit');
  assert.equal((await client.invoke('ping')).output, 'alive');
});

test('a malformed request line is answered with InvalidRequest', async (t) => {
  const client = await startReady(t, python, 'main.handler', { 'main.py': ECHO });
  const reply = await client.sendRaw('{not json');
  assert.equal(reply.ok, false);
  assert.equal(reply.error?.type, 'InvalidRequest');
  assert.equal((await client.invoke('next')).output, 'next');
});

test('requests on a non-blocking fd 3 are still served', async (t) => {
  const bootstrap = startOnNonBlockingFifo(t, python, 'main.handler', { 'main.py': ECHO });
  assert.deepEqual(await bootstrap.next(), { ready: true });
  await bootstrap.send({ id: 'r1', input: 'via fifo', context: testContext() });
  assert.deepEqual(await bootstrap.next(), { id: 'r1', ok: true, output: 'via fifo' });
  assert.equal(await bootstrap.close(), 0);
});
