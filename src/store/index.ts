/**
 * The control-plane store's public face: the port's types and
 * createStore(), which picks the adapter from a database URL. Adapters are
 * imported on demand so SQLite users never load `pg` (and the other way round).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ControlStore } from './port.ts';

export type * from './port.ts';
export { IDEMPOTENCY_KEY_TAKEN, IDEMPOTENCY_WINDOW_MS, isIdempotencyKeyTaken } from './port.ts';

export interface CreateStoreOptions {
  /** Postgres only: the schema to keep Relay's tables in (created if missing); default `public`. */
  schema?: string;
}

/**
 * Open the store a URL names and apply pending migrations: `sqlite:<path>`,
 * `sqlite::memory:` or `postgres://...` (`postgresql://` too; `?schema=name`
 * picks the schema when `options.schema` does not).
 */
export async function createStore(
  url: string,
  options: CreateStoreOptions = {},
): Promise<ControlStore> {
  let store: ControlStore;
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const { openSqliteStore } = await import('./sqlite/index.ts');
    store = openSqliteStore(file);
  } else if (/^postgres(ql)?:\/\//.test(url)) {
    // `?schema=` lets a setting alone (RELAY_DATABASE_URL) pick the schema, so
    // processes sharing a server can keep apart; the driver never sees it.
    const parsed = new URL(url);
    const schema = options.schema ?? parsed.searchParams.get('schema') ?? undefined;
    parsed.searchParams.delete('schema');
    const { openPostgresStore } = await import('./postgres/index.ts');
    store = await openPostgresStore(parsed.toString(), { schema });
  } else {
    throw new Error(
      `unsupported database URL: expected sqlite:<path> or postgres://..., got ${redact(url)}`,
    );
  }
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/** A URL fit for an error message: no password. */
function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
