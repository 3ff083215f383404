/**
 * Small pieces both store adapters share: timestamps, JSON columns, free
 * text, idempotency keys and the mapping of an ExecutionPatch onto columns.
 * Nothing backend-specific.
 */
import { RelayError } from '../domain/index.ts';
import { IDEMPOTENCY_KEY_TAKEN, IDEMPOTENCY_WINDOW_MS, type ExecutionPatch } from './port.ts';

/** One step of a store schema; released steps are never edited. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The store's clock: ISO-8601 UTC with milliseconds, which sorts as text. */
export function nowIso(): string {
  return new Date().toISOString();
}

/** JSON text for a nullable JSON column; undefined and null both become SQL NULL. */
export function toJson(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

/**
 * Free text as both backends store it: Postgres text cannot hold U+0000, so
 * it becomes U+FFFD (the replacement character) on every backend alike.
 * JSON columns need no such step: JSON.stringify writes U+0000 as the
 * escape `\u0000`, which the column keeps as text.
 */
export function safeText(text: string): string {
  return text.includes('\0') ? text.replaceAll('\0', '\uFFFD') : text;
}

/** Executions created before this lost their claim on an idempotency key to one created at `createdAt`. */
export function idempotencyCutoff(createdAt: string): string {
  return new Date(Date.parse(createdAt) - IDEMPOTENCY_WINDOW_MS).toISOString();
}

export function idempotencyKeyTaken(key: string, cause: unknown): RelayError {
  return new RelayError(
    'CONFLICT',
    `${IDEMPOTENCY_KEY_TAKEN}: ${JSON.stringify(key)} names another execution of this tenant from the last 24 hours`,
    { cause },
  );
}

export function tenantNotFound(tenantId: string, cause: unknown): RelayError {
  return new RelayError('TENANT_NOT_FOUND', `tenant ${tenantId} not found`, { cause });
}

/** One patchable execution field: its column and whether it holds JSON. */
export interface PatchField {
  key: keyof ExecutionPatch;
  column: string;
  json: boolean;
}

/** Fixed order, so a set of present fields maps to one bit mask and one cached statement. */
export const PATCH_FIELDS: readonly PatchField[] = [
  { key: 'status', column: 'status', json: false },
  { key: 'output', column: 'output', json: true },
  { key: 'error', column: 'error', json: true },
  { key: 'timings', column: 'timings', json: true },
  { key: 'usage', column: 'usage', json: true },
  { key: 'cost', column: 'cost', json: false },
  { key: 'attempt', column: 'attempt', json: false },
  { key: 'startedAt', column: 'started_at', json: false },
  { key: 'finishedAt', column: 'finished_at', json: false },
  { key: 'version', column: 'version', json: false },
];

/** The bit mask of fields present in a patch and their bound values, in PATCH_FIELDS order. */
export function patchValues(patch: ExecutionPatch): { mask: number; values: unknown[] } {
  let mask = 0;
  const values: unknown[] = [];
  for (let i = 0; i < PATCH_FIELDS.length; i++) {
    const field = PATCH_FIELDS[i]!;
    const value = patch[field.key];
    if (value === undefined) continue;
    mask |= 1 << i;
    values.push(field.json ? toJson(value) : value);
  }
  return { mask, values };
}

/** The fields a mask selects, in PATCH_FIELDS order. */
export function patchFields(mask: number): PatchField[] {
  return PATCH_FIELDS.filter((_, i) => (mask & (1 << i)) !== 0);
}

/** Bits of the optional filters of listExecutions, for caching one statement per shape. */
export const LIST_FILTERS = ['status', 'rufid', 'branch', 'cursor'] as const;
