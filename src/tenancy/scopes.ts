/**
 * Scope rules in one place. `admin` stands for every tenant-level scope
 * (deploy, invoke, branch) within its own tenant; `operator` is only about
 * managing tenants and implies nothing inside one.
 */
import { errors, type Scope } from '../domain/index.ts';

const IMPLIED_BY_ADMIN: ReadonlySet<Scope> = new Set(['admin', 'deploy', 'invoke', 'branch']);

/** Whether a set of granted scopes covers the needed one. */
export function grants(granted: readonly Scope[], needed: Scope): boolean {
  if (granted.includes(needed)) return true;
  return IMPLIED_BY_ADMIN.has(needed) && granted.includes('admin');
}

/** Whether granted scopes cover at least one of the needed scopes. */
export function grantsAny(granted: readonly Scope[], needed: readonly Scope[]): boolean {
  return needed.some((s) => grants(granted, s));
}

/** Throws FORBIDDEN unless the granted scopes cover one of `needed`. */
export function requireAnyScope(granted: readonly Scope[], needed: readonly Scope[]): void {
  if (grantsAny(granted, needed)) return;
  const list = needed.join(' or ');
  throw errors.forbidden(`This API key lacks the ${list} scope`);
}

/** Whether a key may run the given branch: branch (or admin) scope, and the branch in its list if it has one. */
export function allowsBranch(
  key: { scopes: readonly Scope[]; branches: readonly string[] | null },
  branch: string,
): boolean {
  if (!grants(key.scopes, 'branch')) return false;
  return key.branches === null || key.branches.includes(branch);
}
