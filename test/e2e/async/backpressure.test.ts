/**
 * Backpressure over HTTP: beyond a tenant's (or the server's) limit of
 * waiting executions, execute answers 429 QUEUE_FULL with Retry-After and
 * nothing is queued: the refused call is recorded `rejected` (DESIGN: never
 * queued), never runs, and other tenants are not affected. Coming back with
 * the same Idempotency-Key once there is room queues that same execution.
 */
/* eslint-disable @typescript-eslint/no-unsafe-return -- response bodies are JSON the tests assert on by value */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestServer } from '../../support/server.ts';
import {
  HANDLERS,
  deployNode,
  execute,
  getExecution,
  newTenant,
  startPlaneServer,
  unique,
  waitForStatus,
} from './harness.ts';

/** Ids of the tenant's executions with `status`, newest first. */
async function idsWith(ts: TestServer, key: string, status: string): Promise<string[]> {
  const res = await ts.call('GET', `/api/v1/executions?status=${status}`, { key });
  return res.body.executions.map((e: { id: string }) => e.id);
}

describe('backpressure over HTTP', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startPlaneServer({ RELAY_QUEUE_MAX_PER_TENANT: '2' });
  });
  after(async () => {
    await ts.close();
  });

  /** A tenant running one long execution with two more waiting: its queue is full. */
  async function fullTenant() {
    const t = await newTenant(ts, { maxConcurrency: 1 });
    const fn = await deployNode(ts, t.key, HANDLERS.sleep);
    const running = await execute(ts, fn, { key: t.key, input: { ms: 1000 } });
    await waitForStatus(ts, t.key, running.body.id, 'running');
    const waiting = [];
    for (let i = 0; i < 2; i++) {
      const res = await execute(ts, fn, { key: t.key, input: { ms: 0 } });
      assert.equal(res.status, 202);
      waiting.push(res.body.id as string);
    }
    return { t, fn, running: running.body.id as string, waiting };
  }

  test('beyond the per-tenant limit execute answers 429 QUEUE_FULL with Retry-After; nothing is queued', async () => {
    const { t, fn, running, waiting } = await fullTenant();
    const refused = await execute(ts, fn, { key: t.key, input: { ms: 0 } });
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'QUEUE_FULL');
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    const sync = await execute(ts, fn, { key: t.key, async: false, input: { ms: 0 } });
    assert.equal(sync.status, 429);
    assert.equal(sync.body.error.code, 'QUEUE_FULL');

    assert.deepEqual(await idsWith(ts, t.key, 'queued'), [...waiting].reverse());
    const rejected = await idsWith(ts, t.key, 'rejected');
    assert.equal(rejected.length, 2);
    for (const id of rejected) {
      const r = await getExecution(ts, t.key, id);
      assert.equal(r.error.type, 'QueueFull');
    }
    // The waiting ones run; the refused ones never do.
    for (const id of [running, ...waiting]) await waitForStatus(ts, t.key, id, 'succeeded');
    for (const id of rejected) {
      const r = await getExecution(ts, t.key, id);
      assert.equal(r.status, 'rejected');
      assert.equal(r.startedAt, null);
      assert.deepEqual(r.attempts, []);
    }
  });

  test("a full tenant does not hold back another tenant's calls", async () => {
    const { t, fn } = await fullTenant();
    assert.equal((await execute(ts, fn, { key: t.key })).status, 429);
    const other = await newTenant(ts);
    const otherFn = await deployNode(ts, other.key, HANDLERS.echo);
    const res = await execute(ts, otherFn, { key: other.key });
    assert.equal(res.status, 202);
    await waitForStatus(ts, other.key, res.body.id, 'succeeded');
  });

  test('the same Idempotency-Key after a 429 queues that execution once there is room', async () => {
    const { t, fn, running, waiting } = await fullTenant();
    const headers = { 'idempotency-key': unique('later') };
    const refused = await execute(ts, fn, { key: t.key, input: { ms: 0, tag: 'k' }, headers });
    assert.equal(refused.status, 429);
    const [rejectedId] = await idsWith(ts, t.key, 'rejected');
    // Still full: refused again, and still one record.
    assert.equal(
      (await execute(ts, fn, { key: t.key, input: { ms: 0, tag: 'k' }, headers })).status,
      429,
    );
    assert.deepEqual(await idsWith(ts, t.key, 'rejected'), [rejectedId]);

    for (const id of [running, ...waiting]) await waitForStatus(ts, t.key, id, 'succeeded');
    const admitted = await execute(ts, fn, { key: t.key, input: { ms: 0, tag: 'k' }, headers });
    assert.equal(admitted.status, 202);
    assert.equal(admitted.body.id, rejectedId);
    assert.equal(admitted.headers.get('idempotent-replayed'), 'true');
    const done = await waitForStatus(ts, t.key, rejectedId!, 'succeeded');
    assert.equal(done.output.tag, 'k');
    assert.equal(done.error, null);
    assert.deepEqual(await idsWith(ts, t.key, 'rejected'), []);
  });

  test('beyond the global limit every tenant gets 429 QUEUE_FULL', async () => {
    const small = await startPlaneServer({ RELAY_QUEUE_MAX_TOTAL: '2' });
    try {
      const a = await newTenant(small, { maxConcurrency: 1 });
      const b = await newTenant(small, { maxConcurrency: 1 });
      const fnA = await deployNode(small, a.key, HANDLERS.sleep);
      const fnB = await deployNode(small, b.key, HANDLERS.sleep);
      const head = await execute(small, fnA, { key: a.key, input: { ms: 800 } });
      await waitForStatus(small, a.key, head.body.id, 'running');
      assert.equal((await execute(small, fnA, { key: a.key, input: { ms: 0 } })).status, 202);
      const headB = await execute(small, fnB, { key: b.key, input: { ms: 800 } });
      await waitForStatus(small, b.key, headB.body.id, 'running');
      assert.equal((await execute(small, fnB, { key: b.key, input: { ms: 0 } })).status, 202);
      const refused = await execute(small, fnB, { key: b.key, input: { ms: 0 } });
      assert.equal(refused.status, 429);
      assert.equal(refused.body.error.code, 'QUEUE_FULL');
      assert.equal((await idsWith(small, b.key, 'queued')).length, 1);
    } finally {
      await small.close();
    }
  });
});
