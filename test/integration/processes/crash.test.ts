/**
 * Crash safety across processes (one API, two workers, Postgres + Redis):
 * a worker SIGKILLed mid-execution loses its lease and the job runs again
 * on the other worker; when no attempt is left, the execution ends `dead`
 * (WorkerLost) instead of staying `running`, for a waiting sync caller and
 * for a reader of an async one alike.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return -- response bodies are JSON the tests assert on by value */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  deployNode,
  execute,
  getExecution,
  logLines,
  markedPids,
  newTenant,
  unique,
  waitForExecution,
  waitForStatus,
} from '../../e2e/async/harness.ts';
import { startCluster, type Cluster } from './cluster.ts';

const LEASE_SECONDS = 2;

/** Logs, then sleeps `event.ms`: long enough to be killed in the middle. */
const SLOW = `export async function handler(event) {
  console.log('started');
  await new Promise((r) => setTimeout(r, event.ms));
  return { slept: event.ms };
}`;

describe('a worker killed mid-execution', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  /** The worker holding the execution's first attempt, once the handler has started (logged). */
  async function holder(c: Cluster, key: string, id: string) {
    const record = await waitForExecution(
      c,
      key,
      id,
      (r) => r.attempts?.[0]?.status === 'running',
      20_000,
    );
    const deadline = Date.now() + 20_000;
    while (!(await logLines(c, key, id)).some((l) => l.line === 'started')) {
      assert.ok(Date.now() < deadline, 'the handler never started');
      await sleep(25);
    }
    return c.worker(record.attempts[0].workerId as string);
  }

  test('its job runs again on the other worker after the lease expires', async () => {
    const c = (cluster = await startCluster(2, {
      env: { RELAY_LEASE_SECONDS: String(LEASE_SECONDS) },
    }));
    const t = await newTenant(c);
    const mark = unique('kill');
    const fn = await deployNode(c, t.key, SLOW, { env: { ASYNC_E2E_MARK: mark } });
    const res = await execute(c, fn, { key: t.key, input: { ms: 1500 } });
    const victim = await holder(c, t.key, res.body.id);
    assert.ok((await markedPids(mark)).length > 0);
    victim.kill('SIGKILL');
    const killedAt = Date.now();
    assert.equal((await victim.exited).signal, 'SIGKILL');
    // Its sandbox dies with it, well before the lease lets another worker start the job again.
    const deadline = Date.now() + 1000;
    while ((await markedPids(mark)).length > 0) {
      assert.ok(Date.now() < deadline, 'the killed worker left its sandbox running');
      await sleep(25);
    }

    const done = await waitForStatus(c, t.key, res.body.id, 'succeeded', 20_000);
    const survivor = c.workers.find((w) => w !== victim)!;
    assert.deepEqual(done.output, { slept: 1500 });
    assert.equal(done.attempt, 2);
    assert.deepEqual(
      done.attempts.map((a: any) => [a.attempt, a.status, a.workerId, a.error?.type ?? null]),
      [
        [1, 'failed', victim.name, 'WorkerLost'],
        [2, 'succeeded', survivor.name, null],
      ],
    );
    // Not before the lease ran out: the queue waited for the holder to come back.
    assert.ok(Date.parse(done.attempts[1].startedAt) - killedAt >= LEASE_SECONDS * 1000 - 700);
  });

  test('a sync call whose only attempt dies with its worker answers 502 dead (WorkerLost)', async () => {
    const c = (cluster = await startCluster(2, {
      env: { RELAY_LEASE_SECONDS: String(LEASE_SECONDS) },
    }));
    const t = await newTenant(c);
    const fn = await deployNode(c, t.key, SLOW, { limits: { timeoutSeconds: 20 } });
    const started = Date.now();
    const pending = execute(c, fn, { key: t.key, async: false, input: { ms: 15_000 } });
    const list = async () =>
      (await c.call<any>('GET', '/api/v1/executions', { key: t.key })).body.executions;
    let id: string | undefined;
    while (id === undefined) {
      id = (await list())[0]?.id;
      if (id === undefined) await sleep(25);
    }
    (await holder(c, t.key, id)).kill('SIGKILL');
    const res = await pending;
    assert.equal(res.status, 502);
    assert.equal(res.body.id, id);
    assert.equal(res.body.status, 'dead');
    assert.equal(res.body.error.type, 'WorkerLost');
    // Answered once the lease expired, long before the function would have finished.
    assert.ok(Date.now() - started < 10_000, `answered after ${Date.now() - started} ms`);
    const record = await getExecution(c, t.key, id);
    assert.equal(record.status, 'dead');
    assert.deepEqual(
      record.attempts.map((a: any) => [a.status, a.error?.type]),
      [['failed', 'WorkerLost']],
    );
  });

  test('an async execution with no attempt left reads dead (WorkerLost), not running', async () => {
    const c = (cluster = await startCluster(2, {
      env: { RELAY_LEASE_SECONDS: String(LEASE_SECONDS) },
    }));
    const t = await newTenant(c);
    const fn = await deployNode(c, t.key, SLOW, { limits: { timeoutSeconds: 2 } });
    const res = await execute(c, fn, { key: t.key, maxAttempts: 1, input: { ms: 1500 } });
    (await holder(c, t.key, res.body.id)).kill('SIGKILL');
    // Readable as dead once its attempt could no longer be alive (timeout + lease).
    const dead = await waitForStatus(c, t.key, res.body.id, 'dead', 15_000);
    assert.equal(dead.error.type, 'WorkerLost');
    assert.ok(dead.finishedAt);
    assert.deepEqual(
      dead.attempts.map((a: any) => [a.status, a.error?.type]),
      [['failed', 'WorkerLost']],
    );
    const listed = (await c.call<any>('GET', '/api/v1/executions?status=running', { key: t.key }))
      .body;
    assert.deepEqual(listed.executions, []);
  });
});
