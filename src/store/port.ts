/**
 * The control-plane store: what Relay needs to remember, in Relay's words.
 * Adapters (sqlite/, postgres/) implement it; test/integration/store
 * holds the one conformance suite every adapter must pass.
 *
 * Rules every adapter keeps:
 * - multi-step writes (create function + first version + head; append
 *   version + move head) are atomic: a failure leaves nothing half-written;
 * - version numbers are 1, 2, 3... per function, assigned by the store,
 *   never reused, and a ledger entry never changes after it is written
 *   (except its build state);
 * - everything is tenant-scoped where the method takes a tenant id: a row
 *   of another tenant is "not there";
 * - any JSON value and any string round-trip on every backend, with one
 *   documented exception: U+0000 in free text (log lines, build logs,
 *   deploy messages) is stored as U+FFFD, because Postgres text cannot hold
 *   it; inside JSON values (input, output, errors) it is kept.
 * Methods return null / false for "not found"; they throw RelayError for
 * conflicts (code CONFLICT), TENANT_NOT_FOUND where a write names a tenant
 * that does not exist, and let driver errors through for the rest.
 */
import {
  RelayError,
  type ApiKey,
  type BranchHead,
  type BuildState,
  type ExecutionAttempt,
  type ExecutionRecord,
  type ExecutionStatus,
  type FunctionRecord,
  type FunctionVersion,
  type LogLine,
  type LogStream,
  type Manifest,
  type PackageEntry,
  type StoredApiKey,
  type Tenant,
  type TenantLimits,
} from '../domain/index.ts';

/**
 * How long an idempotency key names its execution: a new execution with the
 * key conflicts with one created less than this long before it, and takes
 * the key from an older one.
 */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Message prefix of the CONFLICT insertExecution throws for a key that is taken. */
export const IDEMPOTENCY_KEY_TAKEN = 'idempotency key taken';

/**
 * True for the CONFLICT of insertExecution losing an idempotency-key race:
 * the caller should look the key up again and answer with that execution.
 */
export function isIdempotencyKeyTaken(err: unknown): boolean {
  return (
    err instanceof RelayError &&
    err.code === 'CONFLICT' &&
    err.message.startsWith(IDEMPOTENCY_KEY_TAKEN)
  );
}

export interface NewVersion {
  digest: string;
  manifest: Manifest;
  files: PackageEntry[];
  size: number;
  deployedBy: string;
  message: string;
  branch: string;
  build: BuildState;
}

export interface StoredSecret {
  tenantId: string;
  name: string;
  /** Opaque ciphertext (secrets/ encrypts and decrypts; the store never sees values). */
  ciphertext: Buffer;
  keyId: string;
  createdAt: string;
  updatedAt: string;
}

export interface ExecutionFilter {
  tenantId: string;
  status?: ExecutionStatus;
  rufid?: string;
  branch?: string;
  /** Return executions with id < cursor (ids sort by creation time). */
  cursor?: string;
  limit: number;
}

/** Fields of an execution that change as it runs. */
export type ExecutionPatch = Partial<
  Pick<
    ExecutionRecord,
    | 'status'
    | 'output'
    | 'error'
    | 'timings'
    | 'usage'
    | 'cost'
    | 'attempt'
    | 'startedAt'
    | 'finishedAt'
    | 'version'
  >
>;

export interface NewLogLine {
  stream: LogStream;
  time: string;
  line: string;
}

