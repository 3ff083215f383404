/**
 * The Node.js bootstrap, started directly (no sandbox) with the adapter's
 * launch: the invoke protocol, ES module and CommonJS handlers in every
 * Lambda style, and their failures.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NodeRuntime } from '../../../src/runtimes/index.ts';
import { testContext } from '../../support/invoke-client.ts';
import { start, startOnNonBlockingFifo, startReady, type Files } from './fixtures.ts';

const node = new NodeRuntime();

const ECHO = 'export async function handler(event) { return event; }\n';

test('echo returns the input unchanged, also when it is large', async (t) => {
  const client = await startReady(t, node, 'index.handler', { 'index.mjs': ECHO });
  const input = { text: 'héllo ✓ 🎉', n: [1, 2.5, -3e-7], nested: { ok: true, none: null } };
  const reply = await client.invoke(input);
  assert.deepEqual(reply, { id: reply.id, ok: true, output: input });
  const large = 'x'.repeat(2_000_000);
  assert.equal((await client.invoke(large)).output, large);
});

test('one process serves many invocations and exits 0 when fd 3 closes', async (t) => {
  const client = await startReady(t, node, 'index.handler', { 'index.mjs': ECHO });
  for (let i = 0; i < 50; i++) assert.deepEqual((await client.invoke({ i })).output, { i });
  assert.deepEqual(await client.close(), { code: 0, signal: null });
});

test('module state is kept between invocations', async (t) => {
  const code = 'let count = 0;\nexport const handler = async () => ++count;\n';
  const client = await startReady(t, node, 'index.handler', { 'index.mjs': code });
  const outputs = [];
  for (let i = 0; i < 3; i++) outputs.push((await client.invoke(null)).output);
  assert.deepEqual(outputs, [1, 2, 3]);
});

test('a thrown error comes back with its class name, message and stack', async (t) => {
  const code = `
class PaymentDeclined extends Error {}
export async function handler(event) {
  if (event === 'type') throw new TypeError('amount must be a number');
  throw new PaymentDeclined('card expired');
}
`;
  const client = await startReady(t, node, 'index.handler', { 'index.mjs': code });
  const typeError = await client.invoke('type');
  assert.equal(typeError.ok, false);
  assert.equal(typeError.error?.type, 'TypeError');
  assert.equal(typeError.error?.message, 'amount must be a number');
  assert.match(
    typeError.error?.stack ?? '',
    /^TypeError: amount must be a number\n\s+at handler \(.*index\.mjs:4:/,
  );
  assert.doesNotMatch(typeError.error?.stack ?? '', /bootstrap/);
  const custom = await client.invoke('custom');
  assert.equal(custom.error?.type, 'PaymentDeclined');
  assert.equal(custom.error?.message, 'card expired');
});

test('a result JSON cannot express fails with ResultNotSerializable', async (t) => {
  const code = `
export async function handler(event) {
  if (event === 'bigint') return { n: 10n };
  const circular = {};
  circular.self = circular;
  return circular;
}
`;
  const client = await startReady(t, node, 'index.handler', { 'index.mjs': code });
  const bigint = await client.invoke('bigint');
  assert.equal(bigint.error?.type, 'ResultNotSerializable');
  assert.match(bigint.error?.message ?? '', /BigInt/);
  const circular = await client.invoke('circular');
  assert.equal(circular.error?.type, 'ResultNotSerializable');
  assert.match(circular.error?.message ?? '', /circular/i);
});

test('a handler that returns undefined answers null', async (t) => {
  const client = await startReady(t, node, 'index.handler', {
    'index.mjs': 'export async function handler() {}\n',
  });
  const reply = await client.invoke(1);
  assert.deepEqual(reply, { id: reply.id, ok: true, output: null });
});

test('a missing module is ready:false ImportModuleError and the process exits 0', async (t) => {
  const client = start(t, node, 'index.handler', { 'other.mjs': ECHO });
  const ready = await client.ready;
  assert.equal(ready.error?.type, 'ImportModuleError');
  assert.match(
    ready.error?.message ?? '',
    /Cannot find module 'index'.*index\.mjs, index\.js, index\.cjs/,
  );
  assert.deepEqual(await client.exited, { code: 0, signal: null });
});

test('a syntax error or an exception at load is ImportModuleError', async (t) => {
  const syntax = start(t, node, 'index.handler', { 'index.mjs': 'export function handler( {\n' });
  const syntaxReady = await syntax.ready;
  assert.equal(syntaxReady.error?.type, 'ImportModuleError');
  assert.match(syntaxReady.error?.message ?? '', /SyntaxError/);
  const throwing = start(t, node, 'index.handler', {
    'index.js': 'throw new RangeError("no config");\n',
  });
  const throwingReady = await throwing.ready;
  assert.equal(throwingReady.error?.type, 'ImportModuleError');
  assert.match(throwingReady.error?.message ?? '', /RangeError: no config/);
});

test('a missing export is ready:false HandlerNotFound', async (t) => {
  const client = start(t, node, 'index.handle', { 'index.mjs': ECHO });
  const ready = await client.ready;
  assert.deepEqual(ready, {
    ready: false,
    error: {
      type: 'HandlerNotFound',
      message: 'index.handle is undefined or not exported',
      stack: '',
    },
  });
});

test('the context has the Lambda fields and Relay fields', async (t) => {
  const code = `
export async function handler(event, context) {
  const first = context.getRemainingTimeInMillis();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const { getRemainingTimeInMillis, done, succeed, fail, ...fields } = context;
  return { fields, remaining: [first, getRemainingTimeInMillis()] };
}
`;
  const client = await startReady(t, node, 'index.handler', { 'index.mjs': code });
  const context = testContext({
    branch: 'dev',
    version: 7,
    memoryLimitMb: 256,
    deadlineMs: Date.now() + 10_000,
  });
  const { output } = (await client.invoke(null, context)) as {
    output: { fields: Record<string, unknown>; remaining: [number, number] };
  };
  const [first, second] = output.remaining;
  assert.ok(first <= 10_000 && first > 9_000, `first remaining ${first}`);
  assert.ok(second <= first - 40, `remaining time decreases: ${first} → ${second}`);
  assert.deepEqual(
    {
      awsRequestId: output.fields.awsRequestId,
      executionId: output.fields.executionId,
      functionName: output.fields.functionName,
      functionVersion: output.fields.functionVersion,
      memoryLimitInMB: output.fields.memoryLimitInMB,
      rufid: output.fields.rufid,
      branch: output.fields.branch,
      tenantId: output.fields.tenantId,
    },
    {
      awsRequestId: context.executionId,
      executionId: context.executionId,
      functionName: 'test-fn',
      functionVersion: '7',
      memoryLimitInMB: '256',
      rufid: context.rufid,
      branch: 'dev',
      tenantId: context.tenantId,
    },
  );
});

test('console output goes to stdout and stderr, never into the replies', async (t) => {
  const code = `
console.log('loading');
export async function handler() {
  console.log('{"id": "forged", "ok": true, "output": 1}');
  console.error('to stderr');
  process.stdout.write('no newline');
  return 'done';
}
`;
  const client = await startReady(t, node, 'index.handler', { 'index.mjs': code });
  assert.equal((await client.invoke(null)).output, 'done');
  await client.close();
  assert.equal(client.stdout, 'loading\n{"id": "forged", "ok": true, "output": 1}\nno newline');
  assert.equal(client.stderr, 'to stderr\n');
  assert.deepEqual(
    client.replyLines.map((line) => Object.keys(JSON.parse(line) as object)),
    [['ready'], ['id', 'ok', 'output']],
  );
});

test('async handlers that await, and plain sync handlers', async (t) => {
  const code = `
export async function slow(event) {
  await new Promise((resolve) => setTimeout(resolve, 20));
  return { slow: event };
}
export function sync(event) { return { sync: event }; }
`;
  const slow = await startReady(t, node, 'index.slow', { 'index.mjs': code });
  assert.deepEqual((await slow.invoke(1)).output, { slow: 1 });
  const sync = await startReady(t, node, 'index.sync', { 'index.mjs': code });
  assert.deepEqual((await sync.invoke(2)).output, { sync: 2 });
});

test('CommonJS handlers: index.js without a type, index.cjs, and "type": "commonjs"', async (t) => {
  const cjs = `
const { join } = require('node:path');
exports.handler = async (event) => ({ cjs: event, joined: join('a', 'b') })
`;
  const variants: Files[] = [
    { 'index.js': cjs },
    { 'index.cjs': cjs },
    { 'index.js': cjs, 'package.json': '{"type": "commonjs"}' },
    // Exports built at run time are only reachable through the default export.
    {
      'index.js':
        cjs.replace('exports.handler =', 'module.exports = ((h) => ({ handler: h }))(') + ');\n',
    },
  ];
  for (const files of variants) {
    const client = await startReady(t, node, 'index.handler', files);
    assert.deepEqual(
      (await client.invoke(1)).output,
      { cjs: 1, joined: 'a/b' },
      Object.keys(files).join(),
    );
  }
});

test('an ES module index.js is honoured through package.json "type": "module"', async (t) => {
  const client = await startReady(t, node, 'index.handler', {
    'index.js':
      "import { join } from 'node:path';\nexport const handler = async () => join('x', 'y');\n",
    'package.json': '{"type": "module"}',
  });
  assert.equal((await client.invoke(null)).output, 'x/y');
});

test('callback-style handlers answer through the callback', async (t) => {
  const code = `
exports.ok = (event, context, callback) => { setTimeout(() => callback(null, { cb: event }), 10); };
exports.fail = (event, context, callback) => { callback(new SyntaxError('bad input')); };
exports.legacy = (event, context) => { context.succeed({ legacy: event }); };
`;
  const ok = await startReady(t, node, 'index.ok', { 'index.js': code });
  assert.deepEqual((await ok.invoke(1)).output, { cb: 1 });
  assert.deepEqual((await ok.invoke(2)).output, { cb: 2 });
  const fail = await startReady(t, node, 'index.fail', { 'index.js': code });
  const failed = await fail.invoke(null);
  assert.equal(failed.error?.type, 'SyntaxError');
  assert.equal(failed.error?.message, 'bad input');
  const legacy = await startReady(t, node, 'index.legacy', { 'index.js': code });
  assert.deepEqual((await legacy.invoke(3)).output, { legacy: 3 });
});

test('an uncaught exception fails the invocation in progress and ends the process', async (t) => {
  const code = `
export async function handler() {
  setTimeout(() => { throw new RangeError('from a timer'); }, 1);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  return 'unreachable';
}
`;
  const client = await startReady(t, node, 'index.handler', { 'index.mjs': code });
  const reply = await client.invoke(null);
  assert.equal(reply.error?.type, 'RangeError');
  assert.equal(reply.error?.message, 'from a timer');
  assert.deepEqual(await client.exited, { code: 1, signal: null });
});

test('packages in the deps dir resolve from import and require', async (t) => {
  const deps = {
    'node_modules/esm-dep/package.json':
      '{"name": "esm-dep", "type": "module", "exports": "./main.js"}',
    'node_modules/esm-dep/main.js': "export const name = 'esm-dep';\n",
    'node_modules/cjs-dep/package.json': '{"name": "cjs-dep", "main": "main.js"}',
    'node_modules/cjs-dep/main.js': "module.exports = { name: 'cjs-dep' };\n",
  };
  const esm = await startReady(
    t,
    node,
    'index.handler',
    {
      'index.mjs':
        "import { name } from 'esm-dep';\nimport cjs from 'cjs-dep';\nexport const handler = async () => [name, cjs.name];\n",
    },
    { deps },
  );
  assert.deepEqual((await esm.invoke(null)).output, ['esm-dep', 'cjs-dep']);
  const cjs = await startReady(
    t,
    node,
    'index.handler',
    { 'index.js': "exports.handler = async () => require('cjs-dep').name;\n" },
    { deps },
  );
  assert.equal((await cjs.invoke(null)).output, 'cjs-dep');
});

test('nested module paths and the task dir as cwd', async (t) => {
  const client = await startReady(t, node, 'src/app.handler', {
    'src/app.mjs':
      "import { readFileSync } from 'node:fs';\nexport const handler = async () => readFileSync('data.txt', 'utf8');\n",
    'data.txt': 'from cwd',
  });
  assert.equal((await client.invoke(null)).output, 'from cwd');
});

test('the handler sees only the runtime environment and the function env', async (t) => {
  const client = await startReady(
    t,
    node,
    'index.handler',
    { 'index.mjs': 'export const handler = async () => Object.keys(process.env).sort();\n' },
    { env: { API_URL: 'https://example.test' } },
  );
  assert.deepEqual((await client.invoke(null)).output, [
    'API_URL',
    'HOME',
    'LAMBDA_TASK_ROOT',
    'LANG',
    'PATH',
    'RELAY_HANDLER',
    'RELAY_TASK_DIR',
    'TMPDIR',
  ]);
});

test('requests on a non-blocking fd 3 are still served', async (t) => {
  const bootstrap = startOnNonBlockingFifo(t, node, 'index.handler', { 'index.mjs': ECHO });
  assert.deepEqual(await bootstrap.next(), { ready: true });
  await bootstrap.send({ id: 'r1', input: 'via fifo', context: testContext() });
  assert.deepEqual(await bootstrap.next(), { id: 'r1', ok: true, output: 'via fifo' });
  assert.equal(await bootstrap.close(), 0);
});
