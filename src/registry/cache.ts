/**
 * A small LRU with a time-to-live, for resolve results. The TTL bounds how
 * stale another process's view can get (several API instances on one
 * Postgres); in this process, invalidation is immediate.
 */

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export interface LruOptions {
  max: number;
  ttlMs: number;
  now?: () => number;
}

/** A Map-backed LRU: Map keeps insertion order, so the first key is the least recently used. */
export class LruCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #max: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  #generation = 0;

  constructor(options: LruOptions) {
    this.#max = options.max;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  /** The cached value, refreshed as most recently used; undefined if absent or expired. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (entry.expiresAt <= this.#now()) return undefined;
    this.#entries.set(key, entry);
    return entry.value;
  }

  /**
   * Store a value computed since `generation()` was read. If anything was
   * invalidated in between, the value may predate that change, so it is dropped.
   */
  set(key: string, value: V, generation: number): void {
    if (generation !== this.#generation) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt: this.#now() + this.#ttlMs });
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  /** A token to pass to `set` after a lookup. */
  generation(): number {
    return this.#generation;
  }

  /** Drop one key. */
  delete(key: string): void {
    this.#generation++;
    this.#entries.delete(key);
  }

  /** Drop every key matching a predicate. */
  deleteWhere(match: (key: string) => boolean): void {
    this.#generation++;
    for (const key of [...this.#entries.keys()]) if (match(key)) this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