export interface ControlStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Apply pending migrations; safe to call on every start. */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Cheap round trip used by /readyz. */
  ping(): Promise<void>;

  // tenants
  createTenant(tenant: { id: string; name: string; limits: TenantLimits }): Promise<Tenant>;
  getTenant(id: string): Promise<Tenant | null>;
  getTenantByName(name: string): Promise<Tenant | null>;
  listTenants(): Promise<Tenant[]>;
  updateTenantLimits(id: string, limits: TenantLimits): Promise<Tenant | null>;

  // API keys (the secret itself is never stored, only its hash)
  /** Throws RelayError TENANT_NOT_FOUND for an unknown tenant, CONFLICT for a taken id. */
  createApiKey(key: Omit<StoredApiKey, 'createdAt' | 'revokedAt'>): Promise<ApiKey>;
  /** Includes revoked keys; callers check `revokedAt`. */
  getApiKey(id: string): Promise<StoredApiKey | null>;
  listApiKeys(tenantId: string): Promise<ApiKey[]>;
  /** True when the key exists in this tenant (a second revoke keeps the first revokedAt). */
  revokeApiKey(tenantId: string, id: string): Promise<boolean>;

  // package blobs, content-addressed by sha256 hex digest; putting an existing digest is a no-op
  putBlob(digest: string, bytes: Buffer): Promise<void>;
  getBlob(digest: string): Promise<Buffer | null>;
  hasBlob(digest: string): Promise<boolean>;

  // functions, version ledger (function_version_ledger) and branch heads (function_branch_heads)
  /**
   * Creates the function, version 1 and the head of `first.branch` (and of main)
   * atomically. Throws RelayError TENANT_NOT_FOUND for an unknown tenant.
   */
  createFunction(
    fn: { rufid: string; tenantId: string; name: string },
    first: NewVersion,
  ): Promise<{ function: FunctionRecord; version: FunctionVersion }>;
  getFunction(tenantId: string, rufid: string): Promise<FunctionRecord | null>;
  /** The function by RUFID alone, for workers that already hold a tenant-checked job. */
  getFunctionById(rufid: string): Promise<FunctionRecord | null>;
  listFunctions(tenantId: string): Promise<FunctionRecord[]>;
  /**
   * Appends the next version and moves `draft.branch`'s head to it, atomically.
   * Throws RelayError FUNCTION_NOT_FOUND for an unknown RUFID.
   */
  appendVersion(rufid: string, draft: NewVersion): Promise<FunctionVersion>;
  getVersion(rufid: string, version: number): Promise<FunctionVersion | null>;
  /** Newest first. */
  listVersions(rufid: string): Promise<FunctionVersion[]>;
  setBuildState(rufid: string, version: number, build: BuildState): Promise<void>;
  listBranchHeads(rufid: string): Promise<BranchHead[]>;
  getBranchHead(rufid: string, branch: string): Promise<BranchHead | null>;
  /**
   * Creates or moves a head; the version must exist in the ledger, else RelayError
   * VERSION_NOT_FOUND (FUNCTION_NOT_FOUND when the RUFID itself is unknown).
   */
  setBranchHead(rufid: string, branch: string, version: number): Promise<BranchHead>;
  /**
   * Deletes any branch head, main included: keeping main is a rule of the
   * registry, not of the store. False when there was no such head.
   */
  deleteBranch(rufid: string, branch: string): Promise<boolean>;

  // secrets (ciphertext only)
  /** Creates or replaces; throws RelayError TENANT_NOT_FOUND for an unknown tenant. */
  putSecret(secret: Omit<StoredSecret, 'createdAt' | 'updatedAt'>): Promise<StoredSecret>;
  listSecrets(tenantId: string): Promise<StoredSecret[]>;
  getSecrets(tenantId: string, names: string[]): Promise<StoredSecret[]>;
  deleteSecret(tenantId: string, name: string): Promise<boolean>;

  // executions (the store-backed ResultStore sink)
  /**
   * Throws RelayError CONFLICT when the id exists, and CONFLICT with a message
   * starting IDEMPOTENCY_KEY_TAKEN (see isIdempotencyKeyTaken) when the
   * record's idempotency key names another execution of the tenant created
   * less than IDEMPOTENCY_WINDOW_MS before `record.createdAt`: of two
   * processes racing with one key, exactly one inserts. An older holder
   * loses its key (reads back null) to the new execution.
   */
  insertExecution(record: ExecutionRecord): Promise<void>;
  /** Sets the fields present in `patch` (undefined means untouched); a no-op for an unknown id. */
  updateExecution(id: string, patch: ExecutionPatch): Promise<void>;
  /** Tenant-scoped; pass null only from trusted internal paths (workers). */
  getExecution(tenantId: string | null, id: string): Promise<ExecutionRecord | null>;
  listExecutions(filter: ExecutionFilter): Promise<ExecutionRecord[]>;
  findExecutionByIdempotencyKey(
    tenantId: string,
    key: string,
    since: string,
  ): Promise<ExecutionRecord | null>;
  /**
   * Appends lines with consecutive seq numbers (from 1) after the last stored one;
   * a no-op for an execution that does not exist. U+0000 in a line is stored as U+FFFD.
   */
  appendLogs(executionId: string, lines: NewLogLine[]): Promise<void>;
  getLogs(executionId: string, afterSeq?: number): Promise<LogLine[]>;
  /**
   * Creates or replaces the record of one attempt, keyed by (execution, attempt
   * number); a no-op for an execution that does not exist.
   */
  recordAttempt(executionId: string, attempt: ExecutionAttempt): Promise<void>;
  /** Every recorded attempt of an execution, by ascending attempt number. */
  listAttempts(executionId: string): Promise<ExecutionAttempt[]>;
  /**
   * Retention sweep: deletes finished executions older than `before`, with
   * their logs and attempts.
   */
  deleteExecutionsBefore(before: string): Promise<number>;

  // spend (budget guardrails, FN-057): cost units per tenant per UTC month ("2026-11")
  /** Adds to a tenant's spend for `period` (creating the row on first use). */
  addSpend(tenantId: string, period: string, amount: number): Promise<void>;
  /** The tenant's spend for `period`; 0 when nothing was spent. */
  getSpend(tenantId: string, period: string): Promise<number>;
}
