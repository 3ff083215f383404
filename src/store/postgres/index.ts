/**
 * The control-plane store on Postgres: the ControlStore port over a pool
 * (see db.ts for schema selection, transactions and migrations). Tenants,
 * keys, blobs and secrets live here; the ledger and executions have their
 * own modules because they carry the most logic.
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
import { conflictOnDuplicate, PgDb, type PostgresStoreOptions } from './db.ts';
import { PgExecutions } from './executions.ts';
import { PgLedger } from './ledger.ts';
import * as rows from './rows.ts';

export type { PostgresStoreOptions } from './db.ts';

/** Connect a Postgres store (the pool opens lazily); call migrate() before use. */
export async function openPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<PostgresStore> {
  return new PostgresStore(await PgDb.connect(url, options));
}

export class PostgresStore implements ControlStore {
  readonly kind = 'postgres' as const;
  private readonly db: PgDb;
  private readonly ledger: PgLedger;
  private readonly executions: PgExecutions;

  constructor(db: PgDb) {
    this.db = db;
    this.ledger = new PgLedger(db);
    this.executions = new PgExecutions(db);
  }

  /** The schema holding this store's tables. */
  get schema(): string {
    return this.db.schema;
  }

  async migrate(): Promise<void> {
    await this.db.migrate();
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  async ping(): Promise<void> {
    await this.db.query(undefined, 'SELECT 1');
  }

  // tenants

  async createTenant(t: { id: string; name: string; limits: TenantLimits }): Promise<Tenant> {
    const tenant: Tenant = { id: t.id, name: t.name, limits: t.limits, createdAt: nowIso() };
    await conflictOnDuplicate(`tenant ${t.name} already exists`, () =>
      this.db.run(
        undefined,
        'INSERT INTO tenants (id, name, limits, created_at) VALUES ($1, $2, $3, $4)',
        [tenant.id, tenant.name, JSON.stringify(tenant.limits), tenant.createdAt],
      ),
    );
    return tenant;
  }

  async getTenant(id: string): Promise<Tenant | null> {
    const [r] = await this.db.query<rows.TenantRow>(
      'relay_tenant_get',
      `SELECT ${rows.TENANT_COLUMNS} FROM tenants WHERE id = $1`,
      [id],
    );
    return r === undefined ? null : rows.tenant(r);
  }

  async getTenantByName(name: string): Promise<Tenant | null> {
    const [r] = await this.db.query<rows.TenantRow>(
      'relay_tenant_by_name',
      `SELECT ${rows.TENANT_COLUMNS} FROM tenants WHERE name = $1`,
      [name],
    );
    return r === undefined ? null : rows.tenant(r);
  }

  async listTenants(): Promise<Tenant[]> {
    const rs = await this.db.query<rows.TenantRow>(
      undefined,
      `SELECT ${rows.TENANT_COLUMNS} FROM tenants ORDER BY created_at, id`,
    );
    return rs.map(rows.tenant);
  }

  async updateTenantLimits(id: string, limits: TenantLimits): Promise<Tenant | null> {
    const [r] = await this.db.query<rows.TenantRow>(
      undefined,
      `UPDATE tenants SET limits = $1 WHERE id = $2 RETURNING ${rows.TENANT_COLUMNS}`,
      [JSON.stringify(limits), id],
    );
    return r === undefined ? null : rows.tenant(r);
  }

  // API keys

  async createApiKey(key: Omit<StoredApiKey, 'createdAt' | 'revokedAt'>): Promise<ApiKey> {
    const createdAt = nowIso();
    await conflictOnDuplicate(`API key ${key.id} already exists`, () =>
      this.db.forTenant(key.tenantId, () =>
        this.db.run(
          undefined,
          'INSERT INTO api_keys (id, tenant_id, name, scopes, branches, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
          [
            key.id,
            key.tenantId,
            key.name,
            JSON.stringify(key.scopes),
            toJson(key.branches),
            key.secretHash,
            createdAt,
          ],
        ),
      ),
    );
    const { id, tenantId, name, scopes, branches } = key;
    return { id, tenantId, name, scopes, branches, createdAt, revokedAt: null };
  }

  async getApiKey(id: string): Promise<StoredApiKey | null> {
    const [r] = await this.db.query<rows.KeyRow>(
      'relay_key_get',
      `SELECT ${rows.KEY_COLUMNS} FROM api_keys WHERE id = $1`,
      [id],
    );
    return r === undefined ? null : rows.storedApiKey(r);
  }

  async listApiKeys(tenantId: string): Promise<ApiKey[]> {
    const rs = await this.db.query<rows.KeyRow>(
      undefined,
      `SELECT ${rows.KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id`,
      [tenantId],
    );
    return rs.map(rows.apiKey);
  }

  async revokeApiKey(tenantId: string, id: string): Promise<boolean> {
    // Revoking twice keeps the first revocation time.
    const n = await this.db.run(
      undefined,
      'UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE tenant_id = $2 AND id = $3',
      [nowIso(), tenantId, id],
    );
    return n > 0;
  }

  // blobs

  async putBlob(digest: string, bytes: Buffer): Promise<void> {
    await this.db.run(
      undefined,
      'INSERT INTO blobs (digest, size, bytes, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (digest) DO NOTHING',
      [digest, bytes.byteLength, bytes, nowIso()],
    );
  }

  async getBlob(digest: string): Promise<Buffer | null> {
    const [r] = await this.db.query<{ bytes: Buffer }>(
      'relay_blob_get',
      'SELECT bytes FROM blobs WHERE digest = $1',
      [digest],
    );
    return r === undefined ? null : r.bytes;
  }

  async hasBlob(digest: string): Promise<boolean> {
    const rs = await this.db.query('relay_blob_has', 'SELECT 1 FROM blobs WHERE digest = $1', [
      digest,
    ]);
    return rs.length > 0;
  }

  // secrets

  async putSecret(s: Omit<StoredSecret, 'createdAt' | 'updatedAt'>): Promise<StoredSecret> {
    const now = nowIso();
    const [r] = await this.db.forTenant(s.tenantId, () =>
      this.db.query<{ created_at: Date; updated_at: Date }>(
        undefined,
        `INSERT INTO secrets (tenant_id, name, ciphertext, key_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (tenant_id, name) DO UPDATE
           SET ciphertext = EXCLUDED.ciphertext, key_id = EXCLUDED.key_id, updated_at = EXCLUDED.updated_at
         RETURNING created_at, updated_at`,
        [s.tenantId, s.name, s.ciphertext, s.keyId, now],
      ),
    );
    return { ...s, createdAt: r!.created_at.toISOString(), updatedAt: r!.updated_at.toISOString() };
  }

  async listSecrets(tenantId: string): Promise<StoredSecret[]> {
    const rs = await this.db.query<rows.SecretRow>(
      undefined,
      `SELECT ${rows.SECRET_COLUMNS} FROM secrets WHERE tenant_id = $1 ORDER BY name COLLATE "C"`,
      [tenantId],
    );
    return rs.map(rows.secret);
  }

  async getSecrets(tenantId: string, names: string[]): Promise<StoredSecret[]> {
    if (names.length === 0) return [];
    const rs = await this.db.query<rows.SecretRow>(
      'relay_secrets_get',
      `SELECT ${rows.SECRET_COLUMNS} FROM secrets WHERE tenant_id = $1 AND name = ANY($2::text[])
       ORDER BY name COLLATE "C"`,
      [tenantId, names],
    );
    return rs.map(rows.secret);
  }

  async deleteSecret(tenantId: string, name: string): Promise<boolean> {
    const n = await this.db.run(
      undefined,
      'DELETE FROM secrets WHERE tenant_id = $1 AND name = $2',
      [tenantId, name],
    );
    return n > 0;
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
    await this.ledger.setBuildState(rufid, version, build);
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
    await this.executions.insert(record);
  }
  async updateExecution(id: string, patch: ExecutionPatch): Promise<void> {
    await this.executions.update(id, patch);
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
    await this.executions.appendLogs(executionId, lines);
  }
  async getLogs(executionId: string, afterSeq?: number): Promise<LogLine[]> {
    return this.executions.getLogs(executionId, afterSeq);
  }
  async recordAttempt(executionId: string, attempt: ExecutionAttempt): Promise<void> {
    await this.executions.recordAttempt(executionId, attempt);
  }
  async listAttempts(executionId: string): Promise<ExecutionAttempt[]> {
    return this.executions.listAttempts(executionId);
  }
  async deleteExecutionsBefore(before: string): Promise<number> {
    return this.executions.deleteFinishedBefore(before);
  }

  // spend

  async addSpend(tenantId: string, period: string, amount: number): Promise<void> {
    await this.db.run(
      'add_spend',
      `INSERT INTO tenant_spend (tenant_id, period, amount) VALUES ($1, $2, $3)
       ON CONFLICT (tenant_id, period) DO UPDATE SET amount = tenant_spend.amount + excluded.amount`,
      [tenantId, period, amount],
    );
  }

  async getSpend(tenantId: string, period: string): Promise<number> {
    const [row] = await this.db.query<{ amount: number }>(
      'get_spend',
      'SELECT amount FROM tenant_spend WHERE tenant_id = $1 AND period = $2',
      [tenantId, period],
    );
    return row?.amount ?? 0;
  }
}
