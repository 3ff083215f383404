/**
 * The Postgres connection pool the store's parts share: schema selection,
 * named (server-prepared) statements, transactions and migrations. `pg` is
 * imported here on demand so SQLite deployments never load it.
 *
 * Durability rule: every commit waits for the WAL flush (the server's
 * synchronous_commit), except statements that join RELAXED_COMMIT. Those are
 * the hot-path writes whose loss in a Postgres crash is harmless, because a
 * later durable write supersedes them or the record still reads sensibly
 * without them: log appends, the `running` transition and attempt records.
 * Execution inserts, terminal statuses, and everything of the control plane
 * (tenants, keys, functions, the ledger, secrets) stay durable. A durable
 * commit flushes the WAL up to itself, so it also makes every relaxed commit
 * before it durable: a finished execution never loses its logs.
 */
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { RelayError } from '../../domain/index.ts';
import { nowIso, tenantNotFound } from '../shared.ts';
import { MIGRATIONS } from './migrations.ts';

export interface PostgresStoreOptions {
  /** Schema holding Relay's tables, created if missing; default `public`. */
  schema?: string;
  /** Pool size; default 10. */
  maxConnections?: number;
}

/** Lowercase and unquoted, so it means the same in CREATE SCHEMA and in search_path. */
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * A FROM item that turns off the wait for the WAL flush for the commit of
 * the statement it joins: set_config(..., true) is SET LOCAL inside the
 * statement's own implicit transaction, so it costs no extra round trip.
 * It yields one row, so joining it changes no result.
 */
export const RELAXED_COMMIT =
  "(SELECT set_config('synchronous_commit', 'off', true)) AS relaxed_commit";

/** The violated unique index or constraint, when `err` is a unique violation (23505). */
export function uniqueViolation(err: unknown): string | null {
  const e = err as { code?: string; constraint?: string };
  return e.code === '23505' ? (e.constraint ?? '') : null;
}

/** Run `write`, turning a unique violation (23505) into RelayError CONFLICT with `message`. */
export async function conflictOnDuplicate<T>(message: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (uniqueViolation(err) !== null) throw new RelayError('CONFLICT', message, { cause: err });
    throw err;
  }
}

export class PgDb {
  readonly pool: Pool;
  readonly schema: string;

  private constructor(pool: Pool, schema: string) {
    this.pool = pool;
    this.schema = schema;
  }

  /** Create the pool; every connection starts with search_path set to the schema. */
  static async connect(url: string, options: PostgresStoreOptions = {}): Promise<PgDb> {
    const schema = options.schema ?? 'public';
    if (!SCHEMA_PATTERN.test(schema)) {
      throw new Error(
        `invalid Postgres schema name ${JSON.stringify(schema)}: use [a-z_][a-z0-9_]*`,
      );
    }
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      // A startup parameter costs no round trip, unlike a SET on 'connect'.
      options: `-c search_path=${schema}`,
      application_name: 'relay',
    });
    // An idle client that dies (server restart) is dropped by the pool and
    // the next query reconnects; without a listener the event would crash
    // the process. Errors of real queries still reach their callers.
    pool.on('error', () => {});
    return new PgDb(pool, schema);
  }

  /** One statement; `name` makes the server prepare it once per connection. */
  async query<R extends QueryResultRow>(
    name: string | undefined,
    text: string,
    values: unknown[] = [],
  ): Promise<R[]> {
    const res = await this.pool.query<R>(
      name === undefined ? { text, values } : { name, text, values },
    );
    return res.rows;
  }

  /** One statement for its effect: the number of rows it touched. */
  async run(name: string | undefined, text: string, values: unknown[] = []): Promise<number> {
    const res = await this.pool.query(
      name === undefined ? { text, values } : { name, text, values },
    );
    return res.rowCount ?? 0;
  }

  /**
   * Run `write` for a row that references `tenantId`: when a foreign key
   * fails (23503) because that tenant does not exist, throw RelayError
   * TENANT_NOT_FOUND instead of the driver's error. The lookup runs only
   * after a failure, so the common path costs nothing extra.
   */
  async forTenant<T>(tenantId: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if ((err as { code?: string }).code === '23503') {
        const found = await this.query(
          'relay_tenant_exists',
          'SELECT 1 FROM tenants WHERE id = $1',
          [tenantId],
        );
        if (found.length === 0) throw tenantNotFound(tenantId, err);
      }
      throw err;
    }
  }

  /** Run `fn` in a transaction on one client; any throw rolls it back. */
  async tx<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /** Create the schema and apply pending migrations in one transaction, one process at a time. */
  async migrate(): Promise<void> {
    await this.tx(async (c) => {
      // Concurrent starts (API and workers) wait here instead of racing on DDL.
      await c.query(
        "SELECT pg_advisory_xact_lock(hashtext('relay_store_migrations'), hashtext($1))",
        [this.schema],
      );
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await c.query(
        'CREATE TABLE IF NOT EXISTS relay_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)',
      );
      const { rows } = await c.query<{ version: number }>('SELECT version FROM relay_migrations');
      const applied = new Set(rows.map((r) => r.version));
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue;
        await c.query(m.sql);
        await c.query(
          'INSERT INTO relay_migrations (version, name, applied_at) VALUES ($1, $2, $3)',
          [m.version, m.name, nowIso()],
        );
      }
    });
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
