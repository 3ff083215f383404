/**
 * The SQLite queue's tables and statements. Jobs live in one table whose
 * partial indexes each serve one question: the ready index matches the
 * claim's ORDER BY (priority DESC, seq) per group exactly, the leased index
 * answers "live leases of a group" for the concurrency limit, the expiry
 * and delayed indexes drive the reaper and retries. queue_groups is the
 * rotation (O(active groups) per claim); queue_tenants and queue_state hold
 * the queued counts backpressure needs, changed in the same transaction as
 * the jobs so they cannot drift.
 */

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS queue_jobs (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  tenant_id TEXT NOT NULL,
  grp TEXT NOT NULL,
  priority INTEGER NOT NULL,
  state TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  payload TEXT NOT NULL,
  enqueued_at INTEGER NOT NULL,
  run_after INTEGER NOT NULL,
  traceparent TEXT,
  worker_id TEXT,
  lease_until INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  outcome TEXT,
  finished_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS queue_jobs_ready ON queue_jobs (grp, priority DESC, seq) WHERE state = 'ready';
CREATE INDEX IF NOT EXISTS queue_jobs_delayed ON queue_jobs (run_after) WHERE state = 'delayed';
CREATE INDEX IF NOT EXISTS queue_jobs_leased ON queue_jobs (grp, lease_until) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS queue_jobs_finished ON queue_jobs (finished_at) WHERE state = 'done';
CREATE TABLE IF NOT EXISTS queue_groups (
  grp TEXT PRIMARY KEY,
  active INTEGER NOT NULL,
  last_served INTEGER NOT NULL,
  concurrency INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_groups_rotation ON queue_groups (last_served, grp) WHERE active = 1;
CREATE TABLE IF NOT EXISTS queue_tenants (
  tenant_id TEXT PRIMARY KEY,
  queued INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queue_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  queued INTEGER NOT NULL,
  served INTEGER NOT NULL,
  work_stamp INTEGER NOT NULL
) STRICT;
INSERT OR IGNORE INTO queue_state (id, queued, served, work_stamp) VALUES (1, 0, 0, 0);
`;

const JOB_COLUMNS =
  'seq, id, tenant_id, grp, priority, attempt, max_attempts, payload, enqueued_at, run_after, traceparent';

/** Every statement the adapter runs, prepared once per connection. */
export const SQL = {
  begin: 'BEGIN IMMEDIATE',
  commit: 'COMMIT',
  rollback: 'ROLLBACK',
  savepoint: 'SAVEPOINT op',
  release: 'RELEASE op',
  rollbackTo: 'ROLLBACK TO op',

  totalQueued: 'SELECT queued, work_stamp FROM queue_state WHERE id = 1',
  tenantQueued: 'SELECT queued FROM queue_tenants WHERE tenant_id = ?',
  jobState: 'SELECT seq, state FROM queue_jobs WHERE id = ?',
  deleteFinished: "DELETE FROM queue_jobs WHERE id = ? AND state = 'done'",
  insertJob: `INSERT INTO queue_jobs (id, tenant_id, grp, priority, state, attempt, max_attempts,
    payload, enqueued_at, run_after, traceparent) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)`,
  upsertGroup: `INSERT INTO queue_groups (grp, active, last_served, concurrency) VALUES (?, ?, 0, ?)
    ON CONFLICT (grp) DO UPDATE SET active = max(active, excluded.active), concurrency = excluded.concurrency`,
  activateGroup: 'UPDATE queue_groups SET active = 1 WHERE grp = ? AND active = 0',
  addTenantQueued: `INSERT INTO queue_tenants (tenant_id, queued) VALUES (?, ?)
    ON CONFLICT (tenant_id) DO UPDATE SET queued = queued + excluded.queued`,
  addQueued: 'UPDATE queue_state SET queued = queued + ?, work_stamp = work_stamp + ? WHERE id = 1',

  hasDue: "SELECT 1 AS due FROM queue_jobs WHERE state = 'delayed' AND run_after <= ? LIMIT 1",
  promoteDue: `UPDATE queue_jobs SET state = 'ready' WHERE seq IN (SELECT seq FROM queue_jobs
    WHERE state = 'delayed' AND run_after <= ? ORDER BY run_after LIMIT 500) RETURNING grp`,
  candidates: `SELECT grp, concurrency, CASE WHEN concurrency > 0 THEN (SELECT count(*) FROM queue_jobs j
      WHERE j.grp = g.grp AND j.state = 'running' AND j.lease_until >= ?) ELSE 0 END AS leased
    FROM queue_groups g WHERE active = 1 ORDER BY last_served, grp`,
  takeOne: `UPDATE queue_jobs SET state = 'running', worker_id = ?, lease_until = ?, cancel_requested = 0
    WHERE seq = (SELECT seq FROM queue_jobs WHERE grp = ? AND state = 'ready' ORDER BY priority DESC, seq LIMIT 1)
    RETURNING ${JOB_COLUMNS}`,
  setServed: 'UPDATE queue_groups SET last_served = ? WHERE grp = ?',
  deactivate: 'UPDATE queue_groups SET active = 0 WHERE grp = ?',
  claimed:
    'UPDATE queue_state SET served = served + ?, queued = queued - ? WHERE id = 1 RETURNING served',

  complete: `UPDATE queue_jobs SET state = 'done', outcome = ?, finished_at = ?, lease_until = NULL
    WHERE id = ? AND state = 'running' AND worker_id = ? AND lease_until >= ? RETURNING seq`,
  held: `SELECT seq, tenant_id, grp, attempt, max_attempts, cancel_requested FROM queue_jobs
    WHERE id = ? AND state = 'running' AND worker_id = ? AND lease_until >= ?`,
  finish: `UPDATE queue_jobs SET state = 'done', outcome = ?, finished_at = ?, lease_until = NULL
    WHERE seq = ?`,
  requeue: `UPDATE queue_jobs SET state = ?, attempt = attempt + 1, run_after = ?, worker_id = NULL,
    lease_until = NULL, cancel_requested = 0 WHERE seq = ?`,
  heartbeat: `UPDATE queue_jobs SET lease_until = ? WHERE id = ? AND state = 'running' AND worker_id = ?
    AND lease_until >= ? RETURNING cancel_requested`,
  cancelLookup: 'SELECT seq, state, tenant_id FROM queue_jobs WHERE id = ?',
  flagCancel: 'UPDATE queue_jobs SET cancel_requested = 1 WHERE seq = ?',
  expired: `SELECT seq, id, tenant_id, grp, attempt, max_attempts, cancel_requested FROM queue_jobs
    WHERE state = 'running' AND lease_until < ? ORDER BY lease_until LIMIT 500`,
  purge: `DELETE FROM queue_jobs WHERE seq IN (SELECT seq FROM queue_jobs
    WHERE state = 'done' AND finished_at < ? ORDER BY finished_at LIMIT 1000)`,
  completion: "SELECT outcome, finished_at FROM queue_jobs WHERE id = ? AND state = 'done'",
  depth: `SELECT tenant_id, state, count(*) AS n, min(run_after) AS oldest FROM queue_jobs
    WHERE state <> 'done' GROUP BY tenant_id, state`,
} as const;

export type StatementName = keyof typeof SQL;
