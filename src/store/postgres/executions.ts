/**
 * Executions, their logs and attempts on Postgres: the hot path of every
 * call. Hot statements are named, so each pooled connection prepares them
 * once; updates and listings with optional parts get one statement per
 * shape (bit mask of the fields present). Log appends, the `running`
 * transition and attempt records commit without waiting for the WAL flush
 * (RELAXED_COMMIT; the rule is in db.ts).
 */
import {
  RelayError,
  type ExecutionAttempt,
  type ExecutionRecord,
  type LogLine,
} from '../../domain/index.ts';
import type { ExecutionFilter, ExecutionPatch, NewLogLine } from '../port.ts';
import {
  idempotencyCutoff,
  idempotencyKeyTaken,
  PATCH_FIELDS,
  patchFields,
  patchValues,
  safeText,
  toJson,
} from '../shared.ts';
import { RELAXED_COMMIT, uniqueViolation, type PgDb } from './db.ts';
import * as rows from './rows.ts';

const INSERT = `INSERT INTO executions (${rows.EXECUTION_COLUMNS})
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`;
const BY_ID = `SELECT ${rows.EXECUTION_COLUMNS} FROM executions WHERE id = $1`;
const BY_TENANT_AND_ID = `${BY_ID} AND tenant_id = $2`;
const EXPIRE_KEY = `UPDATE executions SET idempotency_key = NULL
  WHERE tenant_id = $1 AND idempotency_key = $2 AND created_at < $3`;
/** The unique index of migration 3. */
const IDEMPOTENCY_INDEX = 'executions_idempotency_key';
/** Above every patch mask: marks the relaxed-commit shape of an update. */
const RELAXED_BIT = 1 << PATCH_FIELDS.length;

// One statement: the counter on the execution row hands out seq numbers
// (its row lock orders concurrent appends), and unnest inserts the batch.
const APPEND_LOGS = `WITH s AS (
    UPDATE executions SET log_seq = log_seq + $2 WHERE id = $1 RETURNING log_seq - $2 AS base
  )
  INSERT INTO execution_logs (execution_id, seq, stream, logged_at, line)
  SELECT $1, s.base + t.ord, t.stream, t.logged_at, t.line
  FROM s, ${RELAXED_COMMIT},
    unnest($3::text[], $4::timestamptz[], $5::text[]) WITH ORDINALITY AS t(stream, logged_at, line, ord)`;

// Joining executions makes an attempt of an unknown execution a no-op; the
// casts type parameters that a SELECT list, unlike VALUES, leaves untyped.
const UPSERT_ATTEMPT = `INSERT INTO execution_attempts (${rows.ATTEMPT_COLUMNS})
  SELECT e.id, $2::integer, $3::text, $4::json, $5::text, $6::timestamptz, $7::timestamptz,
    $8::double precision
  FROM executions AS e, ${RELAXED_COMMIT}
  WHERE e.id = $1
  ON CONFLICT (execution_id, attempt) DO UPDATE SET
    status = EXCLUDED.status, error = EXCLUDED.error, worker_id = EXCLUDED.worker_id,
    started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,
    duration_ms = EXCLUDED.duration_ms`;

export class PgExecutions {
  private readonly db: PgDb;
  private readonly updateSql = new Map<number, string>();
  private readonly listSql = new Map<number, string>();

  constructor(db: PgDb) {
    this.db = db;
  }

  async insert(e: ExecutionRecord): Promise<void> {
    const values = [
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
      e.async,
      e.idempotencyKey,
      e.traceparent,
      e.createdAt,
      e.startedAt,
      e.finishedAt,
    ];
    for (let tries = 1; ; tries++) {
      try {
        await this.db.query('relay_exec_insert', INSERT, values);
        return;
      } catch (err) {
        const index = uniqueViolation(err);
        if (index === null) throw err;
        // Which index reports a row that clashes on both is not a promise
        // Postgres makes, so a clash on the key checks the id too.
        const onKey =
          index === IDEMPOTENCY_INDEX && e.idempotencyKey !== null && !(await this.exists(e.id));
        if (!onKey) {
          throw new RelayError('CONFLICT', `execution ${e.id} already exists`, { cause: err });
        }
        if (tries === 2) throw idempotencyKeyTaken(e.idempotencyKey!, err);
        // The holder may be past the window: it gives the key up and we try
        // once more. Still taken means a holder inside the window (or a
        // racer that just took it over): the caller replays that one.
        await this.db.run('relay_exec_expire_key', EXPIRE_KEY, [
          e.tenantId,
          e.idempotencyKey,
          idempotencyCutoff(e.createdAt),
        ]);
      }
    }
  }

  private async exists(id: string): Promise<boolean> {
    const rs = await this.db.query('relay_exec_exists', 'SELECT 1 FROM executions WHERE id = $1', [
      id,
    ]);
    return rs.length > 0;
  }

