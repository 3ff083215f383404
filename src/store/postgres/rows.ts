/**
 * Postgres rows → domain records. `pg` already parses json and turns
 * timestamptz into Date; these mappers only rename columns and format
 * times as the ISO strings the domain uses. Column lists live next to
 * their mappers so a SELECT and the code reading it cannot drift apart.
 */
import type {
  ApiKey,
  BranchHead,
  BuildStatus,
  ExecutionAttempt,
  ExecutionRecord,
  ExecutionStatus,
  FunctionRecord,
  FunctionVersion,
  LogLine,
  LogStream,
  Manifest,
  PackageEntry,
  Scope,
  StoredApiKey,
  Tenant,
  TenantLimits,
} from '../../domain/index.ts';
import type { StoredSecret } from '../port.ts';

function iso(d: Date): string {
  return d.toISOString();
}

function isoOrNull(d: Date | null): string | null {
  return d === null ? null : d.toISOString();
}

export const TENANT_COLUMNS = 'id, name, limits, created_at';
export interface TenantRow {
  id: string;
  name: string;
  limits: TenantLimits;
  created_at: Date;
}
export function tenant(r: TenantRow): Tenant {
  return { id: r.id, name: r.name, limits: r.limits, createdAt: iso(r.created_at) };
}

export const KEY_COLUMNS =
  'id, tenant_id, name, scopes, branches, secret_hash, created_at, revoked_at';
export interface KeyRow {
  id: string;
  tenant_id: string;
  name: string;
  scopes: Scope[];
  branches: string[] | null;
  secret_hash: string;
  created_at: Date;
  revoked_at: Date | null;
}
export function apiKey(r: KeyRow): ApiKey {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    scopes: r.scopes,
    branches: r.branches,
    createdAt: iso(r.created_at),
    revokedAt: isoOrNull(r.revoked_at),
  };
}
export function storedApiKey(r: KeyRow): StoredApiKey {
  return { ...apiKey(r), secretHash: r.secret_hash };
}

export const FUNCTION_COLUMNS = 'rufid, tenant_id, name, created_at';
export interface FunctionRow {
  rufid: string;
  tenant_id: string;
  name: string;
  created_at: Date;
}
export function fn(r: FunctionRow): FunctionRecord {
  return { rufid: r.rufid, tenantId: r.tenant_id, name: r.name, createdAt: iso(r.created_at) };
}

export const VERSION_COLUMNS =
  'rufid, version, digest, manifest, files, size, deployed_by, message, branch, created_at, build_status, build_log, build_updated_at';
export interface VersionRow {
  rufid: string;
  version: number;
  digest: string;
  manifest: Manifest;
  files: PackageEntry[];
  /** bigint arrives as text. */
  size: string;
  deployed_by: string;
  message: string;
  branch: string;
  created_at: Date;
  build_status: BuildStatus;
  build_log: string;
  build_updated_at: Date;
}
export function version(r: VersionRow): FunctionVersion {
  return {
    rufid: r.rufid,
    version: r.version,
    digest: r.digest,
    manifest: r.manifest,
    files: r.files,
    size: Number(r.size),
    deployedBy: r.deployed_by,
    message: r.message,
    branch: r.branch,
    createdAt: iso(r.created_at),
    build: { status: r.build_status, log: r.build_log, updatedAt: iso(r.build_updated_at) },
  };
}

export const HEAD_COLUMNS = 'rufid, branch, version, updated_at';
export interface HeadRow {
  rufid: string;
  branch: string;
  version: number;
  updated_at: Date;
}
export function head(r: HeadRow): BranchHead {
  return { rufid: r.rufid, branch: r.branch, version: r.version, updatedAt: iso(r.updated_at) };
}

export const SECRET_COLUMNS = 'tenant_id, name, ciphertext, key_id, created_at, updated_at';
export interface SecretRow {
  tenant_id: string;
  name: string;
  ciphertext: Buffer;
  key_id: string;
  created_at: Date;
  updated_at: Date;
}
export function secret(r: SecretRow): StoredSecret {
  return {
    tenantId: r.tenant_id,
    name: r.name,
    ciphertext: r.ciphertext,
    keyId: r.key_id,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

export const EXECUTION_COLUMNS =
  'id, tenant_id, rufid, version, branch, status, input, output, error, timings, usage, cost, attempt, max_attempts, priority, async, idempotency_key, traceparent, created_at, started_at, finished_at';
export interface ExecutionRow {
  id: string;
  tenant_id: string;
  rufid: string;
  version: number;
  branch: string;
  status: ExecutionStatus;
  input: unknown;
  output: unknown;
  error: ExecutionRecord['error'];
  timings: ExecutionRecord['timings'] | null;
  usage: ExecutionRecord['usage'] | null;
  cost: number;
  attempt: number;
  max_attempts: number;
  priority: number;
  async: boolean;
  idempotency_key: string | null;
  traceparent: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}
export function execution(r: ExecutionRow): ExecutionRecord {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    rufid: r.rufid,
    version: r.version,
    branch: r.branch,
    status: r.status,
    input: r.input,
    output: r.output,
    error: r.error,
    timings: r.timings ?? {},
    usage: r.usage ?? {},
    cost: r.cost,
    attempt: r.attempt,
    maxAttempts: r.max_attempts,
    priority: r.priority,
    async: r.async,
    idempotencyKey: r.idempotency_key,
    traceparent: r.traceparent,
    createdAt: iso(r.created_at),
    startedAt: isoOrNull(r.started_at),
    finishedAt: isoOrNull(r.finished_at),
  };
}

export const LOG_COLUMNS = 'seq, stream, logged_at, line';
export interface LogRow {
  seq: number;
  stream: LogStream;
  logged_at: Date;
  line: string;
}
export function logLine(r: LogRow): LogLine {
  return { seq: r.seq, stream: r.stream, time: iso(r.logged_at), line: r.line };
}

export const ATTEMPT_COLUMNS =
  'execution_id, attempt, status, error, worker_id, started_at, finished_at, duration_ms';
export interface AttemptRow {
  attempt: number;
  status: ExecutionStatus;
  error: ExecutionAttempt['error'];
  worker_id: string | null;
  started_at: Date;
  finished_at: Date | null;
  duration_ms: number | null;
}
export function attempt(r: AttemptRow): ExecutionAttempt {
  return {
    attempt: r.attempt,
    status: r.status,
    error: r.error,
    workerId: r.worker_id,
    startedAt: iso(r.started_at),
    finishedAt: isoOrNull(r.finished_at),
    durationMs: r.duration_ms,
  };
}
