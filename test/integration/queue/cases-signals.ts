/** Conformance cases: backpressure, atomic batches, the completion signal and the idle-worker wake-up. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RelayError } from '../../../src/domain/index.ts';
import { freshQueue, newJob, sleep, type MakeQueue } from './fixtures.ts';

async function waiting(queue: { depth(): Promise<{ ready: number; delayed: number }> }) {
  const d = await queue.depth();
  return d.ready + d.delayed;
}

function isQueueFull(err: unknown): boolean {
  return err instanceof RelayError && err.code === 'QUEUE_FULL' && (err.retryAfterSeconds ?? 0) > 0;
}

export function signalCases(make: MakeQueue): void {
  test('beyond the per-tenant limit enqueue throws QUEUE_FULL with Retry-After and adds nothing', async (t) => {
    const { queue } = await freshQueue(t, make, { maxQueuedPerTenant: 3 });
    await queue.enqueueMany([newJob('t1'), newJob('t1')]);
    await assert.rejects(queue.enqueueMany([newJob('t1'), newJob('t1')]), isQueueFull);
    assert.equal(await waiting(queue), 2, 'nothing of the refused batch was added');
    await queue.enqueue(newJob('t1'));
    await assert.rejects(queue.enqueue(newJob('t1')), isQueueFull);
    await queue.enqueue(newJob('t2'));
    await assert.rejects(queue.enqueue(newJob('t3', { limits: { maxQueued: 0 } })), isQueueFull);
    // Only waiting jobs count: a claimed job makes room.
    await queue.claim('w1', 1, 30_000);
    await queue.enqueue(newJob('t1'));
    assert.equal(await waiting(queue), 4);
  });

  test('beyond the global limit enqueue throws QUEUE_FULL for every tenant and adds nothing', async (t) => {
    const { queue } = await freshQueue(t, make, { maxQueuedTotal: 4 });
    await queue.enqueueMany([newJob('a'), newJob('a')]);
    await queue.enqueueMany([newJob('b'), newJob('b')]);
    await assert.rejects(queue.enqueue(newJob('c')), isQueueFull);
    await assert.rejects(queue.enqueueMany([newJob('c'), newJob('a')]), isQueueFull);
    assert.equal(await waiting(queue), 4);
    const [job] = await queue.claim('w1', 1, 30_000);
    assert.ok(job);
    await queue.enqueue(newJob('c'));
  });

  test('enqueueMany is atomic: one conflicting job and none of the batch is added', async (t) => {
    const { queue } = await freshQueue(t, make);
    const existing = newJob('t1');
    await queue.enqueue(existing);
    const y = newJob('t1');
    const z = newJob('t2');
    await assert.rejects(queue.enqueueMany([y, existing, z]), { code: 'CONFLICT' });
    await assert.rejects(queue.enqueueMany([y, y]), { code: 'CONFLICT' });
    assert.equal(await waiting(queue), 1);
    const claimed = await queue.claim('w1', 10, 30_000);
    assert.deepEqual(
      claimed.map((j) => j.id),
      [existing.id],
    );
  });

  test('concurrent enqueues of one id: one wins, the others get CONFLICT, other calls are unaffected', async (t) => {
    const { queue } = await freshQueue(t, make);
    const id = newJob('t1').id;
    const results = await Promise.allSettled([
      queue.enqueue(newJob('t1', { id })),
      queue.enqueue(newJob('t1', { id })),
      queue.enqueueMany([newJob('t1'), newJob('t1', { id })]),
      queue.enqueue(newJob('t2')),
    ]);
    const codes = results.map((r) =>
      r.status === 'fulfilled' ? 'ok' : (r.reason as RelayError).code,
    );
    assert.equal(codes.filter((c) => c === 'ok').length, 2, codes.join(','));
    assert.equal(codes[3], 'ok');
    assert.equal(codes[2], 'CONFLICT', 'the batch holding the taken id adds nothing');
    assert.equal(await waiting(queue), 2);
  });

  test('waitForCompletion resolves with the result finished through another connection', async (t) => {
    const fixture = await freshQueue(t, make);
    const { queue } = fixture;
    const other = await fixture.open();
    const job = newJob('t1');
    await queue.enqueue(job);
    const started = Date.now();
    const elsewhere = other.waitForCompletion(job.id, 10_000);
    const here = queue.waitForCompletion(job.id, 10_000);
    await sleep(100);
    const [claimed] = await queue.claim('w1', 1, 30_000);
    assert.equal(claimed?.id, job.id);
    await queue.complete('w1', job.id, { status: 'timed_out', payload: { ms: 5 } });
    const [a, b] = await Promise.all([elsewhere, here]);
    assert.deepEqual([a?.status, a?.payload], ['timed_out', { ms: 5 }]);
    assert.deepEqual([b?.status, b?.payload], ['timed_out', { ms: 5 }]);
    assert.ok(Date.now() - started < 5000);
  });

  test('waitForCompletion returns null at its timeout when nothing finishes', async (t) => {
    const { queue } = await freshQueue(t, make);
    const job = newJob('t1');
    await queue.enqueue(job);
    const started = Date.now();
    assert.equal(await queue.waitForCompletion(job.id, 200), null);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 190 && elapsed < 2000, `elapsed ${elapsed}`);
  });

  test('waitForWork wakes an idle worker on enqueue, in this process and from another', async (t) => {
    const fixture = await freshQueue(t, make);
    const { queue } = fixture;
    const other = await fixture.open();
    let started = Date.now();
    const local = queue.waitForWork(undefined, 10_000);
    await sleep(50);
    await queue.enqueue(newJob('t1'));
    assert.equal(await local, true);
    assert.ok(Date.now() - started < 1000);

    await queue.claim('w1', 1, 30_000);
    started = Date.now();
    const remote = other.waitForWork(undefined, 10_000);
    await sleep(300);
    await queue.enqueue(newJob('t1'));
    assert.equal(await remote, true);
    assert.ok(Date.now() - started < 3000, `woke after ${Date.now() - started} ms`);
  });

  test('waitForWork returns false at its deadline and on abort', async (t) => {
    const { queue } = await freshQueue(t, make);
    const started = Date.now();
    assert.equal(await queue.waitForWork(undefined, 150), false);
    assert.ok(Date.now() - started >= 140);
    const abort = new AbortController();
    const waiting = queue.waitForWork(abort.signal, 10_000);
    setTimeout(() => abort.abort(), 50);
    const t0 = Date.now();
    assert.equal(await waiting, false);
    assert.ok(Date.now() - t0 < 1000);
  });
}