  async update(id: string, patch: ExecutionPatch): Promise<void> {
    const { mask, values } = patchValues(patch);
    if (mask === 0) return;
    // Only the `running` transition may be lost in a crash: the terminal
    // write that follows it is durable and says everything it said.
    const shape = patch.status === 'running' ? mask | RELAXED_BIT : mask;
    let sql = this.updateSql.get(shape);
    if (sql === undefined) {
      const sets = patchFields(mask).map((f, i) => `${f.column} = $${i + 2}`);
      const from = shape === mask ? '' : ` FROM ${RELAXED_COMMIT}`;
      sql = `UPDATE executions SET ${sets.join(', ')}${from} WHERE id = $1`;
      this.updateSql.set(shape, sql);
    }
    await this.db.query(`relay_exec_update_${shape}`, sql, [id, ...values]);
  }

  async get(tenantId: string | null, id: string): Promise<ExecutionRecord | null> {
    const [r] =
      tenantId === null
        ? await this.db.query<rows.ExecutionRow>('relay_exec_get', BY_ID, [id])
        : await this.db.query<rows.ExecutionRow>('relay_exec_get_tenant', BY_TENANT_AND_ID, [
            id,
            tenantId,
          ]);
    return r === undefined ? null : rows.execution(r);
  }

  async list(filter: ExecutionFilter): Promise<ExecutionRecord[]> {
    const params: unknown[] = [filter.tenantId];
    const optional = [filter.status, filter.rufid, filter.branch, filter.cursor];
    let mask = 0;
    for (let i = 0; i < optional.length; i++) {
      const v = optional[i];
      if (v === undefined) continue;
      mask |= 1 << i;
      params.push(v);
    }
    params.push(filter.limit);
    let sql = this.listSql.get(mask);
    if (sql === undefined) {
      // A separate shape per filter set keeps `id < $n` a range on the
      // (tenant_id, id DESC) index, so deep pages cost the same as the first.
      const where = ['tenant_id = $1'];
      const columns = ['status', 'rufid', 'branch', 'id'];
      const ops = ['=', '=', '=', '<'];
      for (let i = 0; i < columns.length; i++) {
        if (mask & (1 << i)) where.push(`${columns[i]} ${ops[i]} $${where.length + 1}`);
      }
      sql = `SELECT ${rows.EXECUTION_COLUMNS} FROM executions WHERE ${where.join(' AND ')}
        ORDER BY id DESC LIMIT $${where.length + 1}`;
      this.listSql.set(mask, sql);
    }
    const rs = await this.db.query<rows.ExecutionRow>(`relay_exec_list_${mask}`, sql, params);
    return rs.map(rows.execution);
  }

  async findByIdempotencyKey(
    tenantId: string,
    key: string,
    since: string,
  ): Promise<ExecutionRecord | null> {
    const [r] = await this.db.query<rows.ExecutionRow>(
      'relay_exec_idempotency',
      `SELECT ${rows.EXECUTION_COLUMNS} FROM executions
       WHERE tenant_id = $1 AND idempotency_key = $2 AND created_at >= $3
       ORDER BY created_at DESC LIMIT 1`,
      [tenantId, key, since],
    );
    return r === undefined ? null : rows.execution(r);
  }

  async appendLogs(executionId: string, lines: NewLogLine[]): Promise<void> {
    if (lines.length === 0) return;
    await this.db.query('relay_logs_append', APPEND_LOGS, [
      executionId,
      lines.length,
      lines.map((l) => l.stream),
      lines.map((l) => l.time),
      lines.map((l) => safeText(l.line)),
    ]);
  }

  async getLogs(executionId: string, afterSeq = 0): Promise<LogLine[]> {
    const rs = await this.db.query<rows.LogRow>(
      'relay_logs_get',
      `SELECT ${rows.LOG_COLUMNS} FROM execution_logs WHERE execution_id = $1 AND seq > $2 ORDER BY seq`,
      [executionId, afterSeq],
    );
    return rs.map(rows.logLine);
  }

  async recordAttempt(executionId: string, a: ExecutionAttempt): Promise<void> {
    await this.db.query('relay_attempt_upsert', UPSERT_ATTEMPT, [
      executionId,
      a.attempt,
      a.status,
      toJson(a.error),
      a.workerId,
      a.startedAt,
      a.finishedAt,
      a.durationMs,
    ]);
  }

  async listAttempts(executionId: string): Promise<ExecutionAttempt[]> {
    const rs = await this.db.query<rows.AttemptRow>(
      'relay_attempts_list',
      `SELECT ${rows.ATTEMPT_COLUMNS} FROM execution_attempts WHERE execution_id = $1 ORDER BY attempt`,
      [executionId],
    );
    return rs.map(rows.attempt);
  }

  async deleteFinishedBefore(before: string): Promise<number> {
    // Logs and attempts go with their execution through ON DELETE CASCADE.
    return this.db.run(
      undefined,
      'DELETE FROM executions WHERE finished_at IS NOT NULL AND finished_at < $1',
      [before],
    );
  }
}
