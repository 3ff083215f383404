/**
 * SQLite schema, as an append-only list of versioned migrations. A released
 * migration is never edited: change the schema by adding the next one.
 * Timestamps are ISO-8601 UTC text (sorts correctly), JSON columns are text.
 */
import type { Migration } from '../shared.ts';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'control plane',
    sql: `
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  limits TEXT NOT NULL,
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  name TEXT NOT NULL,
  scopes TEXT NOT NULL,
  branches TEXT,
  secret_hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT
) STRICT;
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE blobs (
  digest TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  created_at TEXT NOT NULL
) STRICT;

-- latest_version is the ledger's counter: bumping it under the write lock
-- is what makes version numbers gap-free and never reused.
CREATE TABLE functions (
  rufid TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  name TEXT NOT NULL,
  latest_version INTEGER NOT NULL,
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX functions_by_tenant ON functions (tenant_id, created_at);

CREATE TABLE function_version_ledger (
  rufid TEXT NOT NULL REFERENCES functions (rufid),
  version INTEGER NOT NULL,
  digest TEXT NOT NULL,
  manifest TEXT NOT NULL,
  files TEXT NOT NULL,
  size INTEGER NOT NULL,
  deployed_by TEXT NOT NULL,
  message TEXT NOT NULL,
  branch TEXT NOT NULL,
  created_at TEXT NOT NULL,
  build_status TEXT NOT NULL,
  build_log TEXT NOT NULL,
  build_updated_at TEXT NOT NULL,
  PRIMARY KEY (rufid, version)
) STRICT;

-- The ledger is immutable except for its build state; enforce it here too,
-- so no future code path can rewrite history by accident.
CREATE TRIGGER function_version_ledger_immutable
BEFORE UPDATE OF rufid, version, digest, manifest, files, size, deployed_by, message, branch, created_at
ON function_version_ledger
BEGIN
  SELECT RAISE(ABORT, 'function_version_ledger entries are immutable');
END;

CREATE TABLE function_branch_heads (
  rufid TEXT NOT NULL,
  branch TEXT NOT NULL,
  version INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (rufid, branch),
  FOREIGN KEY (rufid, version) REFERENCES function_version_ledger (rufid, version)
) STRICT, WITHOUT ROWID;

CREATE TABLE secrets (
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  name TEXT NOT NULL,
  ciphertext BLOB NOT NULL,
  key_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, name)
) STRICT;

-- No foreign keys on executions: they sit on the hot path of every call and
-- are a record of what ran, kept by retention rather than by referential rules.
CREATE TABLE executions (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  rufid TEXT NOT NULL,
  version INTEGER NOT NULL,
  branch TEXT NOT NULL,
  status TEXT NOT NULL,
  input TEXT,
  output TEXT,
  error TEXT,
  timings TEXT,
  usage TEXT,
  cost REAL NOT NULL,
  attempt INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  async INTEGER NOT NULL,
  idempotency_key TEXT,
  traceparent TEXT,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  log_seq INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX executions_by_tenant ON executions (tenant_id, id DESC);
CREATE INDEX executions_by_idempotency_key ON executions (tenant_id, idempotency_key, created_at)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX executions_by_finished_at ON executions (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE execution_logs (
  execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  stream TEXT NOT NULL,
  logged_at TEXT NOT NULL,
  line TEXT NOT NULL,
  PRIMARY KEY (execution_id, seq)
) STRICT, WITHOUT ROWID;
`,
  },
  {
    version: 2,
    name: 'execution attempts',
    sql: `
CREATE TABLE execution_attempts (
  execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  error TEXT,
  worker_id TEXT,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  duration_ms REAL,
  PRIMARY KEY (execution_id, attempt)
) STRICT, WITHOUT ROWID;
`,
  },
  {
    version: 3,
    name: 'one execution per idempotency key',
    sql: `
-- Rows written before this rule may share a key: the newest keeps it.
UPDATE executions SET idempotency_key = NULL
WHERE idempotency_key IS NOT NULL AND EXISTS (
  SELECT 1 FROM executions AS newer
  WHERE newer.tenant_id = executions.tenant_id
    AND newer.idempotency_key = executions.idempotency_key
    AND (newer.created_at, newer.id) > (executions.created_at, executions.id)
);
DROP INDEX executions_by_idempotency_key;
-- Unique, so two API processes racing with one key cannot both insert; an
-- execution past the idempotency window gives its key up (executions.ts).
CREATE UNIQUE INDEX executions_idempotency_key ON executions (tenant_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
`,
  },
  {
    version: 4,
    name: 'tenant spend per month',
    sql: `
-- Kept apart from executions so spend outlives the retention of their records.
CREATE TABLE tenant_spend (
  tenant_id TEXT NOT NULL,
  period TEXT NOT NULL,
  amount REAL NOT NULL,
  PRIMARY KEY (tenant_id, period)
) STRICT, WITHOUT ROWID;
`,
  },
];
