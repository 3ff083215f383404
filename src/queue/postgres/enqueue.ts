/**
 * Enqueue for Postgres: concurrent enqueue calls of one process go to the
 * server as one statement (one commit for many API requests), while each
 * call keeps its own all-or-nothing answer. The statement admits or
 * refuses each call whole. It first runs as a plain INSERT; meeting an
 * existing id (a finished job being re-driven, or a concurrent enqueue) it
 * runs again in the variant that replaces finished jobs; should that fail
 * for the batch (a call would be half inserted, or two calls carry the
 * same id), every call is retried alone.
 */
import type { Pool } from 'pg';
import { RelayError } from '../../domain/index.ts';
import { queueFull, tenantDemand, type PreparedJob, type ResolvedQueueOptions } from '../jobs.ts';
import type { Statements } from './sql.ts';
import type { Row } from './tx.ts';

type Answer = RelayError | null;

const UNIQUE_VIOLATION = '23505';

const conflict = () =>
  new RelayError('CONFLICT', 'a job with this id is already queued or running');

/** Enqueue each call atomically; returns, per call, null or the error to throw. */
export async function enqueueCalls(
  pool: Pool,
  sql: Statements,
  calls: PreparedJob[][],
  options: ResolvedQueueOptions,
  shard: () => number,
): Promise<Answer[]> {
  try {
    return await inOneStatement(pool, sql, calls, options, shard(), false);
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
  }
  try {
    return await inOneStatement(pool, sql, calls, options, shard(), true);
  } catch (err) {
    if (calls.length === 1) {
      // A lone call that met a concurrent enqueue of one of its ids: that id is taken.
      if (isUniqueViolation(err)) return [conflict()];
      throw err;
    }
  }
  const answers: Answer[] = [];
  for (const call of calls)
    answers.push(...(await enqueueCalls(pool, sql, [call], options, shard)));
  return answers;
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === UNIQUE_VIOLATION;
}

async function inOneStatement(
  pool: Pool,
  sql: Statements,
  calls: PreparedJob[][],
  options: ResolvedQueueOptions,
  shard: number,
  redrive: boolean,
): Promise<Answer[]> {
  const jobs = calls.flat();
  const callOf = calls.flatMap((call, i) => call.map(() => i));
  const demand = {
    tenants: [] as string[],
    adding: [] as number[],
    limits: [] as number[],
    calls: [] as number[],
  };
  calls.forEach((call, i) => {
    const rows: [string, number, number][] = [['', call.length, options.maxQueuedTotal]];
    for (const [tenantId, d] of tenantDemand(call)) rows.push([tenantId, d.adding, d.limit]);
    for (const [tenantId, adding, limit] of rows) {
      demand.tenants.push(tenantId);
      demand.adding.push(adding);
      demand.limits.push(limit);
      demand.calls.push(i);
    }
  });
  const values = [
    jobs.map((j) => j.id),
    jobs.map((j) => j.tenantId),
    jobs.map((j) => j.group),
    jobs.map((j) => j.priority),
    jobs.map((j) => (j.ready ? 'ready' : 'delayed')),
    jobs.map((j) => j.maxAttempts),
    jobs.map((j) => j.payloadJson),
    jobs.map((j) => j.runAfter),
    jobs.map((j) => j.traceparent),
    callOf,
    jobs.map((j) => j.enqueuedAt),
    demand.tenants,
    demand.adding,
    demand.limits,
    demand.calls,
    shard,
  ];
  const query = redrive
    ? { name: 'relay_q_enqueue_redrive', text: sql.enqueueRedrive, values }
    : { name: 'relay_q_enqueue', text: sql.enqueue, values };
  const rows = (await pool.query(query)).rows as Row[];
  const byCall = new Map(rows.map((r) => [r.call as number, r]));
  return calls.map((_call, i): Answer => {
    const r = byCall.get(i) as Row;
    if (r.refused !== null)
      return queueFull(r.refused === '' ? null : (r.refused as string), options);
    if (r.busy === true) return conflict();
    return null;
  });
}
