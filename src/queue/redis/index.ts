/**
 * The Redis queue (ioredis, loaded only when chosen): every operation is
 * one Lua script (scripts.ts) on keys under one hash tag, so it works on a
 * Redis Cluster slot. Concurrent claims of one worker and concurrent
 * completes go to Redis as one script call each (batcher.ts). Completions
 * are published on a channel per job (a waiter subscribes to just its
 * job), cancels on one channel, and idle workers block on a wake-up list
 * that enqueues push to.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RelayError } from '../../domain/index.ts';
import { ClaimCoalescers, Coalescer } from '../batcher.ts';
import { QUEUE_CAPABILITIES } from '../capabilities.ts';
import {
  checkLeaseArgs,
  prepareJobs,
  publicJob,
  queueFull,
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
import { SCRIPTS, type ScriptName } from './scripts.ts';
import { Subscriber, WakeWaiter } from './subscriber.ts';

export interface RedisQueueOptions extends QueueOptions {
  /** Key namespace: all keys live under the hash tag `{relay:<keyPrefix>}`; default `queue`. */
  keyPrefix?: string;
}

type Reply = (string | number | null | Reply)[];
type ScriptCall = (base: string, ...args: (string | number)[]) => Promise<unknown>;

interface CompleteRequest {
  workerId: string;
  jobId: string;
  outcome: string;
}

