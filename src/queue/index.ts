/**
 * The queue's public face: the port's types, the capability table and
 * createQueue(), which picks the adapter from a URL. Drivers load on
 * demand, so an embedded install never imports pg or ioredis.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Queue, QueueOptions } from './port.ts';

export type * from './port.ts';
export { DEFAULT_MAX_ATTEMPTS, DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY } from './port.ts';
export { QUEUE_CAPABILITIES } from './capabilities.ts';

export interface CreateQueueOptions extends QueueOptions {
  /** Postgres: schema holding the queue tables (created if missing); default `relay_queue`. */
  schema?: string;
  /** Postgres: most pooled connections; default 8. */
  poolSize?: number;
  /** Redis: key namespace; every key is under the hash tag `{relay:<keyPrefix>}`; default `queue`. */
  keyPrefix?: string;
  /** SQLite: how long a write waits for another process's lock; default 5000 ms. */
  busyTimeoutMs?: number;
}

/**
 * Open the queue a URL names, creating its tables or scripts as needed:
 * `sqlite:<path>`, `postgres://...` (`postgresql://` too) or `redis://...` (`rediss://`).
 */
export async function createQueue(url: string, options: CreateQueueOptions = {}): Promise<Queue> {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const { openSqliteQueue } = await import('./sqlite/index.ts');
    return openSqliteQueue(file, options);
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { openPostgresQueue } = await import('./postgres/index.ts');
    return openPostgresQueue(url, options);
  }
  if (/^rediss?:\/\//.test(url)) {
    const { openRedisQueue } = await import('./redis/index.ts');
    return openRedisQueue(url, options);
  }
  throw new Error(
    `unsupported queue URL: expected sqlite:<path>, postgres://... or redis://..., got ${redact(url)}`,
  );
}

/** A URL fit for an error message: no password. */
function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
}
