/**
 * One LISTEN connection per queue instance, opened the first time someone
 * waits for a completion or subscribes to cancels. Notifications are
 * hints: a waiter re-reads the row, and a slow poll covers a notification
 * lost while the connection was re-established. Payloads: `d:<job id>`
 * (finished) and `c:<instance>:<job id>` (cancel requested).
 */
import type { Client } from 'pg';

export class PgListener {
  readonly #connect: () => Promise<Client>;
  readonly #channel: string;
  readonly #onMessage: (payload: string) => void;
  readonly #watchers = new Map<string, Set<() => void>>();
  #client: Promise<Client> | undefined;
  #closed = false;

  constructor(
    connect: () => Promise<Client>,
    channel: string,
    onMessage: (payload: string) => void,
  ) {
    this.#connect = connect;
    this.#channel = channel;
    this.#onMessage = onMessage;
  }

  /** Connect and LISTEN unless already done; concurrent callers share one connection. */
  async ensure(): Promise<void> {
    if (this.#closed) return;
    this.#client ??= this.#open();
    try {
      await this.#client;
    } catch (err) {
      this.#client = undefined;
      throw err;
    }
  }

  async #open(): Promise<Client> {
    const client = await this.#connect();
    client.on('notification', (msg) => {
      if (msg.channel !== this.#channel || msg.payload === undefined) return;
      if (msg.payload.startsWith('d:')) {
        for (const fn of this.#watchers.get(msg.payload.slice(2)) ?? []) fn();
      } else this.#onMessage(msg.payload);
    });
    // A broken connection is dropped; the next ensure() opens a new one.
    client.on('error', () => {
      this.#client = undefined;
      client.end().catch(() => undefined);
    });
    await client.query(`LISTEN "${this.#channel.replaceAll('"', '""')}"`);
    if (this.#closed) await client.end();
    return client;
  }

  /** Call `fn` when `jobId` finishes; resolves (listening, if the connection works) with the unsubscribe. */
  async watch(jobId: string, fn: () => void): Promise<() => void> {
    let set = this.#watchers.get(jobId);
    if (set === undefined) {
      set = new Set();
      this.#watchers.set(jobId, set);
    }
    set.add(fn);
    const watchers = set;
    try {
      await this.ensure();
    } catch {
      // Without LISTEN the waiter's poll still finds the completion.
    }
    return () => {
      watchers.delete(fn);
      if (watchers.size === 0 && this.#watchers.get(jobId) === watchers)
        this.#watchers.delete(jobId);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pending = this.#client;
    this.#client = undefined;
    if (pending === undefined) return;
    try {
      await (await pending).end();
    } catch {
      // Already gone.
    }
  }
}
