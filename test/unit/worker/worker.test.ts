/**
 * The worker's semantics where HTTP is too coarse: retries and attempt
 * records, a lapsed or lost lease (its late verdict is never written),
 * cancels, shutdown within and past the grace period, and an attempt whose
 * worker vanished. Real embedded queue and store; a scripted engine.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { boom, ok, openBench, partitionable, until, untilAborted, type Bench } from './fixtures.ts';

let bench: Bench;
beforeEach(async () => {
  bench = await openBench();
});
afterEach(async () => {
  await bench.close();
});

const statusIs = (id: string, status: string) => async () => {
  const r = await bench.record(id);
  return r.status === status ? r : undefined;
};
const attemptsOf = async (id: string) =>
  (await bench.store.listAttempts(id)).map((a) => [
    a.attempt,
    a.status,
    a.workerId,
    a.error?.type ?? null,
  ]);

test('a failing async job is retried, each attempt recorded and logged, and dead after the last', async () => {
  const { worker } = bench.worker(async () => boom());
  const id = await bench.submit({ maxAttempts: 3 });
  const dead = await until(statusIs(id, 'dead'), 'dead');
  assert.equal(dead.error?.message, 'all 3 attempts failed; last: boom');
  assert.deepEqual(await attemptsOf(id), [
    [1, 'failed', worker.id, 'Error'],
    [2, 'failed', worker.id, 'Error'],
    [3, 'failed', worker.id, 'Error'],
  ]);
  const lines = (await bench.results.logs(id)).map((l) => l.line);
  assert.equal(lines.length, 3);
  assert.match(lines[2]!, /attempt 3 of 3 ended failed \(Error: boom\); no attempts left/);
  assert.equal((await bench.queue.waitForCompletion(id, 1000))?.status, 'dead');
});

test("the job's attempt and traceparent reach the engine", async () => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const { engine } = bench.worker(async (job) => (job.attempt === 1 ? boom() : ok()));
  const id = await bench.submit({ traceparent });
  await until(statusIs(id, 'succeeded'), 'success');
  assert.deepEqual(
    engine.jobs.map((j) => [j.attempt, j.traceparent]),
    [
      [1, traceparent],
      [2, traceparent],
    ],
  );
});

test('a lease that lapsed before any heartbeat noticed: the late verdict is not written', async () => {
  const cut = partitionable(bench.queue);
  const late = Promise.withResolvers<void>();
  cut.pause();
  const a = bench.worker(
    async () => {
      await late.promise;
      return ok('late from A');
    },
    { queue: cut.queue, leaseMs: 150, capacity: 1, workerId: 'w_a' },
  );
  const id = await bench.submit();
  await until(statusIs(id, 'running'), 'A running');
  await sleep(200);
  // The queue re-delivers the job; B runs it to the end.
  bench.worker(async () => ok('from B'), { workerId: 'w_b' });
  await until(statusIs(id, 'succeeded'), 'B done');
  late.resolve();
  await until(async () => (a.worker.running === 0 ? true : undefined), 'A settled');
  const r = await bench.record(id);
  assert.equal(r.output, 'from B');
  assert.equal(r.attempt, 2);
  assert.deepEqual(await attemptsOf(id), [
    [1, 'failed', 'w_a', 'LeaseLost'],
    [2, 'succeeded', 'w_b', null],
  ]);
  cut.resume();
});

test('a lease a heartbeat reports lost: the attempt is stopped and its verdict not written', async () => {
  const cut = partitionable(bench.queue);
  cut.pause();
  const a = bench.worker((_, signal) => untilAborted(signal), {
    queue: cut.queue,
    leaseMs: 150,
    capacity: 1,
    workerId: 'w_a',
  });
  const id = await bench.submit();
  await until(statusIs(id, 'running'), 'A running');
  await sleep(200);
  bench.worker(async () => ok('from B'), { workerId: 'w_b' });
  await until(statusIs(id, 'succeeded'), 'B done');
  cut.resume();
  await until(
    async () => (a.worker.running === 0 ? true : undefined),
    'A stopped by its heartbeat',
  );
  const r = await bench.record(id);
  assert.equal(r.status, 'succeeded');
  assert.equal(r.output, 'from B');
  assert.deepEqual(
    (await attemptsOf(id)).map((x) => x[3]),
    ['LeaseLost', null],
  );
});

test('a cancel stops the running attempt; its cancelled verdict stands and is not retried', async () => {
  const { worker } = bench.worker((_, signal) => untilAborted(signal));
  const id = await bench.submit({ maxAttempts: 3 });
  await until(statusIs(id, 'running'), 'running');
  assert.equal(await bench.queue.cancel(id), 'signalled');
  const r = await until(statusIs(id, 'cancelled'), 'cancelled');
  assert.equal(r.error?.type, 'Cancelled');
  assert.equal((await bench.queue.waitForCompletion(id, 1000))?.status, 'cancelled');
  await sleep(50);
  assert.deepEqual(await attemptsOf(id), [[1, 'cancelled', worker.id, 'Cancelled']]);
});

test('stop lets a running job finish within the grace period', async () => {
  const { worker } = bench.worker(async () => {
    await sleep(150);
    return ok('finished');
  });
  const id = await bench.submit();
  await until(statusIs(id, 'running'), 'running');
  await worker.stop(2000);
  const r = await bench.record(id);
  assert.equal(r.status, 'succeeded');
  assert.equal(r.output, 'finished');
  assert.deepEqual(await attemptsOf(id), [[1, 'succeeded', worker.id, null]]);
  assert.equal((await bench.queue.waitForCompletion(id, 1000))?.status, 'succeeded');
});

test('stop past the grace period hands the job back; it never reads cancelled and runs again elsewhere', async () => {
  const a = bench.worker((_, signal) => untilAborted(signal), { workerId: 'w_a' });
  const id = await bench.submit();
  await until(statusIs(id, 'running'), 'running');
  const seen = new Set<string>();
  let watching = true;
  const watch = (async () => {
    while (watching) {
      seen.add((await bench.record(id)).status);
      await sleep(1);
    }
  })();
  await a.worker.stop(50);
  const handedBack = await bench.record(id);
  assert.equal(handedBack.status, 'queued');
  assert.equal(handedBack.error, null);
  bench.worker(async () => ok('again'), { workerId: 'w_b' });
  await until(statusIs(id, 'succeeded'), 'run again');
  watching = false;
  await watch;
  assert.ok(!seen.has('cancelled'), `statuses seen: ${[...seen].join(', ')}`);
  assert.deepEqual(await attemptsOf(id), [
    [1, 'failed', 'w_a', 'WorkerShutdown'],
    [2, 'succeeded', 'w_b', null],
  ]);
});

test('stop past the grace period on a sync call (no attempt left) fails it instead of burying it', async () => {
  const a = bench.worker((_, signal) => untilAborted(signal));
  const id = await bench.submit({ sync: true });
  await until(statusIs(id, 'running'), 'running');
  const waiting = bench.queue.waitForCompletion(id, 5000);
  await a.worker.stop(50);
  assert.equal((await waiting)?.status, 'failed');
  const r = await bench.record(id);
  assert.equal(r.status, 'failed');
  assert.equal(r.error?.type, 'WorkerShutdown');
});

test('stop past the grace period on the last async attempt makes it dead', async () => {
  const a = bench.worker((_, signal) => untilAborted(signal));
  const id = await bench.submit({ maxAttempts: 1 });
  await until(statusIs(id, 'running'), 'running');
  await a.worker.stop(50);
  const r = await bench.record(id);
  assert.equal(r.status, 'dead');
  assert.equal(r.error?.type, 'WorkerShutdown');
  assert.equal((await bench.queue.waitForCompletion(id, 1000))?.status, 'dead');
});

test('an attempt left running by a vanished worker is closed as WorkerLost when the next one starts', async () => {
  const id = await bench.submit();
  const [ghostJob] = await bench.queue.claim('w_ghost', 1, 50);
  assert.equal(ghostJob?.id, id);
  await bench.store.recordAttempt(id, {
    attempt: 1,
    status: 'running',
    error: null,
    workerId: 'w_ghost',
    startedAt: new Date().toISOString(),
    finishedAt: null,
    durationMs: null,
  });
  await sleep(80);
  bench.worker(async () => ok(), { workerId: 'w_next' });
  await until(statusIs(id, 'succeeded'), 'second attempt');
  assert.deepEqual(await attemptsOf(id), [
    [1, 'failed', 'w_ghost', 'WorkerLost'],
    [2, 'succeeded', 'w_next', null],
  ]);
});
