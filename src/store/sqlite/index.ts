/**
 * The embedded control-plane store on node:sqlite: the ControlStore port
 * over one connection per process (see db.ts for pragmas, transactions and
 * migrations). Tenants, keys, blobs and secrets live here; the ledger and
 * executions have their own modules because they carry the most logic.
 */
import type {
  ApiKey,
  BranchHead,
  BuildState,
  ExecutionAttempt,
  ExecutionRecord,
  FunctionRecord,
  FunctionVersion,
  LogLine,
  StoredApiKey,
  Tenant,
  TenantLimits,
} from '../../domain/index.ts';
import type {
  ControlStore,
  ExecutionFilter,
  ExecutionPatch,
  NewLogLine,
  NewVersion,
  StoredSecret,
} from '../port.ts';
import { nowIso, toJson } from '../shared.ts';
import { conflictOnDuplicate, SqliteDb, type SqliteStoreOptions } from './db.ts';
import { SqliteExecutions } from './executions.ts';
import { SqliteLedger } from './ledger.ts';
import * as rows from './rows.ts';

export type { SqliteStoreOptions } from './db.ts';

/** Open (creating if missing) a SQLite store at a file path or `:memory:`; call migrate() before use. */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  return new SqliteStore(path, options);
}

export class SqliteStore implements ControlStore {
  readonly kind = 'sqlite' as const;
  private readonly db: SqliteDb;
  private readonly ledger: SqliteLedger;
  private readonly executions: SqliteExecutions;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.db = new SqliteDb(path, options);
    this.ledger = new SqliteLedger(this.db);
    this.executions = new SqliteExecutions(this.db);
  }

  async migrate(): Promise<void> {
    this.db.migrate();
  }

  async close(): Promise<void> {
    this.db.close();
  }

  async ping(): Promise<void> {
    this.db.q('SELECT 1').get();
  }

  // tenants

  async createTenant(t: { id: string; name: string; limits: TenantLimits }): Promise<Tenant> {
    const tenant: Tenant = { id: t.id, name: t.name, limits: t.limits, createdAt: nowIso() };
    conflictOnDuplicate(`tenant ${t.name} already exists`, () =>
      this.db
        .q('INSERT INTO tenants (id, name, limits, created_at) VALUES (?, ?, ?, ?)')
        .run(tenant.id, tenant.name, JSON.stringify(tenant.limits), tenant.createdAt),
    );
    return tenant;
  }

  async getTenant(id: string): Promise<Tenant | null> {
    const r = this.db.q(`SELECT ${rows.TENANT_COLUMNS} FROM tenants WHERE id = ?`).get(id);
    return r === undefined ? null : rows.tenant(r);
  }

  async getTenantByName(name: string): Promise<Tenant | null> {
    const r = this.db.q(`SELECT ${rows.TENANT_COLUMNS} FROM tenants WHERE name = ?`).get(name);
    return r === undefined ? null : rows.tenant(r);
  }

  async listTenants(): Promise<Tenant[]> {
    return this.db
      .q(`SELECT ${rows.TENANT_COLUMNS} FROM tenants ORDER BY created_at, id`)
      .all()
      .map(rows.tenant);
  }

  async updateTenantLimits(id: string, limits: TenantLimits): Promise<Tenant | null> {
    const r = this.db
      .q(`UPDATE tenants SET limits = ? WHERE id = ? RETURNING ${rows.TENANT_COLUMNS}`)
      .get(JSON.stringify(limits), id);
    return r === undefined ? null : rows.tenant(r);
  }

  // API keys

  async createApiKey(key: Omit<StoredApiKey, 'createdAt' | 'revokedAt'>): Promise<ApiKey> {
    const createdAt = nowIso();
    conflictOnDuplicate(`API key ${key.id} already exists`, () =>
      this.db.forTenant(key.tenantId, () =>
        this.db
          .q(
            'INSERT INTO api_keys (id, tenant_id, name, scopes, branches, secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
          )
          .run(
            key.id,
            key.tenantId,
            key.name,
            JSON.stringify(key.scopes),
            toJson(key.branches),
            key.secretHash,
            createdAt,
          ),
      ),
    );
    return {
      id: key.id,
      tenantId: key.tenantId,
      name: key.name,
      scopes: key.scopes,
      branches: key.branches,
      createdAt,
      revokedAt: null,
    };
  }

  async getApiKey(id: string): Promise<StoredApiKey | null> {
    const r = this.db.q(`SELECT ${rows.KEY_COLUMNS} FROM api_keys WHERE id = ?`).get(id);
    return r === undefined ? null : rows.storedApiKey(r);
  }

  async listApiKeys(tenantId: string): Promise<ApiKey[]> {
    return this.db
      .q(`SELECT ${rows.KEY_COLUMNS} FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id`)
      .all(tenantId)
      .map(rows.apiKey);
  }

  async revokeApiKey(tenantId: string, id: string): Promise<boolean> {
    // Revoking twice keeps the first revocation time.
    const res = this.db
      .q('UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE tenant_id = ? AND id = ?')
      .run(nowIso(), tenantId, id);
    return Number(res.changes) > 0;
  }

  // blobs

  async putBlob(digest: string, bytes: Buffer): Promise<void> {
    this.db
      .q(
        'INSERT INTO blobs (digest, size, bytes, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING',
      )
      .run(digest, bytes.byteLength, bytes, nowIso());
  }

  async getBlob(digest: string): Promise<Buffer | null> {
    const r = this.db.q('SELECT bytes FROM blobs WHERE digest = ?').get(digest);
    return r === undefined ? null : rows.buffer(r.bytes);
  }

  async hasBlob(digest: string): Promise<boolean> {
    return this.db.q('SELECT 1 FROM blobs WHERE digest = ?').get(digest) !== undefined;
  }

  // secrets

  async putSecret(s: Omit<StoredSecret, 'createdAt' | 'updatedAt'>): Promise<StoredSecret> {
    const now = nowIso();
    const r = this.db.forTenant(s.tenantId, () =>
      this.db
        .q(
          `INSERT INTO secrets (tenant_id, name, ciphertext, key_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant_id, name) DO UPDATE
           SET ciphertext = excluded.ciphertext, key_id = excluded.key_id, updated_at = excluded.updated_at
         RETURNING created_at, updated_at`,
        )
        .get(s.tenantId, s.name, s.ciphertext, s.keyId, now, now),
    )!;
    return { ...s, createdAt: r.created_at as string, updatedAt: r.updated_at as string };
  }

  async listSecrets(tenantId: string): Promise<StoredSecret[]> {
    return this.db
      .q(`SELECT ${rows.SECRET_COLUMNS} FROM secrets WHERE tenant_id = ? ORDER BY name`)
      .all(tenantId)
      .map(rows.secret);
  }

  async getSecrets(tenantId: string, names: string[]): Promise<StoredSecret[]> {
    if (names.length === 0) return [];
    return this.db
      .q(
        `SELECT ${rows.SECRET_COLUMNS} FROM secrets
       WHERE tenant_id = ? AND name IN (SELECT value FROM json_each(?)) ORDER BY name`,
      )
      .all(tenantId, JSON.stringify(names))
      .map(rows.secret);
  }

  async deleteSecret(tenantId: string, name: string): Promise<boolean> {
    const res = this.db
      .q('DELETE FROM secrets WHERE tenant_id = ? AND name = ?')
      .run(tenantId, name);
    return Number(res.changes) > 0;
  }

  // functions, ledger, branch heads (ledger.ts)

  async createFunction(
    fn: { rufid: string; tenantId: string; name: string },
    first: NewVersion,
  ): Promise<{ function: FunctionRecord; version: FunctionVersion }> {
    return this.ledger.createFunction(fn, first);
  }
  async getFunction(tenantId: string, rufid: string): Promise<FunctionRecord | null> {
    return this.ledger.getFunction(tenantId, rufid);
  }
  async getFunctionById(rufid: string): Promise<FunctionRecord | null> {
    return this.ledger.getFunctionById(rufid);
  }
  async listFunctions(tenantId: string): Promise<FunctionRecord[]> {
    return this.ledger.listFunctions(tenantId);
  }
  async appendVersion(rufid: string, draft: NewVersion): Promise<FunctionVersion> {
    return this.ledger.appendVersion(rufid, draft);
  }
  async getVersion(rufid: string, version: number): Promise<FunctionVersion | null> {
    return this.ledger.getVersion(rufid, version);
  }
  async listVersions(rufid: string): Promise<FunctionVersion[]> {
    return this.ledger.listVersions(rufid);
  }
  async setBuildState(rufid: string, version: number, build: BuildState): Promise<void> {
    this.ledger.setBuildState(rufid, version, build);
  }
  async listBranchHeads(rufid: string): Promise<BranchHead[]> {
    return this.ledger.listBranchHeads(rufid);
  }
  async getBranchHead(rufid: string, branch: string): Promise<BranchHead | null> {
    return this.ledger.getBranchHead(rufid, branch);
  }
  async setBranchHead(rufid: string, branch: string, version: number): Promise<BranchHead> {
    return this.ledger.setBranchHead(rufid, branch, version);
  }
  async deleteBranch(rufid: string, branch: string): Promise<boolean> {
    return this.ledger.deleteBranch(rufid, branch);
  }

  // executions and logs (executions.ts)

  async insertExecution(record: ExecutionRecord): Promise<void> {
    this.executions.insert(record);
  }
  async updateExecution(id: string, patch: ExecutionPatch): Promise<void> {
    this.executions.update(id, patch);
  }
  async getExecution(tenantId: string | null, id: string): Promise<ExecutionRecord | null> {
    return this.executions.get(tenantId, id);
  }
  async listExecutions(filter: ExecutionFilter): Promise<ExecutionRecord[]> {
    return this.executions.list(filter);
  }
  async findExecutionByIdempotencyKey(
    tenantId: string,
    key: string,
    since: string,
  ): Promise<ExecutionRecord | null> {
    return this.executions.findByIdempotencyKey(tenantId, key, since);
  }
  async appendLogs(executionId: string, lines: NewLogLine[]): Promise<void> {
    this.executions.appendLogs(executionId, lines);
  }
  async getLogs(executionId: string, afterSeq?: number): Promise<LogLine[]> {
    return this.executions.getLogs(executionId, afterSeq);
  }
  async recordAttempt(executionId: string, attempt: ExecutionAttempt): Promise<void> {
    this.executions.recordAttempt(executionId, attempt);
  }
  async listAttempts(executionId: string): Promise<ExecutionAttempt[]> {
    return this.executions.listAttempts(executionId);
  }
  async deleteExecutionsBefore(before: string): Promise<number> {
    return this.executions.deleteFinishedBefore(before);
  }

  // spend

  async addSpend(tenantId: string, period: string, amount: number): Promise<void> {
    this.db
      .q(
        `INSERT INTO tenant_spend (tenant_id, period, amount) VALUES (?, ?, ?)
         ON CONFLICT (tenant_id, period) DO UPDATE SET amount = amount + excluded.amount`,
      )
      .run(tenantId, period, amount);
  }

  async getSpend(tenantId: string, period: string): Promise<number> {
    const row = this.db
      .q('SELECT amount FROM tenant_spend WHERE tenant_id = ? AND period = ?')
      .get(tenantId, period) as { amount: number } | undefined;
    return row?.amount ?? 0;
  }
}
