/**
 * Executions and their logs on Postgres: the hot path of every call. Hot
 * statements are named, so each pooled connection prepares them once;
 * updates and listings with optional parts get one statement per shape
 * (bit mask of the fields present).
 */
import type { ExecutionRecord, LogLine } from '../../domain/index.ts';
import type { ExecutionFilter, ExecutionPatch, NewLogLine } from '../port.ts';
import { patchFields, patchValues, toJson } from '../shared.ts';
import { conflictOnDuplicate, type PgDb } from './db.ts';
import * as rows from './rows.ts';

const INSERT = `INSERT INTO executions (${rows.EXECUTION_COLUMNS})
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`;
const BY_ID = `SELECT ${rows.EXECUTION_COLUMNS} FROM executions WHERE id = $1`;
const BY_TENANT_AND_ID = `${BY_ID} AND tenant_id = $2`;

// One statement: the counter on the execution row hands out seq numbers
// (its row lock orders concurrent appends), and unnest inserts the batch.
const APPEND_LOGS = `WITH s AS (
    UPDATE executions SET log_seq = log_seq + $2 WHERE id = $1 RETURNING log_seq - $2 AS base
  )
  INSERT INTO execution_logs (execution_id, seq, stream, logged_at, line)
  SELECT $1, s.base + t.ord, t.stream, t.logged_at, t.line
  FROM s, unnest($3::text[], $4::timestamptz[], $5::text[]) WITH ORDINALITY AS t(stream, logged_at, line, ord)`;

export class PgExecutions {
  private readonly db: PgDb;
  private readonly updateSql = new Map<number, string>();
  private readonly listSql = new Map<number, string>();

  constructor(db: PgDb) {
    this.db = db;
  }

  async insert(e: ExecutionRecord): Promise<void> {
    await conflictOnDuplicate(`execution ${e.id} already exists`, () =>
      this.db.query('relay_exec_insert', INSERT, [
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
      ]),
    );
  }

  async update(id: string, patch: ExecutionPatch): Promise<void> {
    const { mask, values } = patchValues(patch);
    if (mask === 0) return;
    let sql = this.updateSql.get(mask);
    if (sql === undefined) {
      const sets = patchFields(mask).map((f, i) => `${f.column} = $${i + 2}`);
      sql = `UPDATE executions SET ${sets.join(', ')} WHERE id = $1`;
      this.updateSql.set(mask, sql);
    }
    await this.db.query(`relay_exec_update_${mask}`, sql, [id, ...values]);
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
      lines.map((l) => l.line),
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

  async deleteFinishedBefore(before: string): Promise<number> {
    // Logs go with their execution through ON DELETE CASCADE.
    return this.db.run(
      undefined,
      'DELETE FROM executions WHERE finished_at IS NOT NULL AND finished_at < $1',
      [before],
    );
  }
}
