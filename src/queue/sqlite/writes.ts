/**
 * The SQLite queue's row operations, synchronous, each run inside a batch
 * transaction (db.ts). Every change of a job's state changes the queued
 * counters in the same transaction, so they cannot drift.
 */
import { RelayError } from '../../domain/index.ts';
import { rotationOrder, serveRoundRobin } from '../fairness.ts';
import { admit, type PreparedJob, type ResolvedQueueOptions } from '../jobs.ts';
import type { Completion, JobResult, LeasedJob } from '../port.ts';
import type { Row, Statements } from './db.ts';

/** SQLite's extended result codes for UNIQUE and PRIMARY KEY violations. */
const UNIQUE_VIOLATIONS = new Set([2067, 1555]);

export const num = (v: unknown): number => Number(v);

function toLeased(row: Row, leaseUntil: number): LeasedJob {
  return {
    id: row.id as string,
    tenantId: row.tenant_id as string,
    group: row.grp as string,
    priority: num(row.priority),
    attempt: num(row.attempt),
    maxAttempts: num(row.max_attempts),
    payload: JSON.parse(row.payload as string),
    enqueuedAt: num(row.enqueued_at),
    runAfter: num(row.run_after),
    traceparent: (row.traceparent as string | null) ?? null,
    leaseUntil,
  };
}

/** Insert jobs after the backpressure check; throws QUEUE_FULL or CONFLICT (run in a savepoint). */
export function insertJobs(
  s: Statements,
  jobs: PreparedJob[],
  options: ResolvedQueueOptions,
): void {
  admit(
    jobs,
    (tenantId) => num((s.tenantQueued.get(tenantId) as Row | undefined)?.queued ?? 0),
    num((s.totalQueued.get() as Row).queued),
    options,
  );
  const groups = new Map<string, { ready: boolean; concurrency: number }>();
  const tenants = new Map<string, number>();
  let ready = 0;
  for (const j of jobs) {
    const state = j.ready ? 'ready' : 'delayed';
    const args = [j.id, j.tenantId, j.group, j.priority, state, j.maxAttempts] as const;
    const rest = [j.payloadJson, j.enqueuedAt, j.runAfter, j.traceparent] as const;
    try {
      s.insertJob.run(...args, ...rest);
    } catch (err) {
      if (!UNIQUE_VIOLATIONS.has((err as { errcode?: number }).errcode ?? -1)) throw err;
      // A finished job may be enqueued again (re-driven); an unfinished one may not.
      if (Number(s.deleteFinished.run(j.id).changes) === 0) {
        throw new RelayError('CONFLICT', `job ${j.id} is already queued or running`);
      }
      s.insertJob.run(...args, ...rest);
    }
    const g = groups.get(j.group);
    groups.set(j.group, { ready: j.ready || (g?.ready ?? false), concurrency: j.concurrency });
    tenants.set(j.tenantId, (tenants.get(j.tenantId) ?? 0) + 1);
    if (j.ready) ready++;
  }
  for (const [grp, g] of groups) s.upsertGroup.run(grp, g.ready ? 1 : 0, g.concurrency);
  for (const [tenantId, n] of tenants) s.addTenantQueued.run(tenantId, n);
  s.addQueued.run(jobs.length, ready > 0 ? 1 : 0);
}

/** Lease up to `n` jobs in fairness order (see fairness.ts). */
export function claimJobs(
  s: Statements,
  workerId: string,
  n: number,
  leaseUntil: number,
  now: number,
) {
  const candidates = (s.candidates.all(now) as Row[])
    .map((r) => ({
      group: r.grp as string,
      supply: num(r.concurrency) > 0 ? num(r.concurrency) - num(r.leased) : Infinity,
    }))
    .filter((c) => c.supply > 0);
  const jobs: LeasedJob[] = [];
  const served = serveRoundRobin(candidates, n, (group) => {
    const row = s.takeOne.get(workerId, leaseUntil, group) as Row | undefined;
    if (row === undefined) {
      // A group left empty by an earlier claim leaves the rotation when found empty:
      // cheaper than probing every served group after each claim.
      s.deactivate.run(group);
      return false;
    }
    jobs.push(toLeased(row, leaseUntil));
    return true;
  });
  if (jobs.length === 0) return jobs;
  // Stamp the served groups in the order of their last turn so the next
  // claim continues the rotation where this one stopped.
  const order = rotationOrder(served);
  const top = num((s.claimed.get(order.length, jobs.length) as Row).served);
  order.forEach((group, i) => s.setServed.run(top - order.length + i + 1, group));
  const perTenant = new Map<string, number>();
  for (const j of jobs) perTenant.set(j.tenantId, (perTenant.get(j.tenantId) ?? 0) + 1);
  for (const [tenantId, k] of perTenant) s.addTenantQueued.run(tenantId, -k);
  return jobs;
}

/** Make due retries ready; returns how many. */
export function promoteDue(s: Statements, now: number): number {
  if (s.hasDue.get(now) === undefined) return 0;
  const rows = s.promoteDue.all(now) as Row[];
  for (const grp of new Set(rows.map((r) => r.grp as string))) s.activateGroup.run(grp);
  s.addQueued.run(0, 1);
  return rows.length;
}

/** Finish a job row (dead, cancelled) and return its completion. */
export function finishJob(
  s: Statements,
  seq: unknown,
  jobId: string,
  result: JobResult,
  now: number,
): Completion {
  const payload = result.payload ?? null;
  s.finish.run(JSON.stringify({ status: result.status, payload }), now, seq as number);
  return { jobId, status: result.status, payload, finishedAt: now };
}

/** Put a leased job back as waiting for attempt + 1; returns whether it is ready now. */
export function requeueJob(s: Statements, row: Row, runAfter: number, now: number): boolean {
  const ready = runAfter <= now;
  s.requeue.run(ready ? 'ready' : 'delayed', Math.max(runAfter, now), row.seq as number);
  s.addTenantQueued.run(row.tenant_id as string, 1);
  s.addQueued.run(1, ready ? 1 : 0);
  if (ready) s.activateGroup.run(row.grp as string);
  return ready;
}

/** A stored completion, or null while the job is unfinished. */
export function readCompletion(s: Statements, jobId: string): Completion | null {
  const row = s.completion.get(jobId) as Row | undefined;
  if (row === undefined) return null;
  const outcome = JSON.parse(row.outcome as string) as JobResult;
  const finishedAt = num(row.finished_at);
  return { jobId, status: outcome.status, payload: outcome.payload, finishedAt };
}
