/**
 * Claim order over HTTP: within a tenant, a more urgent job queued later
 * runs before less urgent ones queued earlier; across tenants, a tenant
 * with a long backlog does not delay another tenant's first job by more
 * than a claim or two.
 */
/* eslint-disable @typescript-eslint/no-unsafe-return -- response bodies are JSON the tests assert on by value */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestServer } from '../../support/server.ts';
import {
  HANDLERS,
  deployNode,
  execute,
  newTenant,
  startPlaneServer,
  waitForStatus,
} from './harness.ts';

describe('scheduling over HTTP', () => {
  let ts: TestServer;
  before(async () => {
    // Two slots in the one worker: the backlog has to wait its turn.
    ts = await startPlaneServer({ EXECUTION_CONCURRENCY: '2' });
  });
  after(async () => {
    await ts.close();
  });

  test('with concurrency 1, a priority-9 job queued after priority-1 jobs of its tenant runs first', async () => {
    const t = await newTenant(ts, { maxConcurrency: 1 });
    const fn = await deployNode(ts, t.key, HANDLERS.sleep);
    const head = await execute(ts, fn, { key: t.key, input: { ms: 500, tag: 'head' } });
    await waitForStatus(ts, t.key, head.body.id, 'running');
    const queued: { tag: string; id: string }[] = [];
    for (const [tag, priority] of [
      ['low-1', 1],
      ['low-2', 1],
      ['low-3', 1],
      ['urgent', 9],
    ] as const) {
      const res = await execute(ts, fn, { key: t.key, priority, input: { ms: 20, tag } });
      assert.equal(res.status, 202);
      queued.push({ tag, id: res.body.id });
    }
    const done = await Promise.all(queued.map((q) => waitForStatus(ts, t.key, q.id, 'succeeded')));
    const order = done
      .sort(
        (a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt) || a.output.at - b.output.at,
      )
      .map((r) => r.output.tag);
    assert.deepEqual(order, ['urgent', 'low-1', 'low-2', 'low-3']);
    assert.deepEqual(done.map((r) => r.priority).sort(), [1, 1, 1, 9]);
  });

  test('a priority above the tenant cap is refused', async () => {
    const t = await newTenant(ts, { maxPriority: 4 });
    const fn = await deployNode(ts, t.key, HANDLERS.echo);
    const res = await execute(ts, fn, { key: t.key, priority: 5 });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'LIMIT_EXCEEDS_CAP');
  });

  test("tenant B's one job finishes before most of tenant A's 50 queued ahead of it", async () => {
    const a = await newTenant(ts);
    const b = await newTenant(ts);
    const fnA = await deployNode(ts, a.key, HANDLERS.sleep);
    const fnB = await deployNode(ts, b.key, HANDLERS.sleep);
    // Warm both versions so cold starts do not blur the order.
    for (const [fn, key] of [
      [fnA, a.key],
      [fnA, a.key],
      [fnB, b.key],
    ] as const) {
      assert.equal((await execute(ts, fn, { key, async: false, input: { ms: 0 } })).status, 200);
    }
    const backlog = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        execute(ts, fnA, { key: a.key, input: { ms: 100, tag: `a${i}` } }),
      ),
    );
    const bQueuedAt = Date.now();
    const mine = await execute(ts, fnB, { key: b.key, input: { ms: 100, tag: 'b' } });
    assert.equal(mine.status, 202);
    const bDone = await waitForStatus(ts, b.key, mine.body.id, 'succeeded');
    const aDone = await Promise.all(
      backlog.map((r) => waitForStatus(ts, a.key, r.body.id, 'succeeded')),
    );

    const bStart = Date.parse(bDone.startedAt);
    const bEnd = Date.parse(bDone.finishedAt);
    // The backlog A still had when B arrived (the scenario needs a real one).
    const waitingAtB = aDone.filter((r) => Date.parse(r.startedAt) > bQueuedAt).length;
    assert.ok(waitingAtB >= 30, `A had only ${waitingAtB} jobs waiting when B arrived`);
    // Between B's enqueue and B's start, A got at most one claim per slot...
    const aStartedMeanwhile = aDone.filter((r) => {
      const s = Date.parse(r.startedAt);
      return s > bQueuedAt && s < bStart;
    }).length;
    assert.ok(aStartedMeanwhile <= 2, `${aStartedMeanwhile} of A's jobs started while B waited`);
    // ...so B finished before the rest of that backlog (FIFO would put it last).
    const finishedAfterB = aDone.filter((r) => Date.parse(r.finishedAt) > bEnd).length;
    assert.ok(
      finishedAfterB >= waitingAtB - 4,
      `${finishedAfterB} of ${waitingAtB} waiting A jobs finished after B`,
    );
  });
});
