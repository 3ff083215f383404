/** Conformance cases: the basic life of a job, claim order within a tenant, depth and re-drive. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freshQueue, drain, newJob, sleep, type MakeQueue } from './fixtures.ts';

export function basicCases(make: MakeQueue): void {
  test('a claimed job carries what was enqueued and completes exactly once', async (t) => {
    const { queue } = await freshQueue(t, make);
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const job = newJob('t1', {
      priority: 7,
      maxAttempts: 4,
      payload: { input: [1, 'a'] },
      traceparent,
    });
    const enqueued = await queue.enqueue(job);
    assert.equal(enqueued.attempt, 1);
    assert.equal(enqueued.group, 't1');

    const before = Date.now();
    const claimed = await queue.claim('w1', 5, 10_000);
    assert.equal(claimed.length, 1);
    const c = claimed[0]!;
    assert.equal(c.id, job.id);
    assert.equal(c.tenantId, 't1');
    assert.equal(c.group, 't1');
    assert.equal(c.priority, 7);
    assert.equal(c.attempt, 1);
    assert.equal(c.maxAttempts, 4);
    assert.deepEqual(c.payload, { input: [1, 'a'] });
    assert.equal(c.traceparent, traceparent);
    assert.equal(c.enqueuedAt, enqueued.enqueuedAt);
    assert.ok(c.leaseUntil >= before + 10_000 && c.leaseUntil <= Date.now() + 10_000);
    assert.deepEqual(
      await queue.claim('w2', 5, 10_000),
      [],
      'a leased job is not handed out twice',
    );

    assert.equal(
      await queue.complete('w1', c.id, { status: 'succeeded', payload: { ok: 1 } }),
      true,
    );
    assert.equal(
      await queue.complete('w1', c.id, { status: 'succeeded' }),
      false,
      'completed at most once',
    );
    const done = await queue.waitForCompletion(c.id, 1000);
    assert.equal(done?.status, 'succeeded');
    assert.deepEqual(done?.payload, { ok: 1 });
    assert.deepEqual(await queue.claim('w1', 5, 10_000), []);
  });

  test('jobs enqueued concurrently keep the enqueue time each call reported', async (t) => {
    const { queue } = await freshQueue(t, make);
    const pending = [];
    for (let i = 0; i < 5; i++) {
      pending.push(queue.enqueue(newJob('t1')));
      await sleep(3);
    }
    const enqueued = new Map((await Promise.all(pending)).map((j) => [j.id, j.enqueuedAt]));
    const claimed = await queue.claim('w1', 10, 10_000);
    assert.equal(claimed.length, 5);
    for (const j of claimed) assert.equal(j.enqueuedAt, enqueued.get(j.id));
  });

  test('within a tenant the most urgent priority is claimed first (9 before 5 before 0)', async (t) => {
    const { queue } = await freshQueue(t, make);
    const low = newJob('t1', { priority: 0 });
    const high = newJob('t1', { priority: 9 });
    const mid = newJob('t1', { priority: 5 });
    await queue.enqueue(low);
    await queue.enqueue(high);
    await queue.enqueue(mid);
    const order = (await drain(queue)).map((j) => j.id);
    assert.deepEqual(order, [high.id, mid.id, low.id]);
  });

  test('jobs of equal priority come out in enqueue order', async (t) => {
    const { queue } = await freshQueue(t, make);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const j = newJob('t1', { priority: 3 });
      ids.push(j.id);
      await queue.enqueue(j);
    }
    const batch = newJob('t1', { priority: 3 });
    const batch2 = newJob('t1', { priority: 3 });
    await queue.enqueueMany([batch, batch2]);
    ids.push(batch.id, batch2.id);
    const claimed = await queue.claim('w1', 3, 10_000);
    assert.deepEqual(
      claimed.map((j) => j.id),
      ids.slice(0, 3),
      'a batch claim keeps the order too',
    );
    assert.deepEqual(
      (await drain(queue)).map((j) => j.id),
      ids.slice(3),
    );
  });

  test('invalid jobs and claim arguments are rejected with VALIDATION_FAILED', async (t) => {
    const { queue } = await freshQueue(t, make);
    await assert.rejects(queue.enqueue(newJob('t1', { priority: 10 })), {
      code: 'VALIDATION_FAILED',
    });
    await assert.rejects(queue.enqueue(newJob('t1', { priority: 1.5 })), {
      code: 'VALIDATION_FAILED',
    });
    await assert.rejects(queue.enqueue(newJob('t1', { maxAttempts: 0 })), {
      code: 'VALIDATION_FAILED',
    });
    await assert.rejects(queue.enqueue(newJob('')), { code: 'VALIDATION_FAILED' });
    await assert.rejects(queue.claim('w1', 1, 0), { code: 'VALIDATION_FAILED' });
    assert.equal((await queue.depth()).ready, 0);
  });

  test('a job scheduled with runAfter is not claimable before that time', async (t) => {
    const { queue } = await freshQueue(t, make);
    const later = newJob('t1', { runAfter: Date.now() + 400 });
    await queue.enqueue(later);
    assert.deepEqual(await queue.claim('w1', 1, 10_000), []);
    assert.equal((await queue.depth()).delayed, 1);
    await sleep(500);
    const [job] = await queue.claim('w1', 1, 10_000);
    assert.equal(job?.id, later.id);
  });

  test('depth counts waiting and running jobs per tenant with the age of the oldest', async (t) => {
    const { queue } = await freshQueue(t, make);
    await queue.enqueueMany([newJob('a'), newJob('a'), newJob('a')]);
    await queue.enqueue(newJob('b', { runAfter: Date.now() + 60_000 }));
    await sleep(30);
    await queue.claim('w1', 1, 10_000);
    const depth = await queue.depth();
    assert.equal(depth.ready, 2);
    assert.equal(depth.delayed, 1);
    assert.equal(depth.running, 1);
    const byTenant = new Map(depth.tenants.map((d) => [d.tenantId, d]));
    assert.equal(byTenant.get('a')?.queued, 2);
    assert.ok((byTenant.get('a')?.oldestReadyAgeMs ?? -1) >= 25);
    assert.equal(byTenant.get('b')?.queued, 1);
    assert.equal(byTenant.get('b')?.oldestReadyAgeMs, null, 'a scheduled job is not ready');
  });

  test('a finished job can be enqueued again, an unfinished one cannot', async (t) => {
    const { queue } = await freshQueue(t, make);
    const job = newJob('t1');
    await queue.enqueue(job);
    await assert.rejects(queue.enqueue(job), { code: 'CONFLICT' });
    const [c] = await queue.claim('w1', 1, 10_000);
    await assert.rejects(queue.enqueue(job), { code: 'CONFLICT' }, 'running is unfinished too');
    await queue.complete('w1', c!.id, { status: 'failed' });
    assert.equal((await queue.waitForCompletion(job.id, 100))?.status, 'failed');

    await queue.enqueue({ ...job, payload: { again: true } });
    assert.equal(await queue.waitForCompletion(job.id, 50), null, 'the old completion is gone');
    const [again] = await queue.claim('w1', 1, 10_000);
    assert.equal(again?.id, job.id);
    assert.equal(again?.attempt, 1);
    assert.deepEqual(again?.payload, { again: true });
  });

  test('a completion stays readable for its retention, then the reaper purges it', async (t) => {
    const { queue } = await freshQueue(t, make, { completionRetentionMs: 1000 });
    const job = newJob('t1');
    await queue.enqueue(job);
    await queue.claim('w1', 1, 10_000);
    await queue.complete('w1', job.id, { status: 'succeeded' });
    assert.equal((await queue.reapExpired()).purged, 0);
    assert.equal((await queue.waitForCompletion(job.id, 50))?.status, 'succeeded');
    await sleep(1200);
    assert.equal((await queue.reapExpired()).purged, 1);
    assert.equal(await queue.waitForCompletion(job.id, 50), null);
  });
}
