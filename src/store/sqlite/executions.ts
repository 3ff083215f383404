/**
 * Executions, their logs and attempts on SQLite: the hot path of every
 * call. Each statement is prepared once; updates and listings with optional
 * parts get one cached statement per shape (bit mask of the fields present).
 */
import {
  RelayError,
  type ExecutionAttempt,
  type ExecutionRecord,
  type LogLine,
} from '../../domain/index.ts';
import type { StatementSync } from 'node:sqlite';
import type { ExecutionFilter, ExecutionPatch, NewLogLine } from '../port.ts';
import {
  idempotencyCutoff,
  idempotencyKeyTaken,
  patchFields,
  patchValues,
  safeText,
  toJson,
} from '../shared.ts';
import { isUniqueViolation, type Param, type SqliteDb } from './db.ts';
import * as rows from './rows.ts';

const INSERT = `INSERT INTO executions (${rows.EXECUTION_COLUMNS})
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const BY_ID = `SELECT ${rows.EXECUTION_COLUMNS} FROM executions WHERE id = ?`;
const BY_TENANT_AND_ID = `${BY_ID} AND tenant_id = ?`;
const EXPIRE_KEY = `UPDATE executions SET idempotency_key = NULL
  WHERE tenant_id = ? AND idempotency_key = ? AND created_at < ?`;
// Selecting from executions makes an attempt of an unknown execution a no-op.
const UPSERT_ATTEMPT = `INSERT INTO execution_attempts (${rows.ATTEMPT_COLUMNS})
  SELECT id, ?, ?, ?, ?, ?, ?, ? FROM executions WHERE id = ?
  ON CONFLICT (execution_id, attempt) DO UPDATE SET
    status = excluded.status, error = excluded.error, worker_id = excluded.worker_id,
    started_at = excluded.started_at, finished_at = excluded.finished_at,
    duration_ms = excluded.duration_ms`;

export class SqliteExecutions {
  private readonly db: SqliteDb;
  private readonly patchStatements = new Map<number, StatementSync>();
  private readonly listStatements = new Map<number, StatementSync>();

  constructor(db: SqliteDb) {
    this.db = db;
  }

  insert(e: ExecutionRecord): void {
    const values: Param[] = [
      e.id,
      e.tenantId,
      e.rufid,
      e.version,
      e.branch,
      e.status,
      toJson(e.input),
      toJson(e.output),
      toJson(e.error),
      toJson(e.timings),
      toJson(e.usage),
      e.cost,
      e.attempt,
      e.maxAttempts,
      e.priority,
      e.async ? 1 : 0,
      e.idempotencyKey,
      e.traceparent,
      e.createdAt,
      e.startedAt,
      e.finishedAt,
    ];
    for (let tries = 1; ; tries++) {
      try {
        this.db.q(INSERT).run(...values);
        return;
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        // SQLite may check the key's index before the primary key, so a
        // clash on the key can still be a duplicate id.
        const onKey =
          e.idempotencyKey !== null &&
          String(err).includes('idempotency_key') &&
          this.db.q('SELECT 1 FROM executions WHERE id = ?').get(e.id) === undefined;
        if (!onKey) {
          throw new RelayError('CONFLICT', `execution ${e.id} already exists`, { cause: err });
        }
        if (tries === 2) throw idempotencyKeyTaken(e.idempotencyKey!, err);
        // The holder may be past the window: it gives the key up and we try
        // once more. Still taken means a holder inside the window (or a
        // racer that just took it over): the caller replays that one.
        this.db.q(EXPIRE_KEY).run(e.tenantId, e.idempotencyKey, idempotencyCutoff(e.createdAt));
      }
    }
  }

  update(id: string, patch: ExecutionPatch): void {
    const { mask, values } = patchValues(patch);
    if (mask === 0) return;
    let s = this.patchStatements.get(mask);
    if (s === undefined) {
      const sets = patchFields(mask).map((f) => `${f.column} = ?`);
      s = this.db.raw.prepare(`UPDATE executions SET ${sets.join(', ')} WHERE id = ?`);
      this.patchStatements.set(mask, s);
    }
    s.run(...(values as Param[]), id);
  }

  get(tenantId: string | null, id: string): ExecutionRecord | null {
    const r =
      tenantId === null ? this.db.q(BY_ID).get(id) : this.db.q(BY_TENANT_AND_ID).get(id, tenantId);
    return r === undefined ? null : rows.execution(r);
  }

  list(filter: ExecutionFilter): ExecutionRecord[] {
    const params: Param[] = [filter.tenantId];
    const optional = [filter.status, filter.rufid, filter.branch, filter.cursor];
    let mask = 0;
    for (let i = 0; i < optional.length; i++) {
      const v = optional[i];
      if (v === undefined) continue;
      mask |= 1 << i;
      params.push(v);
    }
    params.push(filter.limit);
    let s = this.listStatements.get(mask);
    if (s === undefined) {
      // A separate shape per filter set keeps `id < ?` a range on the
      // (tenant_id, id DESC) index, so deep pages cost the same as the first.
      const where = ['tenant_id = ?'];
      if (mask & 1) where.push('status = ?');
      if (mask & 2) where.push('rufid = ?');
      if (mask & 4) where.push('branch = ?');
      if (mask & 8) where.push('id < ?');
      s = this.db.raw.prepare(
        `SELECT ${rows.EXECUTION_COLUMNS} FROM executions WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`,
      );
      this.listStatements.set(mask, s);
    }
    return s.all(...params).map(rows.execution);
  }

  findByIdempotencyKey(tenantId: string, key: string, since: string): ExecutionRecord | null {
    const r = this.db
      .q(
        `SELECT ${rows.EXECUTION_COLUMNS} FROM executions
         WHERE tenant_id = ? AND idempotency_key = ? AND created_at >= ?
         ORDER BY created_at DESC LIMIT 1`,
      )
      .get(tenantId, key, since);
    return r === undefined ? null : rows.execution(r);
  }

  appendLogs(executionId: string, lines: NewLogLine[]): void {
    if (lines.length === 0) return;
    this.db.tx(() => {
      // The counter on the execution row hands out seq numbers, so an append
      // never scans the log table and two writers never collide.
      const r = this.db
        .q('UPDATE executions SET log_seq = log_seq + ? WHERE id = ? RETURNING log_seq')
        .get(lines.length, executionId);
      if (r === undefined) return;
      let seq = (r.log_seq as number) - lines.length;
      const insert = this.db.q(
        'INSERT INTO execution_logs (execution_id, seq, stream, logged_at, line) VALUES (?, ?, ?, ?, ?)',
      );
      for (const l of lines) insert.run(executionId, ++seq, l.stream, l.time, safeText(l.line));
    });
  }

  getLogs(executionId: string, afterSeq = 0): LogLine[] {
    return this.db
      .q(
        `SELECT ${rows.LOG_COLUMNS} FROM execution_logs WHERE execution_id = ? AND seq > ? ORDER BY seq`,
      )
      .all(executionId, afterSeq)
      .map(rows.logLine);
  }

  recordAttempt(executionId: string, a: ExecutionAttempt): void {
    this.db
      .q(UPSERT_ATTEMPT)
      .run(
        a.attempt,
        a.status,
        toJson(a.error),
        a.workerId,
        a.startedAt,
        a.finishedAt,
        a.durationMs,
        executionId,
      );
  }

  listAttempts(executionId: string): ExecutionAttempt[] {
    return this.db
      .q(
        `SELECT ${rows.ATTEMPT_COLUMNS} FROM execution_attempts WHERE execution_id = ? ORDER BY attempt`,
      )
      .all(executionId)
      .map(rows.attempt);
  }

  deleteFinishedBefore(before: string): number {
    // One statement, so atomic; logs and attempts go with their execution
    // through ON DELETE CASCADE.
    const res = this.db
      .q('DELETE FROM executions WHERE finished_at IS NOT NULL AND finished_at < ?')
      .run(before);
    return Number(res.changes);
  }
}
