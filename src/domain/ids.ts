/** Identifier formats: RUFIDs, execution ids, key ids, branch names. */
import { randomBytes, randomUUID } from 'node:crypto';

/** A RUFID: 12 lowercase hex characters, random. */
export function newRufid(): string {
  return randomBytes(6).toString('hex');
}

export const RUFID_PATTERN = /^[0-9a-f]{12}$/;

/** Execution ids are sortable by creation time (UUIDv7-like: ms timestamp + random). */
export function newExecutionId(now = Date.now()): string {
  const time = now.toString(16).padStart(12, '0');
  return `ex_${time}${randomBytes(10).toString('hex')}`;
}

export function newId(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
}

/** Branch names: git-like, short, safe in keys and URLs. */
export const BRANCH_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The resolve cache key of the seed (FN-102). */
export function resolveCacheKey(rufid: string, branch: string): string {
  return `rufid:${rufid}|branch:${branch}`;
}
