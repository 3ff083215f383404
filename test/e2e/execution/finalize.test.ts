/**
 * finalizeExecution on every path out of an execution (the seed's
 * test_execution_engine_adapter), driven through HTTP against the real
 * engine and bwrap sandboxes: success, handler error, timeout, memory,
 * a crashed sandbox, a lifecycle hook that throws, and a caller that hangs
 * up. After each, the concurrency slot is free and the pool holds the
 * sandbox warm (when it can serve again) or not at all.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionEngine } from '../../../src/engine/index.ts';
import type { SandboxManager } from '../../../src/sandbox/index.ts';
import type { HttpResult, TestServer } from '../../support/server.ts';
import { nodeProbe, pythonProbe } from './probes.ts';
import {
  MARK_VAR,
  deploy,
  execute,
  markedProcesses,
  newTenant,
  startExecutionServer,
  unique,
  waitForRecord,
  type Package,
} from './support.ts';

describe('finalizeExecution on every path out of an execution', () => {
  let ts: TestServer;
  let key: string;
  let engine: ExecutionEngine;
  let pool: SandboxManager;
  before(async () => {
    ts = await startExecutionServer();
    key = (await newTenant(ts)).key;
    engine = ts.plane!.engine!;
    pool = ts.plane!.sandboxes!;
  });
  after(async () => {
    await ts?.close();
  });

  /**
   * Runs one call and checks what it left: no slot held, nothing busy, and
   * `warm` more idle sandboxes than before (1: kept for reuse, 0: destroyed).
   */
  async function leaves(warm: 0 | 1, call: () => Promise<HttpResult>): Promise<HttpResult> {
    const before = pool.stats();
    assert.equal(before.busy, 0);
    const res = await call();
    assert.equal(engine.slots.used, 0, 'the concurrency slot is released');
    assert.deepEqual(pool.stats(), { warm: before.warm + warm, busy: 0 });
    return res;
  }

  async function probe(pkg: Package): Promise<string> {
    return deploy(ts, key, pkg);
  }

  test('success: the sandbox goes back to the pool and serves the next call warm', async () => {
    const rufid = await probe(pythonProbe());
    const res = await leaves(1, () => execute(ts, key, rufid, { case: 'count' }));
    assert.equal(res.status, 200);
    assert.deepEqual([res.body.status, res.body.usage.coldStart], ['succeeded', true]);
    const next = await leaves(0, () => execute(ts, key, rufid, { case: 'count' }));
    assert.deepEqual([next.body.output.count, next.body.usage.coldStart], [2, false]);
  });

  test('handler error: failed (502), and the sandbox stays reusable', async () => {
    const rufid = await probe(pythonProbe());
    const res = await leaves(1, () => execute(ts, key, rufid, { case: 'raise', why: 'test' }));
    assert.equal(res.status, 502);
    assert.equal(res.body.status, 'failed');
    assert.equal(res.body.error.type, 'BadInput');
    const next = await execute(ts, key, rufid, { case: 'count' });
    assert.deepEqual([next.body.status, next.body.usage.coldStart], ['succeeded', false]);
  });

  test('timeout: timed_out (504); the sandbox and its processes are destroyed', async () => {
    const mark = unique('mark');
    const rufid = await probe(
      pythonProbe({ limits: { timeoutSeconds: 1 }, env: { [MARK_VAR]: mark } }),
    );
    const res = await leaves(0, () => execute(ts, key, rufid, { case: 'sleep' }));
    assert.equal(res.status, 504);
    assert.equal(res.body.status, 'timed_out');
    assert.deepEqual(await markedProcesses(mark), []);
  });

  test('out of memory: memory_exceeded (502); the sandbox is destroyed', async () => {
    const rufid = await probe(pythonProbe({ limits: { timeoutSeconds: 5, memoryMb: 64 } }));
    const res = await leaves(0, () => execute(ts, key, rufid, { case: 'memory' }));
    assert.equal(res.status, 502);
    assert.equal(res.body.status, 'memory_exceeded');
    assert.equal(res.body.error.type, 'MemoryLimitExceeded');
  });

  for (const [runtime, pkg, how] of [
    ['python3.11', pythonProbe(), 'os._exit(1)'],
    ['node24', nodeProbe(), 'process.exit(1)'],
  ] as const) {
    test(`sandbox crash (${runtime}, ${how}): failed with SandboxCrashed; the sandbox is destroyed`, async () => {
      const rufid = await probe(pkg);
      const res = await leaves(0, () => execute(ts, key, rufid, { case: 'exit' }));
      assert.equal(res.status, 502);
      assert.equal(res.body.status, 'failed');
      assert.deepEqual(res.body.error, {
        type: 'SandboxCrashed',
        message: "the function's process exited with code 1",
      });
    });
  }

  test('a pre-execution hook that throws: failed with HookFailed, no sandbox was taken', async () => {
    const rufid = await probe(pythonProbe());
    engine.use({
      name: 'e2e-pre',
      pre(ctx) {
        if (ctx.job.rufid === rufid) throw new Error('refused by a test hook');
      },
    });
    const res = await leaves(0, () => execute(ts, key, rufid, { case: 'count' }));
    assert.equal(res.status, 502);
    assert.equal(res.body.status, 'failed');
    assert.deepEqual(res.body.error, {
      type: 'HookFailed',
      message: 'pre-execution hook e2e-pre failed: refused by a test hook',
    });
  });

  test('a post-execution hook that throws: failed with HookFailed, the used sandbox is kept', async () => {
    const rufid = await probe(pythonProbe());
    engine.use({
      name: 'e2e-post',
      post(ctx) {
        if (ctx.job.rufid === rufid) throw new Error('refused by a test hook');
      },
    });
    const res = await leaves(1, () => execute(ts, key, rufid, { case: 'count' }));
    assert.equal(res.status, 502);
    assert.deepEqual(res.body.error, {
      type: 'HookFailed',
      message: 'post-execution hook e2e-post failed: refused by a test hook',
    });
  });

  test('the caller hangs up mid-call: cancelled, and the sandbox is destroyed', async () => {
    const mark = unique('mark');
    const rufid = await probe(
      pythonProbe({ limits: { timeoutSeconds: 20 }, env: { [MARK_VAR]: mark } }),
    );
    const before = pool.stats();
    const caller = new AbortController();
    const call = fetch(`${ts.url}/api/v1/functions/${rufid}/execute`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ input: { case: 'sleep' } }),
      signal: caller.signal,
    });
    const hungUp = assert.rejects(call, { name: 'AbortError' });
    // Hang up once the handler is asleep inside its sandbox.
    for (let i = 0; i < 200 && (await markedProcesses(mark)).length < 2; i++) await sleep(25);
    const started = Date.now();
    caller.abort();
    await hungUp;
    const list = await ts.call('GET', `/api/v1/executions?rufid=${rufid}`, { key });
    assert.equal(list.body.executions.length, 1);
    const record = await waitForRecord(
      ts,
      key,
      list.body.executions[0].id,
      (r) => r.status !== 'running',
    );
    assert.ok(Date.now() - started < 5000, 'ended soon after the caller left, not at its timeout');
    assert.equal(record.status, 'cancelled');
    assert.deepEqual(record.error, { type: 'Cancelled', message: 'Execution was cancelled' });
    assert.deepEqual(await markedProcesses(mark), []);
    assert.equal(engine.slots.used, 0);
    assert.deepEqual(pool.stats(), { warm: before.warm, busy: 0 });
  });
});
