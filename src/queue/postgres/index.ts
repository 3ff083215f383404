/**
 * The Postgres queue (pg, loaded only when chosen). Claims lock the next
 * groups of the rotation with FOR UPDATE SKIP LOCKED, so concurrent
 * claimers spread over different tenants, then take each group's planned
 * share of jobs with SKIP LOCKED in one statement. Concurrent claims of one
 * worker and concurrent completes are coalesced (batcher.ts): one commit
 * serves many jobs. NOTIFY is sent on completions and cancels only, never
 * per insert; idle workers poll a sequence with backoff instead.
 */
import { randomBytes } from 'node:crypto';
import type { Client, Pool } from 'pg';
import { RelayError } from '../../domain/index.ts';
import { ClaimCoalescers, Coalescer } from '../batcher.ts';
import { QUEUE_CAPABILITIES } from '../capabilities.ts';
import {
  checkLeaseArgs,
  prepareJobs,
  publicJob,
  resolveOptions,
  type PreparedJob,
  type ResolvedQueueOptions,
} from '../jobs.ts';
import type {
  CancelOutcome,
  Completion,
  FailAction,
  HeartbeatReport,
  Job,
  JobResult,
  LeasedJob,
  NewJob,
  Queue,
  QueueDepth,
  QueueOptions,
  ReapReport,
} from '../port.ts';
import { awaitCompletion, awaitWork, LocalSignals } from '../signals.ts';
import { PgListener } from './listener.ts';
import { claimJobs, shard } from './claim.ts';
import { enqueueCalls } from './enqueue.ts';
import { statements, type Statements } from './sql.ts';
import {
  finishJobs,
  readCompletion,
  readDepth,
  reap,
  requeueJobs,
  withTx,
  type Row,
} from './tx.ts';

export interface PostgresQueueOptions extends QueueOptions {
  /** Schema for the queue tables, created if missing; default `relay_queue`. */
  schema?: string;
  /** Most pooled connections; default 8. */
  poolSize?: number;
}

interface CompleteRequest {
  workerId: string;
  jobId: string;
  outcome: string;
}

/** Connect to Postgres at `url` and create the queue's schema and tables if needed. */
export async function openPostgresQueue(
  url: string,
  options: PostgresQueueOptions = {},
): Promise<PostgresQueue> {
  const pg = (await import('pg')).default;
  const schema = options.schema ?? 'relay_queue';
  if (!/^[a-z_][a-z0-9_]{0,50}$/.test(schema)) {
    throw new RelayError('VALIDATION_FAILED', `invalid queue schema name: ${schema}`);
  }
  // A queue table changes size by orders of magnitude within minutes, so a
  // cached generic plan goes stale (a sequential scan where an index probe
  // is right): plan each execution with its parameters.
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 8,
    options: '-c plan_cache_mode=force_custom_plan',
  });
  // An idle client's error must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const connect = async (): Promise<Client> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  };
  const queue = new PostgresQueue(pool, connect, schema, options);
  try {
    await queue.init();
  } catch (err) {
    await pool.end();
    throw err;
  }
  return queue;
}

