/**
 * Coalescing of concurrent calls into one backend round trip. A worker
 * running 50 executions completes them one call at a time; sending each
 * as its own transaction would pay a commit (an fsync on Postgres) per
 * job. Calls made while a round trip is in flight wait for it and then go
 * together in the next one, so latency stays one round trip under light
 * load and throughput grows with load.
 */

import type { LeasedJob } from './port.ts';

interface Pending<Req, Res> {
  req: Req;
  resolve: (res: Res) => void;
  reject: (err: unknown) => void;
}

export interface CoalescerOptions {
  /** Most requests in one round trip. */
  maxBatch: number;
  /** Round trips in flight at once. */
  maxInFlight: number;
  /** Size of a request (a claim of n counts n); default 1. */
  weight?: (req: unknown) => number;
}

/** Sends batches of requests through `run`, which answers each request in order. */
export class Coalescer<Req, Res> {
  readonly #run: (reqs: Req[]) => Promise<Res[]>;
  readonly #options: CoalescerOptions;
  #queue: Pending<Req, Res>[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(run: (reqs: Req[]) => Promise<Res[]>, options: CoalescerOptions) {
    this.#run = run;
    this.#options = options;
  }

  /** Queue one request; resolves with its answer from the batch it went in. */
  submit(req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.#queue.push({ req, resolve, reject });
      this.#kick();
    });
  }

  #kick(): void {
    if (
      this.#scheduled ||
      this.#inFlight >= this.#options.maxInFlight ||
      this.#queue.length === 0
    ) {
      return;
    }
    // Wait for the rest of this tick's calls before sending.
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#send();
    });
  }

  #send(): void {
    if (this.#inFlight >= this.#options.maxInFlight || this.#queue.length === 0) return;
    const weight = this.#options.weight ?? (() => 1);
    let total = 0;
    let count = 0;
    while (count < this.#queue.length) {
      const w = weight((this.#queue[count] as Pending<Req, Res>).req);
      if (count > 0 && total + w > this.#options.maxBatch) break;
      total += w;
      count++;
    }
    const batch = this.#queue.splice(0, count);
    this.#inFlight++;
    void this.#run(batch.map((p) => p.req))
      .then(
        (results) => {
          batch.forEach((p, i) => p.resolve(results[i] as Res));
        },
        (err: unknown) => {
          for (const p of batch) p.reject(err);
        },
      )
      .finally(() => {
        this.#inFlight--;
        this.#kick();
      });
  }
}

/**
 * Claims one worker makes while its earlier claims are in flight, merged
 * into one claim of their total size and shared out in call order: one
 * pass over the fairness rotation instead of one per caller. Kept per
 * worker and lease length, since a claim leases to exactly one of each.
 */
export class ClaimCoalescers {
  readonly #claim: (workerId: string, n: number, leaseMs: number) => Promise<LeasedJob[]>;
  readonly #maxInFlight: number;
  readonly #byWorker = new Map<string, Coalescer<number, LeasedJob[]>>();

  constructor(
    claim: (workerId: string, n: number, leaseMs: number) => Promise<LeasedJob[]>,
    maxInFlight: number,
  ) {
    this.#claim = claim;
    this.#maxInFlight = maxInFlight;
  }

  /** Up to `n` jobs for `workerId`, from whichever merged claim this call joins. */
  submit(workerId: string, n: number, leaseMs: number): Promise<LeasedJob[]> {
    const key = `${leaseMs}\u0000${workerId}`;
    let claimer = this.#byWorker.get(key);
    if (claimer === undefined) {
      claimer = new Coalescer<number, LeasedJob[]>(
        async (sizes) => {
          const jobs = await this.#claim(
            workerId,
            sizes.reduce((a, b) => a + b, 0),
            leaseMs,
          );
          return sizes.map((size) => jobs.splice(0, size));
        },
        { maxBatch: 1000, maxInFlight: this.#maxInFlight, weight: (size) => size as number },
      );
      this.#byWorker.set(key, claimer);
    }
    return claimer.submit(n);
  }
}
