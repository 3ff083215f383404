/** Conformance cases: round-robin across tenants, no burst credit, per-group concurrency limits. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backlog, drain, freshQueue, newJob, sleep, type MakeQueue } from './fixtures.ts';

export function fairnessCases(make: MakeQueue): void {
  test("a tenant with a backlog of 2,000 delays another tenant's first job by at most a few claims", async (t) => {
    const { queue } = await freshQueue(t, make);
    await backlog(queue, 'big', 2000);
    const small = newJob('small');
    await queue.enqueue(small);
    const first = [];
    for (let i = 0; i < 3; i++) first.push(...(await queue.claim('w1', 1, 30_000)));
    assert.ok(
      first.some((j) => j.id === small.id),
      `small tenant's job not among the first 3 claims: ${first.map((j) => j.tenantId).join(',')}`,
    );
  });

  test('a batch claim takes turns across tenants instead of draining one', async (t) => {
    const { queue } = await freshQueue(t, make);
    for (const tenant of ['a', 'b', 'c']) await backlog(queue, tenant, 10);
    const claimed = await queue.claim('w1', 6, 30_000);
    const counts = new Map<string, number>();
    for (const j of claimed) counts.set(j.tenantId, (counts.get(j.tenantId) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(counts), { a: 2, b: 2, c: 2 });
  });

  test("priority orders a tenant's own jobs but does not let it skip the rotation", async (t) => {
    const { queue } = await freshQueue(t, make);
    await backlog(queue, 'urgent', 6, { priority: 9 });
    await backlog(queue, 'calm', 6, { priority: 0 });
    const tenants = (await drain(queue)).map((j) => j.tenantId);
    const firstSix = tenants.slice(0, 6);
    assert.equal(firstSix.filter((x) => x === 'calm').length, 3, firstSix.join(','));
  });

  test('a tenant returning from idle gets one turn per rotation, not a burst', async (t) => {
    const { queue } = await freshQueue(t, make);
    await backlog(queue, 'busy', 60);
    await queue.enqueueMany([newJob('idle'), newJob('idle')]);
    // Serve both, then keep serving only the busy tenant while the other is idle.
    await drain(queue);
    await backlog(queue, 'busy', 60);
    for (let i = 0; i < 20; i++) await queue.claim('w1', 1, 30_000);
    await backlog(queue, 'idle', 10);
    const next: string[] = [];
    for (let i = 0; i < 10; i++)
      next.push(...(await queue.claim('w1', 1, 30_000)).map((j) => j.tenantId));
    const idleTurns = next.filter((x) => x === 'idle').length;
    assert.ok(idleTurns >= 4 && idleTurns <= 6, `expected alternation, got ${next.join(',')}`);
    assert.ok(next.slice(0, 3).includes('busy'), `burst after idle: ${next.join(',')}`);
  });

  test('a group never holds more live leases than its concurrency limit, across workers', async (t) => {
    const { queue } = await freshQueue(t, make);
    await backlog(queue, 'capped', 5, { limits: { concurrency: 2 } });
    await backlog(queue, 'free', 3);
    const first = await queue.claim('w1', 10, 30_000);
    const capped = first.filter((j) => j.tenantId === 'capped');
    assert.equal(capped.length, 2);
    assert.equal(first.filter((j) => j.tenantId === 'free').length, 3);
    assert.deepEqual(await queue.claim('w2', 10, 30_000), [], 'another worker gets none either');
    assert.equal(await queue.complete('w1', capped[0]!.id, { status: 'succeeded' }), true);
    const after = await queue.claim('w2', 10, 30_000);
    assert.deepEqual(
      after.map((j) => j.tenantId),
      ['capped'],
      'one slot freed, one job handed out',
    );
  });

  test("the concurrency limit heals once a crashed worker's lease expires, without a reap", async (t) => {
    const { queue } = await freshQueue(t, make);
    await backlog(queue, 'capped', 3, { limits: { concurrency: 1 } });
    const [lost] = await queue.claim('crashed', 1, 200);
    assert.ok(lost);
    assert.deepEqual(await queue.claim('w1', 1, 30_000), [], 'at the limit');
    await sleep(350);
    const [next] = await queue.claim('w1', 1, 30_000);
    assert.ok(next, 'the expired lease no longer counts');
    assert.notEqual(next.id, lost.id);
    assert.deepEqual(await queue.claim('w1', 1, 30_000), [], 'the new lease counts');
    const reaped = await queue.reapExpired();
    assert.equal(reaped.requeued, 1);
    assert.deepEqual(
      await queue.claim('w1', 1, 30_000),
      [],
      'the requeued job waits for a free slot',
    );
  });
}
