/**
 * Postgres schema, as an append-only list of versioned migrations. A
 * released migration is never edited: change the schema by adding the next
 * one. Tables land in the store's schema through search_path. Ids compare
 * with COLLATE "C" so text order is byte order, as in SQLite: execution ids
 * sort by creation time only under that collation. JSON columns are json,
 * not jsonb, from migration 4 on (why: see there).
 */
import type { Migration } from '../shared.ts';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'control plane',
    sql: `
CREATE TABLE tenants (
  id text COLLATE "C" PRIMARY KEY,
  name text NOT NULL UNIQUE,
  limits jsonb NOT NULL,
  created_at timestamptz NOT NULL
);

CREATE TABLE api_keys (
  id text COLLATE "C" PRIMARY KEY,
  tenant_id text COLLATE "C" NOT NULL REFERENCES tenants (id),
  name text NOT NULL,
  scopes jsonb NOT NULL,
  branches jsonb,
  secret_hash text NOT NULL,
  created_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE blobs (
  digest text COLLATE "C" PRIMARY KEY,
  size bigint NOT NULL,
  bytes bytea NOT NULL,
  created_at timestamptz NOT NULL
);

-- latest_version is the ledger's counter: the row lock taken by bumping it
-- serializes concurrent deploys of one function, so numbers are gap-free.
CREATE TABLE functions (
  rufid text COLLATE "C" PRIMARY KEY,
  tenant_id text COLLATE "C" NOT NULL REFERENCES tenants (id),
  name text NOT NULL,
  latest_version integer NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX functions_by_tenant ON functions (tenant_id, created_at);

CREATE TABLE function_version_ledger (
  rufid text COLLATE "C" NOT NULL REFERENCES functions (rufid),
  version integer NOT NULL,
  digest text NOT NULL,
  manifest jsonb NOT NULL,
  files jsonb NOT NULL,
  size bigint NOT NULL,
  deployed_by text NOT NULL,
  message text NOT NULL,
  branch text NOT NULL,
  created_at timestamptz NOT NULL,
  build_status text NOT NULL,
  build_log text NOT NULL,
  build_updated_at timestamptz NOT NULL,
  PRIMARY KEY (rufid, version)
);

-- The ledger is immutable except for its build state; enforce it here too,
-- so no future code path can rewrite history by accident.
CREATE FUNCTION function_version_ledger_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'function_version_ledger entries are immutable';
END
$$;
CREATE TRIGGER function_version_ledger_immutable
BEFORE UPDATE OF rufid, version, digest, manifest, files, size, deployed_by, message, branch, created_at
ON function_version_ledger
FOR EACH ROW EXECUTE FUNCTION function_version_ledger_immutable();

CREATE TABLE function_branch_heads (
  rufid text COLLATE "C" NOT NULL,
  branch text NOT NULL,
  version integer NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (rufid, branch),
  FOREIGN KEY (rufid, version) REFERENCES function_version_ledger (rufid, version)
);

CREATE TABLE secrets (
  tenant_id text COLLATE "C" NOT NULL REFERENCES tenants (id),
  name text NOT NULL,
  ciphertext bytea NOT NULL,
  key_id text NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, name)
);

-- No foreign keys on executions: they sit on the hot path of every call and
-- are a record of what ran, kept by retention rather than by referential
-- rules. Room left on each page lets status updates stay HOT.
CREATE TABLE executions (
  id text COLLATE "C" PRIMARY KEY,
  tenant_id text COLLATE "C" NOT NULL,
  rufid text NOT NULL,
  version integer NOT NULL,
  branch text NOT NULL,
  status text NOT NULL,
  input jsonb,
  output jsonb,
  error jsonb,
  timings jsonb,
  usage jsonb,
  cost double precision NOT NULL,
  attempt integer NOT NULL,
  max_attempts integer NOT NULL,
  priority smallint NOT NULL,
  async boolean NOT NULL,
  idempotency_key text,
  traceparent text,
  created_at timestamptz NOT NULL,
  started_at timestamptz,
  finished_at timestamptz,
  log_seq integer NOT NULL DEFAULT 0
) WITH (fillfactor = 85);
CREATE INDEX executions_by_tenant ON executions (tenant_id, id DESC);
CREATE INDEX executions_by_idempotency_key ON executions (tenant_id, idempotency_key, created_at)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX executions_by_finished_at ON executions (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE execution_logs (
  execution_id text COLLATE "C" NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  stream text NOT NULL,
  logged_at timestamptz NOT NULL,
  line text NOT NULL,
  PRIMARY KEY (execution_id, seq)
);
`,
  },
  {
    version: 2,
    name: 'execution attempts',
    sql: `
CREATE TABLE execution_attempts (
  execution_id text COLLATE "C" NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  status text NOT NULL,
  error json,
  worker_id text,
  started_at timestamptz NOT NULL,
  finished_at timestamptz,
  duration_ms double precision,
  PRIMARY KEY (execution_id, attempt)
);
`,
  },
  {
    version: 3,
    name: 'one execution per idempotency key',
    sql: `
-- Rows written before this rule may share a key: the newest keeps it.
UPDATE executions AS old SET idempotency_key = NULL
WHERE idempotency_key IS NOT NULL AND EXISTS (
  SELECT 1 FROM executions AS newer
  WHERE newer.tenant_id = old.tenant_id
    AND newer.idempotency_key = old.idempotency_key
    AND (newer.created_at, newer.id) > (old.created_at, old.id)
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
    name: 'json columns keep any JSON value',
    sql: `
-- jsonb rejects U+0000 inside strings (which JSON.stringify writes as an
-- escape), and a function may take or return any JSON; json keeps the text
-- as given. Relay never queries inside these columns, so jsonb bought nothing,
-- and json is cheaper to write and read. The ledger's immutability trigger
-- names manifest and files, so it is set aside while they change type.
ALTER TABLE executions
  ALTER COLUMN input TYPE json USING input::json,
  ALTER COLUMN output TYPE json USING output::json,
  ALTER COLUMN error TYPE json USING error::json,
  ALTER COLUMN timings TYPE json USING timings::json,
  ALTER COLUMN usage TYPE json USING usage::json;
DROP TRIGGER function_version_ledger_immutable ON function_version_ledger;
ALTER TABLE function_version_ledger
  ALTER COLUMN manifest TYPE json USING manifest::json,
  ALTER COLUMN files TYPE json USING files::json;
CREATE TRIGGER function_version_ledger_immutable
BEFORE UPDATE OF rufid, version, digest, manifest, files, size, deployed_by, message, branch, created_at
ON function_version_ledger
FOR EACH ROW EXECUTE FUNCTION function_version_ledger_immutable();
ALTER TABLE tenants ALTER COLUMN limits TYPE json USING limits::json;
ALTER TABLE api_keys
  ALTER COLUMN scopes TYPE json USING scopes::json,
  ALTER COLUMN branches TYPE json USING branches::json;
`,
  },
  {
    version: 5,
    name: 'tenant spend per month',
    sql: `
-- Kept apart from executions so spend outlives the retention of their records.
CREATE TABLE tenant_spend (
  tenant_id text NOT NULL,
  period text NOT NULL,
  amount double precision NOT NULL,
  PRIMARY KEY (tenant_id, period)
);
`,
  },
];
