/** Tenancy: tenants, API keys, authentication, scopes and branch access. */
export { createTenancy, defaultTenantLimits, TENANT_NAME_PATTERN } from './service.ts';
export type { Tenancy, Principal, CreatedKey, NewKeyRequest } from './service.ts';
export { bootstrap, bootstrapKeyPath, DEFAULT_TENANT, BOOTSTRAP_KEY_FILE } from './bootstrap.ts';
export type { BootstrapResult } from './bootstrap.ts';
export { grants, grantsAny, requireAnyScope, allowsBranch } from './scopes.ts';
export { generateKey, parseKey, hashSecret, verifySecret, isRelayKeyFormat } from './keys.ts';
export { BudgetGuard, spendPeriod } from './budget.ts';
export type { BudgetOptions } from './budget.ts';
