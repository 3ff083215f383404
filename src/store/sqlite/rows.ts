/**
 * SQLite rows → domain records. Column lists live next to their mappers so
 * a SELECT and the code reading it cannot drift apart.
 */
import type {
  ApiKey,
  BranchHead,
  ExecutionAttempt,
  ExecutionRecord,
  ExecutionStatus,
  FunctionRecord,
  FunctionVersion,
  LogLine,
  LogStream,
  Scope,
  StoredApiKey,
  Tenant,
} from '../../domain/index.ts';
import type { StoredSecret } from '../port.ts';

type Row = Record<string, unknown>;

function json<T>(text: unknown): T {
  return (text === null ? null : JSON.parse(text as string)) as T;
}

/** Read a BLOB column as a Buffer without copying. */
function buffer(value: unknown): Buffer {
  const u8 = value as Uint8Array;
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

export const TENANT_COLUMNS = 'id, name, limits, created_at';
export function tenant(r: Row): Tenant {
  return {
    id: r.id as string,
    name: r.name as string,
    limits: json(r.limits),
    createdAt: r.created_at as string,
  };
}

export const KEY_COLUMNS =
  'id, tenant_id, name, scopes, branches, secret_hash, created_at, revoked_at';
export function apiKey(r: Row): ApiKey {
  return {
    id: r.id as string,
    tenantId: r.tenant_id as string,
    name: r.name as string,
    scopes: json<Scope[]>(r.scopes),
    branches: json<string[] | null>(r.branches),
    createdAt: r.created_at as string,
    revokedAt: r.revoked_at as string | null,
  };
}
export function storedApiKey(r: Row): StoredApiKey {
  return { ...apiKey(r), secretHash: r.secret_hash as string };
}

export const FUNCTION_COLUMNS = 'rufid, tenant_id, name, created_at';
export function fn(r: Row): FunctionRecord {
  return {
    rufid: r.rufid as string,
    tenantId: r.tenant_id as string,
    name: r.name as string,
    createdAt: r.created_at as string,
  };
}

export const VERSION_COLUMNS =
  'rufid, version, digest, manifest, files, size, deployed_by, message, branch, created_at, build_status, build_log, build_updated_at';
export function version(r: Row): FunctionVersion {
  return {
    rufid: r.rufid as string,
    version: r.version as number,
    digest: r.digest as string,
    manifest: json(r.manifest),
    files: json(r.files),
    size: r.size as number,
    deployedBy: r.deployed_by as string,
    message: r.message as string,
    branch: r.branch as string,
    createdAt: r.created_at as string,
    build: {
      status: r.build_status as FunctionVersion['build']['status'],
      log: r.build_log as string,
      updatedAt: r.build_updated_at as string,
    },
  };
}

export const HEAD_COLUMNS = 'rufid, branch, version, updated_at';
export function head(r: Row): BranchHead {
  return {
    rufid: r.rufid as string,
    branch: r.branch as string,
    version: r.version as number,
    updatedAt: r.updated_at as string,
  };
}

export const SECRET_COLUMNS = 'tenant_id, name, ciphertext, key_id, created_at, updated_at';
export function secret(r: Row): StoredSecret {
  return {
    tenantId: r.tenant_id as string,
    name: r.name as string,
    ciphertext: buffer(r.ciphertext),
    keyId: r.key_id as string,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}
export { buffer };

export const EXECUTION_COLUMNS =
  'id, tenant_id, rufid, version, branch, status, input, output, error, timings, usage, cost, attempt, max_attempts, priority, async, idempotency_key, traceparent, created_at, started_at, finished_at';
export function execution(r: Row): ExecutionRecord {
  return {
    id: r.id as string,
    tenantId: r.tenant_id as string,
    rufid: r.rufid as string,
    version: r.version as number,
    branch: r.branch as string,
    status: r.status as ExecutionStatus,
    input: json(r.input),
    output: json(r.output),
    error: json(r.error),
    timings: json(r.timings) ?? {},
    usage: json(r.usage) ?? {},
    cost: r.cost as number,
    attempt: r.attempt as number,
    maxAttempts: r.max_attempts as number,
    priority: r.priority as number,
    async: r.async === 1,
    idempotencyKey: r.idempotency_key as string | null,
    traceparent: r.traceparent as string | null,
    createdAt: r.created_at as string,
    startedAt: r.started_at as string | null,
    finishedAt: r.finished_at as string | null,
  };
}

export const LOG_COLUMNS = 'seq, stream, logged_at, line';
export function logLine(r: Row): LogLine {
  return {
    seq: r.seq as number,
    stream: r.stream as LogStream,
    time: r.logged_at as string,
    line: r.line as string,
  };
}

export const ATTEMPT_COLUMNS =
  'execution_id, attempt, status, error, worker_id, started_at, finished_at, duration_ms';
export function attempt(r: Row): ExecutionAttempt {
  return {
    attempt: r.attempt as number,
    status: r.status as ExecutionStatus,
    error: json(r.error),
    workerId: r.worker_id as string | null,
    startedAt: r.started_at as string,
    finishedAt: r.finished_at as string | null,
    durationMs: r.duration_ms as number | null,
  };
}
