/**
 * Coalescing of concurrent calls into one backend round trip. A worker
 * running 50 executions completes them one call at a time; sending each
 * as its own transaction would pay a commit (an fsync on Postgres) per
 * job. Calls made while a round trip is in flight wait for it and then go
 * together in the next one, so latency stays one round trip under light
 * load and throughput grows with load.
 */

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
