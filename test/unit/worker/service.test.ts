/**
 * ExecutionService against the real embedded queue and store: a record a
 * vanished worker left `running` is corrected from the queue's completion
 * (by the waiting sync caller, or by reconcile() for readers), live
 * records are left alone, and two services racing with one
 * Idempotency-Key create one execution.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionPreparer } from '../../../src/engine/prepare.ts';
import { ExecutionService } from '../../../src/engine/submit.ts';
import { config, openBench, until, type Bench } from './fixtures.ts';

const TIMEOUT_SECONDS = 1;
/** The service only asks the preparer for the version's manifest (its timeout). */
const preparer = {
  version: async (rufid: string, version: number) => ({
    rufid,
    version,
    manifest: {
      runtime: 'node24',
      entrypoint: 'index.handler',
      limits: { timeoutSeconds: TIMEOUT_SECONDS },
    },
  }),
} as unknown as ExecutionPreparer;

let bench: Bench;
let service: ExecutionService;
beforeEach(async () => {
  bench = await openBench();
  service = new ExecutionService({
    config,
    queue: bench.queue,
    results: bench.results,
    preparer,
    attempts: bench.store,
  });
});
afterEach(async () => {
  await bench.close();
});

const target = { rufid: 'fn_unit', branch: 'main', version: 1 };

/** A worker that claims the job, starts its attempt, then vanishes (its lease lapses after `leaseMs`). */
async function vanishingWorker(id: string, leaseMs: number) {
  const [job] = await until(async () => {
    const jobs = await bench.queue.claim('w_gone', 1, leaseMs);
    return jobs.length > 0 ? jobs : undefined;
  }, 'a job to claim');
  assert.equal(job?.id, id);
  await bench.results.update(id, {
    status: 'running',
    attempt: 1,
    startedAt: new Date().toISOString(),
  });
  await bench.store.recordAttempt(id, {
    attempt: 1,
    status: 'running',
    error: null,
    workerId: 'w_gone',
    startedAt: new Date().toISOString(),
    finishedAt: null,
    durationMs: null,
  });
}

test("a sync caller whose job's worker vanished gets the record corrected to dead (WorkerLost)", async () => {
  const submitted = service.submit({ tenant: bench.tenant, target, input: 1, async: false });
  const [listed] = await until(async () => {
    const page = await bench.results.list({ tenantId: bench.tenant.id, limit: 1 });
    return page.length > 0 ? page : undefined;
  }, 'the record');
  await vanishingWorker(listed!.id, 30);
  await sleep(50);
  await bench.queue.reapExpired();
  const { record, finished } = await submitted;
  assert.equal(finished, true);
  assert.equal(record.status, 'dead');
  assert.equal(record.error?.type, 'WorkerLost');
  assert.match(
    record.error?.message ?? '',
    /worker w_gone stopped renewing its lease during attempt 1/,
  );
  const stored = await bench.record(record.id);
  assert.equal(stored.status, 'dead');
  assert.ok(stored.finishedAt);
  const attempts = await bench.store.listAttempts(record.id);
  assert.deepEqual(
    attempts.map((a) => [a.status, a.error?.type]),
    [['failed', 'WorkerLost']],
  );
});

test('reconcile corrects a stale running record the queue buried, and leaves a live one untouched', async () => {
  const { record } = await service.submit({
    tenant: bench.tenant,
    target,
    input: 1,
    async: true,
    maxAttempts: 1,
  });
  await vanishingWorker(record.id, 30);
  const live = await bench.record(record.id);
  // Still inside timeout + lease: not probed, not changed, answered at once.
  const started = Date.now();
  assert.equal((await service.reconcile(live)).status, 'running');
  assert.ok(Date.now() - started < 100);

  await sleep(50);
  await bench.queue.reapExpired();
  // Make it look as old as an attempt that can no longer be alive.
  const old = new Date(
    Date.now() - (TIMEOUT_SECONDS + config.queue.leaseSeconds + 1) * 1000,
  ).toISOString();
  await bench.results.update(record.id, { startedAt: old });
  const fixed = await service.reconcile(await bench.record(record.id));
  assert.equal(fixed.status, 'dead');
  assert.equal(fixed.error?.type, 'WorkerLost');
  assert.equal((await bench.record(record.id)).status, 'dead');
  assert.ok(
    (await bench.results.logs(record.id)).some(
      (l) => l.stream === 'system' && /WorkerLost|lease/.test(l.line),
    ),
  );
});

test('reconcile leaves a stale-looking record alone while its job is only waiting for another attempt', async () => {
  const { record } = await service.submit({
    tenant: bench.tenant,
    target,
    input: 1,
    async: true,
    maxAttempts: 3,
  });
  await vanishingWorker(record.id, 30);
  await sleep(50);
  await bench.queue.reapExpired();
  const old = new Date(Date.now() - 3_600_000).toISOString();
  await bench.results.update(record.id, { startedAt: old });
  const after = await service.reconcile(await bench.record(record.id));
  assert.equal(after.status, 'running');
});

test('two services racing with one Idempotency-Key create one execution', async () => {
  const other = new ExecutionService({
    config,
    queue: bench.queue,
    results: bench.results,
    preparer,
    attempts: bench.store,
  });
  const results = await Promise.all(
    [service, other, service, other].map((s) =>
      s.submit({ tenant: bench.tenant, target, input: 1, async: true, idempotencyKey: 'same' }),
    ),
  );
  assert.equal(new Set(results.map((r) => r.record.id)).size, 1);
  assert.equal(results.filter((r) => r.replayed).length, 3);
  assert.equal((await bench.results.list({ tenantId: bench.tenant.id, limit: 10 })).length, 1);
});

test('an attempt the worker has not closed yet is shown with the verdict its record already holds', async () => {
  const { record } = await service.submit({ tenant: bench.tenant, target, input: 1, async: true });
  const t0 = Date.now();
  const open = {
    attempt: 1,
    status: 'running' as const,
    error: null,
    workerId: 'w_x',
    startedAt: new Date(t0).toISOString(),
    finishedAt: null,
    durationMs: null,
  };
  await bench.store.recordAttempt(record.id, open);
  await bench.results.update(record.id, {
    status: 'running',
    attempt: 1,
    startedAt: new Date(t0 + 1).toISOString(),
  });
  assert.deepEqual(await service.attempts(await bench.record(record.id)), [open]);

  // The engine wrote the verdict; the worker has yet to close the attempt.
  const error = { type: 'Error', message: 'boom' };
  await bench.results.update(record.id, {
    status: 'failed',
    error,
    finishedAt: new Date(t0 + 40).toISOString(),
  });
  const shown = await service.attempts(await bench.record(record.id));
  assert.deepEqual(shown, [
    {
      ...open,
      status: 'failed',
      error,
      finishedAt: new Date(t0 + 40).toISOString(),
      durationMs: 40,
    },
  ]);

  // A newer attempt being opened for the retry is not dressed in the old verdict.
  const next = { ...open, attempt: 2, startedAt: new Date(t0 + 100).toISOString() };
  await bench.store.recordAttempt(record.id, {
    ...open,
    status: 'failed',
    error,
    finishedAt: new Date(t0 + 40).toISOString(),
    durationMs: 40,
  });
  await bench.store.recordAttempt(record.id, next);
  assert.deepEqual((await service.attempts(await bench.record(record.id))).at(-1), next);
});
