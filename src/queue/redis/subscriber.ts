/**
 * The Redis queue's two extra connections, each opened on first use: one
 * in subscriber mode (per-job completion channels and the cancel channel)
 * and one that blocks on the wake-up list for idle workers. Both are hints
 * on top of state the scripts keep, so a lost message costs latency, never
 * correctness.
 */
import type { Redis } from 'ioredis';

export class Subscriber {
  readonly #redis: Redis;
  readonly #cancelChannel: string;
  readonly #onCancel: (message: string) => void;
  readonly #handlers = new Map<string, Set<() => void>>();
  #conn: Redis | undefined;
  #cancels: Promise<unknown> | undefined;

  constructor(redis: Redis, cancelChannel: string, onCancel: (message: string) => void) {
    this.#redis = redis;
    this.#cancelChannel = cancelChannel;
    this.#onCancel = onCancel;
  }

  #connection(): Redis {
    if (this.#conn === undefined) {
      const conn = this.#redis.duplicate();
      conn.on('message', (channel: string, message: string) => {
        if (channel === this.#cancelChannel) this.#onCancel(message);
        else for (const fn of this.#handlers.get(channel) ?? []) fn();
      });
      conn.on('error', () => undefined);
      this.#conn = conn;
    }
    return this.#conn;
  }

  /** Call `fn` on each message of `channel`; resolves once subscribed, with the unsubscribe. */
  async subscribe(channel: string, fn: () => void): Promise<() => void> {
    let set = this.#handlers.get(channel);
    const first = set === undefined;
    if (set === undefined) {
      set = new Set();
      this.#handlers.set(channel, set);
    }
    set.add(fn);
    if (first) await this.#connection().subscribe(channel);
    return () => {
      set.delete(fn);
      if (set.size === 0 && this.#handlers.get(channel) === set) {
        this.#handlers.delete(channel);
        this.#conn?.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  /** Subscribe to the cancel channel (once). */
  listenForCancels(): Promise<unknown> {
    this.#cancels ??= this.#connection().subscribe(this.#cancelChannel);
    return this.#cancels;
  }

  async close(): Promise<void> {
    const conn = this.#conn;
    this.#conn = undefined;
    this.#handlers.clear();
    if (conn !== undefined) await conn.quit().catch(() => conn.disconnect());
  }
}

/** Blocks on the wake-up list for this process's idle waitForWork calls, one BLPOP at a time. */
export class WakeWaiter {
  readonly #redis: Redis;
  readonly #key: string;
  #conn: Redis | undefined;
  #inFlight: Promise<boolean> | undefined;
  #holders = 0;
  #closed = false;

  constructor(redis: Redis, key: string) {
    this.#redis = redis;
    this.#key = key;
  }

  /** Count a waiter in; call the returned function when it stops waiting. */
  hold(): () => void {
    this.#holders++;
    let released = false;
    return () => {
      if (!released) this.#holders--;
      released = true;
    };
  }

  /** True when a wake-up token arrived, false after a second without one. */
  next(): Promise<boolean> {
    this.#inFlight ??= this.#pop().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #pop(): Promise<boolean> {
    if (this.#closed) return false;
    if (this.#conn === undefined) {
      this.#conn = this.#redis.duplicate();
      this.#conn.on('error', () => undefined);
    }
    const got = await this.#conn.blpop(this.#key, 1).catch(() => null);
    if (got === null) return false;
    // Everyone here stopped waiting meanwhile: hand the token to another process.
    if (this.#holders === 0 && !this.#closed) {
      await this.#redis.lpush(this.#key, got[1]).catch(() => undefined);
      return false;
    }
    return true;
  }

  close(): void {
    this.#closed = true;
    this.#conn?.disconnect();
    this.#conn = undefined;
  }
}
