/**
 * The SQLite queue's connection: pragmas, schema, prepared statements and
 * batched write transactions. Calls made in the same tick are written in
 * one IMMEDIATE transaction: a busy worker pays for one commit per batch
 * instead of one per call. An operation that may fail after writing (a
 * multi-job enqueue meeting a duplicate id) runs in its own savepoint so
 * it fails alone; others refuse (RelayError) before writing, so their
 * refusal fails alone too; any other failure rolls the whole batch back.
 */
import { chmodSync, closeSync, openSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { RelayError } from '../../domain/index.ts';
import { SCHEMA, SQL, type StatementName } from './schema.ts';

export type Row = Record<string, unknown>;
export type Statements = Record<StatementName, StatementSync>;

interface Op {
  run: () => unknown;
  atomic: boolean;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export class QueueDb {
  readonly raw: DatabaseSync;
  readonly s: Statements;
  #pending: Op[] = [];
  #scheduled = false;

  constructor(file: string, busyTimeoutMs: number) {
    // Owner-only: SQLite gives the -wal and -shm files the database file's mode.
    if (file !== ':memory:') {
      closeSync(openSync(file, 'a', 0o600));
      chmodSync(file, 0o600);
    }
    this.raw = new DatabaseSync(file, { timeout: busyTimeoutMs });
    // WAL + NORMAL: commits do not fsync (checkpoints do); a power loss may
    // drop the last commits but never corrupts the file.
    this.raw.exec('PRAGMA journal_mode = WAL');
    this.raw.exec('PRAGMA synchronous = NORMAL');
    this.raw.exec(`BEGIN IMMEDIATE; ${SCHEMA} COMMIT;`);
    const s = {} as Statements;
    for (const [name, sql] of Object.entries(SQL)) s[name as StatementName] = this.raw.prepare(sql);
    this.s = s;
  }

  /** Run `fn` in the next batch transaction (in its own savepoint when `atomic`). */
  tx<T>(fn: () => T, atomic = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ run: fn, atomic, resolve: resolve as (v: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  /** Write what is pending now. */
  flush(): void {
    this.#scheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    const s = this.s;
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      s.begin.run();
    } catch (err) {
      for (const op of batch) op.reject(err);
      return;
    }
    try {
      for (const op of batch) {
        if (!op.atomic) {
          try {
            outcomes.push({ ok: true, value: op.run() });
          } catch (err) {
            // A refusal (RelayError) comes before the op writes anything: it fails alone.
            if (!(err instanceof RelayError)) throw err;
            outcomes.push({ ok: false, value: err });
          }
          continue;
        }
        s.savepoint.run();
        try {
          outcomes.push({ ok: true, value: op.run() });
          s.release.run();
        } catch (err) {
          s.rollbackTo.run();
          s.release.run();
          outcomes.push({ ok: false, value: err });
        }
      }
      s.commit.run();
    } catch (err) {
      if (this.raw.isTransaction) s.rollback.run();
      for (const op of batch) op.reject(err);
      return;
    }
    batch.forEach((op, i) => {
      const o = outcomes[i] as { ok: boolean; value: unknown };
      if (o.ok) op.resolve(o.value);
      else op.reject(o.value);
    });
  }

  close(): void {
    if (!this.raw.isOpen) return;
    this.flush();
    this.raw.close();
  }
}
