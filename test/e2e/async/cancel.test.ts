/**
 * Cancel over HTTP: a queued execution is removed and never runs; a
 * running one has its sandbox killed and ends `cancelled` at once, long
 * before its timeout; a finished one cannot be cancelled.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestServer } from '../../support/server.ts';
import {
  HANDLERS,
  deployNode,
  execute,
  getExecution,
  logLines,
  markedPids,
  newTenant,
  startPlaneServer,
  unique,
  waitForStatus,
} from './harness.ts';

describe('cancel over HTTP', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startPlaneServer();
  });
  after(async () => {
    await ts.close();
  });

  test('a queued execution is cancelled and never runs', async () => {
    // Concurrency 1: the target waits behind a running execution of its tenant.
    const t = await newTenant(ts, { maxConcurrency: 1 });
    const fn = await deployNode(ts, t.key, HANDLERS.sleep);
    const ahead = await execute(ts, fn, { key: t.key, input: { ms: 800 } });
    await waitForStatus(ts, t.key, ahead.body.id, 'running');
    const target = await execute(ts, fn, { key: t.key, input: { ms: 0, tag: 'target' } });
    assert.equal((await getExecution(ts, t.key, target.body.id)).status, 'queued');

    const res = await ts.call('POST', `/api/v1/executions/${target.body.id}/cancel`, {
      key: t.key,
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'cancelled');
    assert.equal(res.body.error.type, 'Cancelled');
    assert.ok(res.body.finishedAt);

    // Same tenant, same priority, queued after it: once this one ran, the target had its turn.
    const behind = await execute(ts, fn, { key: t.key, input: { ms: 0 } });
    await waitForStatus(ts, t.key, ahead.body.id, 'succeeded');
    await waitForStatus(ts, t.key, behind.body.id, 'succeeded');
    const after = await getExecution(ts, t.key, target.body.id);
    assert.equal(after.status, 'cancelled');
    assert.equal(after.startedAt, null);
    assert.equal(after.attempt, 0);
    assert.deepEqual(after.attempts, []);
    assert.equal(after.output, null);
  });

  test('a running execution has its sandbox killed and ends cancelled well before its timeout', async () => {
    const t = await newTenant(ts);
    const mark = unique('cancel');
    const fn = await deployNode(
      ts,
      t.key,
      `export async function handler() {
  console.log('started');
  await new Promise((r) => setTimeout(r, 25000));
  return 'finished';
}`,
      { limits: { timeoutSeconds: 30 }, env: { ASYNC_E2E_MARK: mark } },
    );
    const res = await execute(ts, fn, { key: t.key });
    await waitForStatus(ts, t.key, res.body.id, 'running');
    // The handler is inside its sleep once it has logged.
    const deadline = Date.now() + 10_000;
    while (!(await logLines(ts, t.key, res.body.id)).some((l) => l.line === 'started')) {
      assert.ok(Date.now() < deadline, 'the handler never started');
      await sleep(25);
    }
    assert.ok((await markedPids(mark)).length > 0, 'the sandbox runs on the host');

    const cancelledAt = Date.now();
    const cancel = await ts.call('POST', `/api/v1/executions/${res.body.id}/cancel`, {
      key: t.key,
    });
    assert.equal(cancel.status, 202);
    assert.equal(cancel.body.status, 'running');
    const done = await waitForStatus(ts, t.key, res.body.id, 'cancelled', 5000);
    assert.ok(Date.now() - cancelledAt < 3000, `cancel took ${Date.now() - cancelledAt} ms`);
    assert.equal(done.error.type, 'Cancelled');
    assert.equal(done.output, null);
    assert.equal(done.attempts.length, 1);
    assert.equal(done.attempts[0].status, 'cancelled');
    // Not one retry: a cancel is final.
    await sleep(300);
    assert.equal((await getExecution(ts, t.key, res.body.id)).status, 'cancelled');
    assert.deepEqual(await markedPids(mark), [], 'the sandbox processes are gone');
  });

  test('cancelling a finished execution is a 409 and an unknown one a 404', async () => {
    const t = await newTenant(ts);
    const fn = await deployNode(ts, t.key, HANDLERS.echo);
    const res = await execute(ts, fn, { key: t.key, async: false });
    assert.equal(res.status, 200);
    const again = await ts.call('POST', `/api/v1/executions/${res.body.id}/cancel`, { key: t.key });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'INVALID_STATE');
    assert.equal((await getExecution(ts, t.key, res.body.id)).status, 'succeeded');
    const missing = await ts.call(
      'POST',
      '/api/v1/executions/ex_00000000000000000000000000000000/cancel',
      { key: t.key },
    );
    assert.equal(missing.status, 404);
  });
});