/** Connect to Redis at `url` and load the queue's scripts. */
export async function openRedisQueue(
  url: string,
  options: RedisQueueOptions = {},
): Promise<RedisQueue> {
  const { Redis } = await import('ioredis');
  const prefix = options.keyPrefix ?? 'queue';
  if (!/^[A-Za-z0-9_.:-]{1,100}$/.test(prefix)) {
    throw new RelayError('VALIDATION_FAILED', `invalid queue key prefix: ${prefix}`);
  }
  const redis = new Redis(url, { enableAutoPipelining: true, maxRetriesPerRequest: 3 });
  for (const [name, lua] of Object.entries(SCRIPTS))
    redis.defineCommand(name, { numberOfKeys: 1, lua });
  try {
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return new RedisQueue(redis, `{relay:${prefix}}:`, options);
}

export class RedisQueue implements Queue {
  readonly backend = 'redis' as const;
  readonly capabilities = QUEUE_CAPABILITIES.redis;
  readonly #redis: Redis;
  readonly #base: string;
  readonly #options: ResolvedQueueOptions;
  readonly #signals = new LocalSignals();
  readonly #instance = randomBytes(6).toString('hex');
  readonly #subscriber: Subscriber;
  readonly #wake: WakeWaiter;
  // Claims of one worker made while its claim is in flight become one claim.
  readonly #claimers = new ClaimCoalescers(
    (workerId, n, leaseMs) => this.#claim(workerId, n, leaseMs),
    1,
  );
  readonly #completer: Coalescer<CompleteRequest, boolean>;
  readonly #enqueuer: Coalescer<PreparedJob[], RelayError | null>;

  constructor(redis: Redis, base: string, options: QueueOptions) {
    this.#redis = redis;
    this.#base = base;
    this.#options = resolveOptions(options);
    this.#subscriber = new Subscriber(redis, `${base}cancel`, (message) => {
      const [instance, jobId] = [message.slice(0, 12), message.slice(13)];
      // This instance told its own listeners already, when it cancelled.
      if (instance !== this.#instance) this.#signals.cancelled(jobId);
    });
    this.#wake = new WakeWaiter(redis, `${base}wake`);
    this.#enqueuer = new Coalescer((calls) => this.#enqueueBatch(calls), {
      maxBatch: 1000,
      maxInFlight: 2,
      weight: (call) => (call as PreparedJob[]).length,
    });
    this.#completer = new Coalescer((reqs) => this.#completeBatch(reqs), {
      maxBatch: 200,
      maxInFlight: 2,
    });
  }

  #script(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    return (this.#redis as unknown as Record<ScriptName, ScriptCall>)[name](this.#base, ...args);
  }

  #outcome(status: JobResult['status'], payload: unknown, finishedAt: number): string {
    return JSON.stringify({ status, payload: payload ?? null, finishedAt });
  }

  #completion(jobId: string, json: string): Completion {
    const c = JSON.parse(json) as {
      status: Completion['status'];
      payload: unknown;
      finishedAt: number;
    };
    return { jobId, status: c.status, payload: c.payload, finishedAt: c.finishedAt };
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

  /** Concurrent enqueue calls in one script call; each is admitted or refused whole. */
  async #enqueueBatch(calls: PreparedJob[][]): Promise<(RelayError | null)[]> {
    const args: (string | number)[] = [Date.now(), this.#options.maxQueuedTotal, calls.length];
    for (const call of calls) {
      args.push(call.length);
      for (const j of call) {
        args.push(j.id, j.tenantId, j.group, j.priority, j.maxAttempts, j.payloadJson, j.runAfter);
        args.push(
          j.traceparent ?? '',
          j.concurrency,
          j.maxQueued,
          j.ready ? '1' : '0',
          j.enqueuedAt,
        );
      }
    }
    const answers = (await this.#script('relayEnqueue', ...args)) as string[];
    return answers.map((answer) => {
      if (answer === 'ok') return null;
      const detail = answer.slice(answer.indexOf(':') + 1);
      if (answer.startsWith('full:'))
        return queueFull(detail === '' ? null : detail, this.#options);
      return new RelayError('CONFLICT', `job ${detail} is already queued or running`);
    });
  }

  async claim(workerId: string, n: number, leaseMs: number): Promise<LeasedJob[]> {
    checkLeaseArgs(n, leaseMs);
    if (n === 0) return [];
    return this.#claimers.submit(workerId, n, leaseMs);
  }

  async #claim(workerId: string, n: number, leaseMs: number): Promise<LeasedJob[]> {
    const now = Date.now();
    const leaseUntil = now + leaseMs;
    const flat = (await this.#script('relayClaim', now, n, workerId, leaseUntil)) as (
      string | null
    )[];
    const jobs: LeasedJob[] = [];
    for (let i = 0; i < flat.length; i += 10) {
      const [
        id,
        group,
        tenantId,
        priority,
        attempt,
        maxAttempts,
        payload,
        enqueuedAt,
        runAfter,
        tp,
      ] = flat.slice(i, i + 10) as string[];
      jobs.push({
        id: id as string,
        tenantId: tenantId as string,
        group: group as string,
        priority: Number(priority),
        attempt: Number(attempt),
        maxAttempts: Number(maxAttempts),
        payload: JSON.parse(payload as string),
        enqueuedAt: Number(enqueuedAt),
        runAfter: Number(runAfter),
        traceparent: tp === undefined || tp === '' ? null : tp,
        leaseUntil,
      });
    }
    return jobs;
  }

  async heartbeat(workerId: string, jobIds: string[], leaseMs: number): Promise<HeartbeatReport> {
    checkLeaseArgs(0, leaseMs);
    const report: HeartbeatReport = { extended: [], lost: [], cancelled: [] };
    if (jobIds.length === 0) return report;
    const now = Date.now();
    const codes = (await this.#script(
      'relayHeartbeat',
      now,
      now + leaseMs,
      workerId,
      ...jobIds,
    )) as number[];
    jobIds.forEach((id, i) => {
      if (codes[i] === 0) report.lost.push(id);
      else report.extended.push(id);
      if (codes[i] === 2) report.cancelled.push(id);
    });
    return report;
  }

  async complete(workerId: string, jobId: string, result: JobResult): Promise<boolean> {
    const finishedAt = Date.now();
    const outcome = this.#outcome(result.status, result.payload, finishedAt);
    const done = await this.#completer.submit({ workerId, jobId, outcome });
    if (done) this.#signals.completed({ jobId, ...result, finishedAt });
    return done;
  }

  async #completeBatch(reqs: CompleteRequest[]): Promise<boolean[]> {
    const args: string[] = [];
    for (const r of reqs) args.push(r.workerId, r.jobId, r.outcome);
    const codes = (await this.#script('relayComplete', Date.now(), ...args)) as number[];
    return codes.map((c) => c === 1);
  }

  async fail(workerId: string, jobId: string, action: FailAction): Promise<boolean> {
    const now = Date.now();
    const payload = 'dead' in action ? action.payload : undefined;
    const reply = (await this.#script(
      'relayFail',
      now,
      workerId,
      jobId,
      'dead' in action ? '' : action.retryAt,
      this.#outcome('dead', payload, now),
      this.#outcome('cancelled', undefined, now),
    )) as [number, string?];
    if (reply[0] === 0) return false;
    if (reply[0] === 1) this.#signals.completed(this.#completion(jobId, reply[1] as string));
    if (reply[0] === 2) this.#signals.workArrived();
    return true;
  }

  async cancel(jobId: string): Promise<CancelOutcome> {
    const now = Date.now();
    const cancelled = this.#outcome('cancelled', undefined, now);
    const outcome = (await this.#script(
      'relayCancel',
      now,
      jobId,
      this.#instance,
      cancelled,
    )) as CancelOutcome;
    if (outcome === 'signalled') this.#signals.cancelled(jobId);
    if (outcome === 'cancelled') this.#signals.completed(this.#completion(jobId, cancelled));
    return outcome;
  }

  onCancel(listener: (jobId: string) => void): () => void {
    // Cancels from other processes arrive on the channel; a failed subscribe leaves the heartbeat path.
    this.#subscriber.listenForCancels().catch(() => undefined);
    return this.#signals.onCancel(listener);
  }

  async reapExpired(): Promise<ReapReport> {
    const now = Date.now();
    const dead = this.#outcome('dead', undefined, now);
    const cancelled = this.#outcome('cancelled', undefined, now);
    const reply = (await this.#script(
      'relayReap',
      now,
      this.#options.completionRetentionMs,
      500,
      dead,
      cancelled,
    )) as (number | string)[];
    const [requeued, deadCount, promoted, purged] = reply as [number, number, number, number];
    for (let i = 4; i < reply.length; i += 2) {
      this.#signals.completed(
        this.#completion(reply[i] as string, reply[i + 1] === 'd' ? dead : cancelled),
      );
    }
    if (requeued + promoted > 0) this.#signals.workArrived();
    return { requeued, dead: deadCount, purged };
  }

  async depth(): Promise<QueueDepth> {
    const now = Date.now();
    const [delayed, running, queuedFlat, groups] = (await this.#script('relayDepth')) as [
      number,
      number,
      string[],
      Reply,
    ];
    const depth: QueueDepth = { ready: 0, delayed, running, tenants: [] };
    const oldest = new Map<string, number>();
    for (let i = 0; i < groups.length; i += 4) {
      const tenantId = groups[i + 1] as string;
      depth.ready += Number(groups[i + 2]);
      const r = groups[i + 3] as string;
      if (r !== '') oldest.set(tenantId, Math.min(oldest.get(tenantId) ?? Infinity, Number(r)));
    }
    for (let i = 0; i < queuedFlat.length; i += 2) {
      const tenantId = queuedFlat[i] as string;
      const queued = Number(queuedFlat[i + 1]);
      if (tenantId === '' || queued <= 0) continue;
      const o = oldest.get(tenantId);
      depth.tenants.push({
        tenantId,
        queued,
        oldestReadyAgeMs: o === undefined ? null : Math.max(0, now - o),
      });
    }
    return depth;
  }

  async waitForCompletion(jobId: string, timeoutMs: number): Promise<Completion | null> {
    const channel = `${this.#base}done:${jobId}`;
    return awaitCompletion({
      jobId,
      timeoutMs,
      signals: this.#signals,
      check: async () => {
        const json = await this.#redis.hget(`${this.#base}done`, jobId);
        return json === null ? null : this.#completion(jobId, json);
      },
      // The channel is the fast path; this poll only covers a dropped subscription.
      pollMs: Math.max(this.#options.pollIntervalMs, 1000),
      subscribe: (recheck) => this.#subscriber.subscribe(channel, recheck),
    });
  }

  async waitForWork(signal: AbortSignal | undefined, maxWaitMs: number): Promise<boolean> {
    const release = this.#wake.hold();
    try {
      // next() blocks on Redis for up to a second, so it is polled back to back.
      const changed = () => this.#wake.next();
      return await awaitWork({
        signal,
        maxWaitMs,
        signals: this.#signals,
        changed,
        pollMs: 0,
        maxPollMs: 0,
      });
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    await this.#subscriber.close();
    this.#wake.close();
    await this.#redis.quit();
  }
}
