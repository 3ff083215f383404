/**
 * SIGTERM drains a worker process (one API, two workers, Postgres +
 * Redis): it claims nothing more, lets its running execution finish within
 * the grace period and exits 0; past the grace period it hands the
 * execution back and the other worker runs it.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return -- response bodies are JSON the tests assert on by value */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  deployNode,
  execute,
  newTenant,
  waitForExecution,
  waitForStatus,
} from '../../e2e/async/harness.ts';
import { startCluster, type Cluster } from './cluster.ts';

const SLOW = `export async function handler(event) {
  await new Promise((r) => setTimeout(r, event.ms));
  return { slept: event.ms };
}`;

describe('SIGTERM drains a worker', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  async function runningOn(c: Cluster, key: string, id: string) {
    const r = await waitForExecution(
      c,
      key,
      id,
      (x) => x.attempts?.[0]?.status === 'running',
      20_000,
    );
    return c.worker(r.attempts[0].workerId as string);
  }

  test('the running execution finishes within the grace period, nothing new is claimed, exit code 0', async () => {
    const c = (cluster = await startCluster(2, {
      env: { RELAY_LEASE_SECONDS: '2', RELAY_SHUTDOWN_GRACE_SECONDS: '20' },
    }));
    const t = await newTenant(c);
    const fn = await deployNode(c, t.key, SLOW);
    const res = await execute(c, fn, { key: t.key, input: { ms: 2000 } });
    const draining = await runningOn(c, t.key, res.body.id);
    draining.kill('SIGTERM');
    // Work arriving during the drain goes to the other worker.
    const later = await Promise.all(
      [0, 1, 2, 3].map(() => execute(c, fn, { key: t.key, input: { ms: 10 } })),
    );
    const { code, signal } = await draining.exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null });
    const done = await waitForStatus(c, t.key, res.body.id, 'succeeded');
    assert.deepEqual(done.output, { slept: 2000 });
    assert.deepEqual(
      done.attempts.map((a: any) => [a.attempt, a.status, a.workerId]),
      [[1, 'succeeded', draining.name]],
    );
    // It finished before the process was gone.
    assert.ok(draining.logs.some((l) => l.msg === 'worker stopped'));
    for (const r of later) {
      const x = await waitForStatus(c, t.key, r.body.id, 'succeeded');
      assert.notEqual(x.attempts[0].workerId, draining.name);
    }
  });

  test('past the grace period the execution is handed back and finishes on the other worker', async () => {
    const c = (cluster = await startCluster(2, {
      env: { RELAY_LEASE_SECONDS: '2', RELAY_SHUTDOWN_GRACE_SECONDS: '1' },
    }));
    const t = await newTenant(c);
    const fn = await deployNode(c, t.key, SLOW);
    const res = await execute(c, fn, { key: t.key, input: { ms: 3000 } });
    const draining = await runningOn(c, t.key, res.body.id);
    const stoppedAt = Date.now();
    draining.kill('SIGTERM');
    const { code } = await draining.exited;
    assert.equal(code, 0);
    // Stopped once the grace period was over, not when the function would have finished.
    const stopped = draining.logs.find((l) => l.msg === 'worker stopped');
    assert.ok(stopped, 'the worker logged its stop');
    assert.ok(
      Number(stopped.time) - stoppedAt < 2500,
      `stopped ${Number(stopped.time) - stoppedAt} ms after SIGTERM`,
    );
    const survivor = c.workers.find((w) => w !== draining)!;
    const done = await waitForStatus(c, t.key, res.body.id, 'succeeded', 20_000);
    assert.equal(done.attempt, 2);
    assert.deepEqual(
      done.attempts.map((a: any) => [a.attempt, a.status, a.workerId, a.error?.type ?? null]),
      [
        [1, 'failed', draining.name, 'WorkerShutdown'],
        [2, 'succeeded', survivor.name, null],
      ],
    );
    // Handed back at once: no waiting for the lease to expire.
    assert.ok(
      Date.parse(done.attempts[1].startedAt) - Date.parse(done.attempts[0].finishedAt) < 1500,
    );
  });
});
