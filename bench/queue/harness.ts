/**
 * The measurements of the queue benchmark, written once and applied to
 * every system in the same way: each system only says how it enqueues,
 * claims and completes (the Subject below).
 */

/** One system under test on one backend. */
export interface Subject {
  backend: 'sqlite' | 'postgres' | 'redis';
  /** relay, floor, bullmq or pg-boss. */
  system: string;
  /** How this system reaches 50 jobs in flight (printed in the report). */
  shape: string;
  enqueueOne(tenant: string, i: number): Promise<void>;
  enqueueBatch(tenant: string, start: number, n: number): Promise<void>;
  /**
   * Consume with 50 jobs in flight until stopped; `onClaim` sees each job as it is
   * handed out, `onDone` after its completion is acknowledged.
   */
  consume(hooks: ConsumeHooks): Promise<{ stop(): Promise<void> }>;
  /** Remove every job (between sections). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumeHooks {
  onClaim?: (id: string, tenant: string) => void;
  onDone: (id: string, tenant: string) => void;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The key every subject reports for job `i` of `tenant` (ids, or data where a system picks its own ids). */
export const jobKey = (tenant: string, i: number) => `${tenant}-${i}`;

/** Jobs per second for `count` single enqueues made by `callers` concurrent callers. */
export async function enqueueSingleRate(
  s: Subject,
  count: number,
  offset: number,
  callers = 50,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < count) await s.enqueueOne('bench', offset + next++);
    }),
  );
  return (count / (performance.now() - started)) * 1000;
}

/** Jobs per second for `count` jobs enqueued in sequential batches of 100. */
export async function enqueueBatchRate(s: Subject, count: number, offset: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i += 100)
    await s.enqueueBatch('bench', offset + i, Math.min(100, count - i));
  return (count / (performance.now() - started)) * 1000;
}

/** Jobs per second to claim and complete `count` waiting jobs with 50 in flight. */
export async function claimCompleteRate(s: Subject, count: number): Promise<number> {
  let done = 0;
  let finish!: () => void;
  const all = new Promise<void>((resolve) => (finish = resolve));
  const started = performance.now();
  const consumer = await s.consume({
    onDone: () => {
      if (++done === count) finish();
    },
  });
  await all;
  const rate = (count / (performance.now() - started)) * 1000;
  await consumer.stop();
  return rate;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Enqueue-to-completion latency (ms) at `rate` jobs/s offered for `seconds`. */
export async function latencyAtRate(s: Subject, rate: number, seconds: number, offset: number) {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const total = rate * seconds;
  let finish!: () => void;
  const all = new Promise<void>((resolve) => (finish = resolve));
  const consumer = await s.consume({
    onDone: (id) => {
      const t = sentAt.get(id);
      if (t !== undefined) latencies.push(performance.now() - t);
      if (latencies.length === total) finish();
    },
  });
  // Offer jobs in ticks of 10 ms, each tick's jobs sent at once, as an API under load would.
  const perTick = rate / 100;
  const started = performance.now();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < total; i += perTick) {
    const due = started + (i / rate) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    for (let k = i; k < Math.min(total, i + perTick); k++) {
      sentAt.set(jobKey('bench', offset + k), performance.now());
      sends.push(s.enqueueOne('bench', offset + k));
    }
  }
  await Promise.all(sends);
  const timedOut = await Promise.race([all.then(() => false), sleep(30_000).then(() => true)]);
  await consumer.stop();
  latencies.sort((a, b) => a - b);
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    completed: latencies.length,
    timedOut,
  };
}

export interface FairnessResult {
  /** Milliseconds from the consumer's start until the last small tenant's job completed. */
  smallDoneMs: number;
  /** Claim index (0-based, over all claims) of the last small-tenant job. */
  lastSmallClaim: number;
  /** Median claim index of each small tenant's first job. */
  medianFirstClaim: number;
  totalJobs: number;
}

/** One tenant floods `flood` jobs, then `tenants` tenants send `each`; when are the small ones done? */
export async function fairnessRun(
  s: Subject,
  offset: number,
  flood = 18_000,
  tenants = 100,
  each = 20,
): Promise<FairnessResult> {
  for (let i = 0; i < flood; i += 500)
    await s.enqueueBatch('flood', offset + i, Math.min(500, flood - i));
  for (let t = 0; t < tenants; t++)
    await s.enqueueBatch(`small${t}`, offset + flood + t * each, each);
  const smallTotal = tenants * each;
  const firstClaim = new Map<string, number>();
  let claims = 0;
  let lastSmallClaim = -1;
  let smallDone = 0;
  let smallDoneMs = NaN;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const started = performance.now();
  const consumer = await s.consume({
    onClaim: (_id, tenant) => {
      const index = claims++;
      if (tenant === 'flood') return;
      if (!firstClaim.has(tenant)) firstClaim.set(tenant, index);
      lastSmallClaim = Math.max(lastSmallClaim, index);
    },
    onDone: (_id, tenant) => {
      if (tenant !== 'flood' && ++smallDone === smallTotal) {
        smallDoneMs = performance.now() - started;
        finish();
      }
    },
  });
  await Promise.race([done, sleep(120_000)]);
  await consumer.stop();
  const firsts = [...firstClaim.values()].sort((a, b) => a - b);
  return {
    smallDoneMs,
    lastSmallClaim,
    medianFirstClaim: percentile(firsts, 50),
    totalJobs: flood + smallTotal,
  };
}