export class PostgresQueue implements Queue {
  readonly backend = 'postgres' as const;
  readonly capabilities = QUEUE_CAPABILITIES.postgres;
  readonly #pool: Pool;
  readonly #schema: string;
  readonly #sql: Statements;
  readonly #options: ResolvedQueueOptions;
  readonly #signals = new LocalSignals();
  readonly #channel: string;
  readonly #instance = randomBytes(6).toString('hex');
  readonly #listener: PgListener;
  // Claims of one worker made while its claims are in flight become one claim.
  readonly #claimers = new ClaimCoalescers(
    (workerId, n, leaseMs) => this.#claim(workerId, n, leaseMs),
    4,
  );
  readonly #completer: Coalescer<CompleteRequest, boolean>;
  readonly #enqueuer: Coalescer<PreparedJob[], RelayError | null>;
  /** Group limits this instance has written, so an enqueue touches a group row only on change. */
  readonly #knownGroups = new Map<string, number>();
  #dueCheckedAt = 0;

  constructor(pool: Pool, connect: () => Promise<Client>, schema: string, options: QueueOptions) {
    this.#pool = pool;
    this.#schema = schema;
    this.#sql = statements(`"${schema}"`);
    this.#options = resolveOptions(options);
    this.#channel = `relay_queue:${schema}`;
    this.#listener = new PgListener(connect, this.#channel, (payload) => this.#onNotify(payload));
    this.#completer = new Coalescer((reqs) => this.#completeBatch(reqs), {
      maxBatch: 200,
      maxInFlight: 4,
    });
    this.#enqueuer = new Coalescer((calls) => this.#enqueueBatch(calls), {
      maxBatch: 1000,
      maxInFlight: 2,
      weight: (call) => (call as PreparedJob[]).length,
    });
  }

  /** Create the schema and tables; an advisory lock keeps two starting processes from racing. */
  async init(): Promise<void> {
    await withTx(this.#pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`relay_queue:${this.#schema}`]);
      await c.query(this.#sql.schema);
    });
  }

  #onNotify(payload: string): void {
    if (payload.startsWith('c:')) {
      const [, instance, jobId] = payload.split(':', 3) as [string, string, string];
      // This instance told its own listeners already, when it cancelled.
      if (instance !== this.#instance) this.#signals.cancelled(jobId);
    }
  }

  async enqueue(job: NewJob): Promise<Job> {
    return (await this.enqueueMany([job]))[0] as Job;
  }

  async enqueueMany(jobs: NewJob[]): Promise<Job[]> {
    const prepared = prepareJobs(jobs, Date.now(), this.#options);
    if (prepared.length === 0) return [];
    const refusal = await this.#enqueuer.submit(prepared);
    if (refusal !== null) throw refusal;
    if (prepared.some((j) => j.ready)) this.#signals.workArrived();
    return prepared.map(publicJob);
  }

  async #enqueueBatch(calls: PreparedJob[][]): Promise<(RelayError | null)[]> {
    await this.#registerGroups(calls.flat());
    return enqueueCalls(this.#pool, this.#sql, calls, this.#options, shard);
  }

  async #registerGroups(jobs: PreparedJob[]): Promise<void> {
    const wanted = new Map<string, number>();
    for (const j of jobs) wanted.set(j.group, j.concurrency);
    const changed = [...wanted].filter(([g, c]) => this.#knownGroups.get(g) !== c);
    if (changed.length === 0) return;
    await this.#pool.query(this.#sql.registerGroups, [
      changed.map(([g]) => g),
      changed.map(([, c]) => c),
    ]);
    for (const [g, c] of changed) this.#knownGroups.set(g, c);
  }

  async claim(workerId: string, n: number, leaseMs: number): Promise<LeasedJob[]> {
    checkLeaseArgs(n, leaseMs);
    if (n === 0) return [];
    return this.#claimers.submit(workerId, n, leaseMs);
  }

  async #claim(workerId: string, n: number, leaseMs: number): Promise<LeasedJob[]> {
    const now = Date.now();
    // Due retries are promoted by claims at most once per poll interval per process.
    if (now - this.#dueCheckedAt >= this.#options.pollIntervalMs) {
      this.#dueCheckedAt = now;
      await this.#pool.query(this.#sql.promoteDue(now));
    }
    return claimJobs(this.#pool, this.#sql, workerId, n, now, now + leaseMs);
  }

  async heartbeat(workerId: string, jobIds: string[], leaseMs: number): Promise<HeartbeatReport> {
    checkLeaseArgs(0, leaseMs);
    const now = Date.now();
    const rows = (
      await this.#pool.query(this.#sql.heartbeat, [now + leaseMs, jobIds, workerId, now])
    ).rows as Row[];
    const held = new Map(rows.map((r) => [r.id as string, r.cancel_requested as boolean]));
    return {
      extended: jobIds.filter((id) => held.has(id)),
      lost: jobIds.filter((id) => !held.has(id)),
      cancelled: jobIds.filter((id) => held.get(id) === true),
    };
  }

  async complete(workerId: string, jobId: string, result: JobResult): Promise<boolean> {
    const outcome = JSON.stringify({ status: result.status, payload: result.payload ?? null });
    const done = await this.#completer.submit({ workerId, jobId, outcome });
    if (done) this.#signals.completed({ jobId, ...result, finishedAt: Date.now() });
    return done;
  }

  async #completeBatch(reqs: CompleteRequest[]): Promise<boolean[]> {
    // The same job twice in one batch: only the first may win.
    const first = new Map<string, number>();
    reqs.forEach((r, i) => {
      if (!first.has(r.jobId)) first.set(r.jobId, i);
    });
    const unique = [...first.values()].map((i) => reqs[i] as CompleteRequest);
    const rows = (
      await this.#pool.query({
        name: 'relay_q_complete',
        text: this.#sql.complete,
        values: [
          unique.map((r) => r.jobId),
          unique.map((r) => r.workerId),
          unique.map((r) => r.outcome),
          Date.now(),
          this.#channel,
        ],
      })
    ).rows as Row[];
    const done = new Set(rows.map((r) => r.id as string));
    return reqs.map((r, i) => first.get(r.jobId) === i && done.has(r.jobId));
  }

  async fail(workerId: string, jobId: string, action: FailAction): Promise<boolean> {
    const sql = this.#sql;
    const result = await withTx(this.#pool, async (c) => {
      const now = Date.now();
      const row = (await c.query(sql.held, [jobId, workerId, now])).rows[0] as Row | undefined;
      if (row === undefined) return null;
      if (row.cancel_requested === true) {
        return {
          completion: await finishJobs(
            c,
            sql,
            this.#channel,
            [jobId],
            { status: 'cancelled' },
            now,
          ),
        };
      }
      if ('dead' in action || (row.attempt as number) >= (row.max_attempts as number)) {
        const payload = 'dead' in action ? action.payload : undefined;
        return {
          completion: await finishJobs(
            c,
            sql,
            this.#channel,
            [jobId],
            { status: 'dead', payload },
            now,
          ),
        };
      }
      await requeueJobs(c, sql, [jobId], action.retryAt, now, shard());
      return { ready: action.retryAt <= now };
    });
    if (result === null) return false;
    if (result.completion !== undefined)
      this.#signals.completed(result.completion[0] as Completion);
    if (result.ready === true) this.#signals.workArrived();
    return true;
  }

  async cancel(jobId: string): Promise<CancelOutcome> {
    const sql = this.#sql;
    const result = await withTx(this.#pool, async (c) => {
      const row = (await c.query(sql.lookup, [jobId])).rows[0] as Row | undefined;
      if (row === undefined || row.state === 'done') return { outcome: 'unknown' as const };
      if (row.state === 'running') {
        await c.query(sql.flagCancel, [jobId]);
        await c.query('SELECT pg_notify($1, $2)', [this.#channel, `c:${this.#instance}:${jobId}`]);
        return { outcome: 'signalled' as const };
      }
      await c.query(sql.uncount, [row.tenant_id, shard()]);
      const done = await finishJobs(
        c,
        sql,
        this.#channel,
        [jobId],
        { status: 'cancelled' },
        Date.now(),
      );
      return { outcome: 'cancelled' as const, completion: done[0] };
    });
    if (result.outcome === 'signalled') this.#signals.cancelled(jobId);
    if (result.completion !== undefined) this.#signals.completed(result.completion);
    return result.outcome;
  }

  onCancel(listener: (jobId: string) => void): () => void {
    // Cancels from other processes arrive by NOTIFY; a failed LISTEN leaves the heartbeat path.
    this.#listener.ensure().catch(() => undefined);
    return this.#signals.onCancel(listener);
  }

  async reapExpired(): Promise<ReapReport> {
    const now = Date.now();
    const { report, completions, promoted } = await reap(
      this.#pool,
      this.#sql,
      this.#channel,
      now,
      now - this.#options.completionRetentionMs,
      shard(),
    );
    for (const completion of completions) this.#signals.completed(completion);
    if (report.requeued + promoted > 0) this.#signals.workArrived();
    return report;
  }

  async depth(): Promise<QueueDepth> {
    return readDepth(this.#pool, this.#sql);
  }

  async waitForCompletion(jobId: string, timeoutMs: number): Promise<Completion | null> {
    return awaitCompletion({
      jobId,
      timeoutMs,
      signals: this.#signals,
      check: () => readCompletion(this.#pool, this.#sql, jobId),
      // NOTIFY is the fast path; this poll only covers a dropped LISTEN connection.
      pollMs: Math.max(this.#options.pollIntervalMs, 1000),
      subscribe: (recheck) => this.#listener.watch(jobId, recheck),
    });
  }

  async waitForWork(signal: AbortSignal | undefined, maxWaitMs: number): Promise<boolean> {
    const probe = async () => {
      const row = (await this.#pool.query(this.#sql.workStamp, [Date.now()])).rows[0] as Row;
      return { stamp: String(row.stamp), due: row.due as boolean };
    };
    const base = await probe().catch(() => undefined);
    return awaitWork({
      signal,
      maxWaitMs,
      signals: this.#signals,
      changed: async () => {
        const now = await probe();
        return base === undefined || now.stamp !== base.stamp || now.due;
      },
      // Short first polls keep a busy system's wake-ups quick; the backoff keeps idle ones cheap.
      pollMs: 10,
      maxPollMs: 1000,
    });
  }

  async close(): Promise<void> {
    await this.#listener.close();
    await this.#pool.end();
  }
}
