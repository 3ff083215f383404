/**
 * Concurrency slots: at most `capacity` executions run at once in this
 * worker (EXECUTION_CONCURRENCY); later callers wait in arrival order.
 */
import { RelayError } from '../domain/index.ts';

export class Slots {
  readonly capacity: number;
  #used = 0;
  readonly #waiters: Array<() => void> = [];

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get used(): number {
    return this.#used;
  }

  get free(): number {
    return this.capacity - this.#used;
  }

  /** Resolves once a slot is held; rejects if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (this.#used < this.capacity) {
      this.#used++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        this.#used++;
        resolve();
      };
      const onAbort = () => {
        const i = this.#waiters.indexOf(grant);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new RelayError('UNAVAILABLE', 'gave up waiting for an execution slot'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(grant);
    });
  }

  release(): void {
    if (this.#used === 0) throw new Error('Slots.release without acquire');
    this.#used--;
    this.#waiters.shift()?.();
  }
}
