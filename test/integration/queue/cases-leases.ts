/** Conformance cases: lease expiry and re-delivery, late answers, heartbeats, retries, dead jobs, cancels. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freshQueue, newJob, sleep, type MakeQueue } from './fixtures.ts';

export function leaseCases(make: MakeQueue): void {
  test('an expired lease is delivered again with attempt + 1', async (t) => {
    const { queue } = await freshQueue(t, make);
    const job = newJob('t1', { maxAttempts: 3 });
    await queue.enqueue(job);
    await queue.claim('crashed', 1, 150);
    await sleep(300);
    assert.deepEqual(await queue.reapExpired(), { requeued: 1, dead: 0, purged: 0 });
    const [again] = await queue.claim('w2', 1, 30_000);
    assert.equal(again?.id, job.id);
    assert.equal(again?.attempt, 2);
  });

  test('a late completion from a worker whose lease expired is refused', async (t) => {
    const { queue } = await freshQueue(t, make);
    const job = newJob('t1');
    await queue.enqueue(job);
    await queue.claim('slow', 1, 150);
    await sleep(300);
    assert.equal(
      await queue.complete('slow', job.id, { status: 'succeeded' }),
      false,
      'expired, not yet reaped',
    );
    await queue.reapExpired();
    const [again] = await queue.claim('fast', 1, 30_000);
    assert.equal(again?.id, job.id);
    assert.equal(
      await queue.complete('slow', job.id, { status: 'succeeded', payload: 'late' }),
      false,
    );
    assert.deepEqual((await queue.heartbeat('slow', [job.id], 30_000)).lost, [job.id]);
    assert.equal(
      await queue.complete('fast', job.id, { status: 'succeeded', payload: 'fast' }),
      true,
    );
    assert.equal((await queue.waitForCompletion(job.id, 1000))?.payload, 'fast');
  });

  test('a heartbeat extends the lease and reports leases it does not hold', async (t) => {
    const { queue } = await freshQueue(t, make);
    const job = newJob('t1');
    await queue.enqueue(job);
    await queue.claim('w1', 1, 400);
    await sleep(150);
    const report = await queue.heartbeat('w1', [job.id, 'ex_unknown'], 2000);
    assert.deepEqual(report, { extended: [job.id], lost: ['ex_unknown'], cancelled: [] });
    assert.deepEqual(
      (await queue.heartbeat('w2', [job.id], 2000)).lost,
      [job.id],
      'only the holder',
    );
    await sleep(400);
    assert.equal((await queue.reapExpired()).requeued, 0);
    assert.deepEqual(await queue.claim('w2', 1, 30_000), []);
    assert.equal(await queue.complete('w1', job.id, { status: 'succeeded' }), true);
  });

  test('a failure with retryAt is not claimable before then and returns with attempt + 1', async (t) => {
    const { queue } = await freshQueue(t, make);
    const job = newJob('t1', { maxAttempts: 3 });
    await queue.enqueue(job);
    await queue.claim('w1', 1, 30_000);
    assert.equal(await queue.fail('w1', job.id, { retryAt: Date.now() + 400 }), true);
    assert.deepEqual(await queue.claim('w1', 1, 30_000), []);
    const depth = await queue.depth();
    assert.equal(depth.delayed, 1);
    assert.equal(depth.running, 0);
    await sleep(500);
    const [again] = await queue.claim('w1', 1, 30_000);
    assert.equal(again?.id, job.id);
    assert.equal(again?.attempt, 2);
  });

  test('a job is dead once its attempts are used up, by failures or by lost leases', async (t) => {
    const { queue } = await freshQueue(t, make);
    const failing = newJob('t1', { maxAttempts: 2 });
    await queue.enqueue(failing);
    for (let attempt = 1; attempt <= 2; attempt++) {
      const [j] = await queue.claim('w1', 1, 30_000);
      assert.equal(j?.attempt, attempt);
      assert.equal(await queue.fail('w1', failing.id, { retryAt: Date.now() }), true);
    }
    assert.deepEqual(await queue.claim('w1', 1, 30_000), []);
    assert.equal((await queue.waitForCompletion(failing.id, 1000))?.status, 'dead');

    const crashing = newJob('t1', { maxAttempts: 1 });
    await queue.enqueue(crashing);
    await queue.claim('crashed', 1, 150);
    await sleep(300);
    assert.deepEqual(await queue.reapExpired(), { requeued: 0, dead: 1, purged: 0 });
    assert.equal((await queue.waitForCompletion(crashing.id, 1000))?.status, 'dead');
    assert.deepEqual(await queue.claim('w1', 1, 30_000), []);
  });

  test('fail with dead gives up at once, and only the lease holder may fail a job', async (t) => {
    const { queue } = await freshQueue(t, make);
    const job = newJob('t1', { maxAttempts: 5 });
    await queue.enqueue(job);
    await queue.claim('w1', 1, 30_000);
    assert.equal(await queue.fail('w2', job.id, { dead: true }), false);
    assert.equal(
      await queue.fail('w1', job.id, { dead: true, payload: { error: 'bad input' } }),
      true,
    );
    const done = await queue.waitForCompletion(job.id, 1000);
    assert.equal(done?.status, 'dead');
    assert.deepEqual(done?.payload, { error: 'bad input' });
    assert.deepEqual(await queue.claim('w1', 1, 30_000), []);
  });

  test('cancelling a waiting job removes it and signals its completion', async (t) => {
    const { queue } = await freshQueue(t, make);
    const job = newJob('t1');
    const later = newJob('t1', { runAfter: Date.now() + 60_000 });
    await queue.enqueueMany([job, later]);
    assert.equal(await queue.cancel(job.id), 'cancelled');
    assert.equal(await queue.cancel(later.id), 'cancelled');
    assert.equal(await queue.cancel(job.id), 'unknown');
    assert.equal(await queue.cancel('ex_missing'), 'unknown');
    assert.deepEqual(await queue.claim('w1', 1, 30_000), []);
    assert.equal((await queue.waitForCompletion(job.id, 1000))?.status, 'cancelled');
    const depth = await queue.depth();
    assert.equal(depth.ready + depth.delayed, 0);
    assert.equal(
      depth.tenants.reduce((sum, d) => sum + d.queued, 0),
      0,
    );
  });

  test('cancelling a running job tells its holder through onCancel and the next heartbeat', async (t) => {
    const fixture = await freshQueue(t, make);
    const { queue } = fixture;
    const other = await fixture.open();
    const job = newJob('t1');
    await queue.enqueue(job);
    await queue.claim('w1', 1, 30_000);
    const heardHere: string[] = [];
    const heardThere: string[] = [];
    const offHere = queue.onCancel((id) => heardHere.push(id));
    const offThere = other.onCancel((id) => heardThere.push(id));
    t.after(() => {
      offHere();
      offThere();
    });
    await sleep(100); // let cross-process subscriptions settle
    assert.equal(await queue.cancel(job.id), 'signalled');
    const report = await queue.heartbeat('w1', [job.id], 30_000);
    assert.deepEqual(report, { extended: [job.id], lost: [], cancelled: [job.id] });
    assert.deepEqual(heardHere, [job.id]);
    if (queue.capabilities.crossProcessCancel) {
      for (let i = 0; i < 40 && heardThere.length === 0; i++) await sleep(50);
      assert.deepEqual(heardThere, [job.id], 'another process hears the cancel');
    }
    assert.equal(await queue.complete('w1', job.id, { status: 'cancelled' }), true);
    assert.equal((await other.waitForCompletion(job.id, 2000))?.status, 'cancelled');
  });
}
