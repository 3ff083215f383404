/**
 * The SQLite connection the store's parts share: pragmas, a cache of
 * prepared statements, transactions and migrations. node:sqlite is
 * synchronous, so a function body runs to completion before any other
 * store call starts; BEGIN IMMEDIATE takes the write lock up front so
 * other processes on the same file wait on busy_timeout instead of failing
 * mid-transaction.
 */
import { chmodSync, closeSync, openSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { RelayError } from '../../domain/index.ts';
import { nowIso, tenantNotFound } from '../shared.ts';
import { MIGRATIONS } from './migrations.ts';

export type Param = null | number | bigint | string | Uint8Array;

export interface SqliteStoreOptions {
  /** How long a write waits for another process's lock before failing. */
  busyTimeoutMs?: number;
}

/** SQLite's extended result codes for UNIQUE and PRIMARY KEY violations. */
const UNIQUE_VIOLATIONS = new Set([2067, 1555]);
/** SQLite's extended result code for a FOREIGN KEY violation. */
const FOREIGN_KEY_VIOLATION = 787;

function errcode(err: unknown): number {
  return (err as { errcode?: number }).errcode ?? -1;
}

export function isUniqueViolation(err: unknown): boolean {
  return UNIQUE_VIOLATIONS.has(errcode(err));
}

/** Run `write`, turning a uniqueness violation into RelayError CONFLICT with `message`. */
export function conflictOnDuplicate<T>(message: string, write: () => T): T {
  try {
    return write();
  } catch (err) {
    if (isUniqueViolation(err)) throw new RelayError('CONFLICT', message, { cause: err });
    throw err;
  }
}

export class SqliteDb {
  readonly raw: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();

  constructor(path: string, options: SqliteStoreOptions = {}) {
    // Owner-only: SQLite gives the -wal and -shm files the database file's mode.
    if (path !== ':memory:') {
      closeSync(openSync(path, 'a', 0o600));
      chmodSync(path, 0o600);
    }
    this.raw = new DatabaseSync(path, {
      timeout: options.busyTimeoutMs ?? 5000,
      enableForeignKeyConstraints: true,
    });
    // WAL + NORMAL: commits do not fsync (checkpoints do); a power loss may
    // drop the last commits but never corrupts the database.
    this.raw.exec('PRAGMA journal_mode = WAL');
    this.raw.exec('PRAGMA synchronous = NORMAL');
    this.raw.exec('PRAGMA foreign_keys = ON');
  }

  /** A statement prepared once per connection, keyed by its SQL text. */
  q(sql: string): StatementSync {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.raw.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /**
   * Run `write` for a row that references `tenantId`: when a foreign key
   * fails because that tenant does not exist, throw RelayError
   * TENANT_NOT_FOUND instead of the driver's error. The lookup runs only
   * after a failure, so the common path costs nothing extra.
   */
  forTenant<T>(tenantId: string, write: () => T): T {
    try {
      return write();
    } catch (err) {
      if (
        errcode(err) === FOREIGN_KEY_VIOLATION &&
        this.q('SELECT 1 FROM tenants WHERE id = ?').get(tenantId) === undefined
      ) {
        throw tenantNotFound(tenantId, err);
      }
      throw err;
    }
  }

  /** Run `fn` in a write transaction; any throw rolls it back. */
  tx<T>(fn: () => T): T {
    this.q('BEGIN IMMEDIATE').run();
    try {
      const result = fn();
      this.q('COMMIT').run();
      return result;
    } catch (err) {
      this.q('ROLLBACK').run();
      throw err;
    }
  }

  /** Apply pending migrations in one transaction, recording each in relay_migrations. */
  migrate(): void {
    this.tx(() => {
      this.raw.exec(
        'CREATE TABLE IF NOT EXISTS relay_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT',
      );
      const applied = new Set(
        this.raw
          .prepare('SELECT version FROM relay_migrations')
          .all()
          .map((r) => r.version as number),
      );
      const record = this.raw.prepare(
        'INSERT INTO relay_migrations (version, name, applied_at) VALUES (?, ?, ?)',
      );
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue;
        this.raw.exec(m.sql);
        record.run(m.version, m.name, nowIso());
      }
    });
  }

  close(): void {
    if (!this.raw.isOpen) return;
    this.statements.clear();
    this.raw.close();
  }
}
