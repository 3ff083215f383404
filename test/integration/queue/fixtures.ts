/** Shared pieces of the queue conformance suite: the fixture contract, job builders, timing helpers. */
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { NewJob, Queue, QueueOptions } from '../../../src/queue/index.ts';

export interface QueueFixture {
  queue: Queue;
  /** Another connection to the same queue, as a second process would have it. */
  open(): Promise<Queue>;
  /** Close every connection and remove the queue's data; safe to call twice. */
  cleanup(): Promise<void>;
}

export type MakeQueue = (options?: QueueOptions) => Promise<QueueFixture>;

/** A fresh queue for one test, removed when the test ends. */
export async function freshQueue(
  t: TestContext,
  make: MakeQueue,
  options?: QueueOptions,
): Promise<QueueFixture> {
  const fixture = await make(options);
  t.after(() => fixture.cleanup());
  return fixture;
}

/** A unique job id per call, sortable like execution ids. */
export function jobId(): string {
  return `ex_${Date.now().toString(16)}${randomBytes(8).toString('hex')}`;
}

/** A new job of `tenantId` with a unique id; `extra` overrides any field. */
export function newJob(tenantId: string, extra: Partial<NewJob> = {}): NewJob {
  return { id: jobId(), tenantId, payload: { n: 1 }, ...extra };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Claim one job at a time until the queue hands out nothing; returns them in order. */
export async function drain(queue: Queue, workerId = 'w1', leaseMs = 30_000) {
  const out = [];
  for (;;) {
    const [job] = await queue.claim(workerId, 1, leaseMs);
    if (job === undefined) return out;
    out.push(job);
  }
}

/** Enqueue `count` jobs of one tenant in batches (fast setup for backlog tests). */
export async function backlog(
  queue: Queue,
  tenantId: string,
  count: number,
  extra: Partial<NewJob> = {},
) {
  for (let i = 0; i < count; i += 500) {
    const n = Math.min(500, count - i);
    await queue.enqueueMany(Array.from({ length: n }, () => newJob(tenantId, extra)));
  }
}
