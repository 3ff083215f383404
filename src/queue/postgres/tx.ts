/**
 * Small helpers of the Postgres adapter: transactions on a pooled client,
 * row mapping, the two multi-row moves several operations share (finish
 * jobs with a completion, put jobs back for another attempt) and reads.
 */
import type { Pool, PoolClient } from 'pg';
import type { Completion, JobResult, LeasedJob, QueueDepth, ReapReport } from '../port.ts';
import type { Statements } from './sql.ts';

export type Row = Record<string, unknown>;

/** Run `fn` in a transaction on one pooled client; any throw rolls it back. */
export async function withTx<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** A claimed row as the port's job (pg returns bigint columns as strings). */
export function toLeased(row: Row, leaseUntil: number): LeasedJob {
  return {
    id: row.id as string,
    tenantId: row.tenant_id as string,
    group: row.grp as string,
    priority: row.priority as number,
    attempt: row.attempt as number,
    maxAttempts: row.max_attempts as number,
    payload: JSON.parse(row.payload as string),
    enqueuedAt: Number(row.enqueued_at),
    runAfter: Number(row.run_after),
    traceparent: (row.traceparent as string | null) ?? null,
    leaseUntil,
  };
}

/** Finish jobs with one result and notify waiters (at commit); returns their completions. */
export async function finishJobs(
  client: PoolClient,
  sql: Statements,
  channel: string,
  ids: string[],
  result: JobResult,
  now: number,
): Promise<Completion[]> {
  if (ids.length === 0) return [];
  const payload = result.payload ?? null;
  const outcome = JSON.stringify({ status: result.status, payload });
  for (const id of ids) await client.query(sql.finish, [id, outcome, now, channel]);
  return ids.map((jobId) => ({ jobId, status: result.status, payload, finishedAt: now }));
}

/** Put leased jobs back as waiting for attempt + 1 at `runAfter` (counted as queued again). */
export async function requeueJobs(
  client: PoolClient,
  sql: Statements,
  ids: string[],
  runAfter: number,
  now: number,
  shard: number,
): Promise<void> {
  for (const id of ids) await client.query(sql.requeue, [id, Math.max(runAfter, now), now, shard]);
}

/** A stored completion, or null while the job is unfinished. */
export async function readCompletion(
  pool: Pool,
  sql: Statements,
  jobId: string,
): Promise<Completion | null> {
  const row = (await pool.query(sql.completion, [jobId])).rows[0] as Row | undefined;
  if (row === undefined) return null;
  const outcome = JSON.parse(row.outcome as string) as JobResult;
  const finishedAt = Number(row.finished_at);
  return { jobId, status: outcome.status, payload: outcome.payload, finishedAt };
}

/** Counts by state and per tenant (a scan: for metrics). */
export async function readDepth(pool: Pool, sql: Statements): Promise<QueueDepth> {
  const now = Date.now();
  const depth: QueueDepth = { ready: 0, delayed: 0, running: 0, tenants: [] };
  const tenants = new Map<string, { queued: number; oldest: number | null }>();
  for (const r of (await pool.query(sql.depth)).rows as Row[]) {
    const state = r.state as 'ready' | 'delayed' | 'running';
    const n = r.n as number;
    depth[state] += n;
    if (state === 'running') continue;
    const t = tenants.get(r.tenant_id as string) ?? { queued: 0, oldest: null };
    t.queued += n;
    if (state === 'ready') t.oldest = Number(r.oldest);
    tenants.set(r.tenant_id as string, t);
  }
  for (const [tenantId, t] of tenants) {
    const oldestReadyAgeMs = t.oldest === null ? null : Math.max(0, now - t.oldest);
    depth.tenants.push({ tenantId, queued: t.queued, oldestReadyAgeMs });
  }
  return depth;
}

/**
 * Expired leases back to ready (attempt + 1) or finished (dead, or cancelled
 * when a cancel was asked for); then due retries promoted and completions
 * older than `purgeBefore` deleted.
 */
export async function reap(
  pool: Pool,
  sql: Statements,
  channel: string,
  now: number,
  purgeBefore: number,
  shard: number,
): Promise<{ report: ReapReport; completions: Completion[]; promoted: number }> {
  const report: ReapReport = { requeued: 0, dead: 0, purged: 0 };
  const completions = await withTx(pool, async (c) => {
    const rows = (await c.query(sql.expired, [now])).rows as Row[];
    const ids = (keep: (r: Row) => boolean) => rows.filter(keep).map((r) => r.id as string);
    const cancelled = ids((r) => r.cancel_requested === true);
    const retry = ids(
      (r) => r.cancel_requested !== true && (r.attempt as number) < (r.max_attempts as number),
    );
    const dead = ids(
      (r) => r.cancel_requested !== true && (r.attempt as number) >= (r.max_attempts as number),
    );
    report.requeued = retry.length;
    report.dead = dead.length;
    await requeueJobs(c, sql, retry, now, now, shard);
    return [
      ...(await finishJobs(c, sql, channel, cancelled, { status: 'cancelled' }, now)),
      ...(await finishJobs(c, sql, channel, dead, { status: 'dead' }, now)),
    ];
  });
  const promoted = (await pool.query(sql.promoteDue(now))).rowCount ?? 0;
  // Promoted jobs are new work for idle workers polling the sequence.
  if (promoted > 0) await pool.query(sql.bumpStamp);
  report.purged = (await pool.query(sql.purge, [purgeBefore])).rowCount ?? 0;
  return { report, completions, promoted };
}
