/**
 * Tenants and their API keys: creating them, turning an Authorization
 * header into a principal, and the branch access rule of FN-102. Built
 * once in main.ts around a ControlStore.
 */
import {
  BRANCH_PATTERN,
  MAIN_BRANCH,
  RelayError,
  SCOPES,
  errors,
  newId,
  type ApiKey,
  type Scope,
  type Tenant,
  type TenantLimits,
} from '../domain/index.ts';
import type { RelayConfig } from '../config/index.ts';
import type { ControlStore } from '../store/port.ts';
import { generateKey, hashSecret, parseKey, verifySecret } from './keys.ts';
import { allowsBranch, grants } from './scopes.ts';

/** Who is calling: the key's tenant and the key itself. */
export interface Principal {
  tenant: Tenant;
  key: ApiKey;
}

export interface NewKeyRequest {
  name: string;
  scopes: Scope[];
  branches?: string[] | null;
}

/** A created key: the record plus the token, which is never available again. */
export interface CreatedKey extends ApiKey {
  key: string;
}

export const TENANT_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export type Tenancy = ReturnType<typeof createTenancy>;

/** Limits a new tenant starts with, taken from the server's settings. */
export function defaultTenantLimits(config: Readonly<RelayConfig>): TenantLimits {
  return {
    maxTimeoutSeconds: config.execution.timeoutSeconds,
    maxMemoryMb: config.execution.memoryMb,
    maxCpus: config.execution.cpus,
    maxConcurrency: config.execution.concurrency,
    maxQueued: config.queue.maxPerTenant,
    maxPriority: 9,
    monthlyBudget: null,
  };
}

/** Build the tenancy service over a store. */
export function createTenancy(deps: { store: ControlStore; config: Readonly<RelayConfig> }) {
  const { store, config } = deps;

  /** Load a key by token; null unless it exists, is live, and the secret matches. */
  async function findLiveKey(token: string): Promise<ApiKey | null> {
    if (token.length === 0 || token.length > 512) return null;
    const { id, secret } = parseKey(token);
    const stored = await store.getApiKey(id);
    // Still hash and compare when the id is unknown, so unknown ids take as long as wrong secrets.
    const ok = verifySecret(secret, stored?.secretHash ?? hashSecret(''));
    if (!stored || !ok || stored.revokedAt !== null) return null;
    const { id: keyId, tenantId, name, scopes, branches, createdAt, revokedAt } = stored;
    return { id: keyId, tenantId, name, scopes, branches, createdAt, revokedAt };
  }

  function validateKeyRequest(req: NewKeyRequest, granter: readonly Scope[] | null): void {
    if (req.scopes.length === 0)
      throw new RelayError('VALIDATION_FAILED', 'scopes: give at least one scope');
    for (const s of req.scopes) {
      if (!SCOPES.includes(s)) {
        throw new RelayError(
          'VALIDATION_FAILED',
          `scopes: unknown scope '${String(s)}' (expected ${SCOPES.join(', ')})`,
        );
      }
      // A key can hand out only what it holds itself, so admins cannot mint operators.
      if (granter !== null && !grants(granter, s)) {
        throw errors.forbidden(`Cannot grant the ${s} scope: this API key does not hold it`);
      }
    }
    for (const b of req.branches ?? []) {
      if (!BRANCH_PATTERN.test(b)) {
        throw new RelayError('VALIDATION_FAILED', `branches: '${b}' is not a valid branch name`);
      }
    }
  }

  async function insertKey(
    tenantId: string,
    req: NewKeyRequest,
    token?: string,
  ): Promise<CreatedKey> {
    const generated = generateKey();
    const parsed = token === undefined ? null : parseKey(token);
    const record = await store.createApiKey({
      id: parsed?.id ?? generated.id,
      tenantId,
      name: req.name,
      scopes: [...new Set(req.scopes)],
      branches: req.branches && req.branches.length > 0 ? [...new Set(req.branches)] : null,
      secretHash: parsed ? hashSecret(parsed.secret) : generated.secretHash,
    });
    return { ...record, key: token ?? generated.token };
  }

  return {
    /** Turn an Authorization header into a principal, or throw UNAUTHENTICATED. */
    async authenticate(authorization: string | undefined): Promise<Principal> {
      if (authorization === undefined || authorization.trim() === '') {
        throw errors.unauthenticated(
          'Missing Authorization header: send "Authorization: Bearer <api key>"',
        );
      }
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!m) throw errors.unauthenticated('Authorization header must be "Bearer <api key>"');
      const key = await findLiveKey(m[1]!);
      if (!key) throw errors.unauthenticated('Invalid or revoked API key');
      const tenant = await store.getTenant(key.tenantId);
      if (!tenant) throw errors.unauthenticated('Invalid or revoked API key');
      return { tenant, key };
    },

    /**
     * FN-102: a non-main branch needs X-Relay-Branch-Key holding a live key
     * of the function's tenant with branch (or admin) scope that covers the branch.
     */
    async checkBranchAccess(
      tenantId: string,
      branch: string,
      branchKey: string | undefined,
    ): Promise<void> {
      if (branch === MAIN_BRANCH) return;
      if (branchKey === undefined || branchKey.trim() === '') throw errors.branchAccessDenied();
      const key = await findLiveKey(branchKey.trim());
      if (!key || key.tenantId !== tenantId || !allowsBranch(key, branch))
        throw errors.branchAccessDenied();
    },

    /** Create a tenant with default limits (overridable) and its first admin key. */
    async createTenant(
      name: string,
      limits: Partial<TenantLimits> = {},
    ): Promise<{ tenant: Tenant; adminKey: CreatedKey }> {
      if (!TENANT_NAME_PATTERN.test(name)) {
        throw new RelayError(
          'VALIDATION_FAILED',
          `name: '${name}' must be lowercase letters, digits and dashes (max 63)`,
        );
      }
      if (await store.getTenantByName(name))
        throw errors.conflict(`Tenant '${name}' already exists`);
      const tenant = await store.createTenant({
        id: newId('tn'),
        name,
        limits: { ...defaultTenantLimits(config), ...limits },
      });
      const adminKey = await insertKey(tenant.id, { name: 'admin', scopes: ['admin'] });
      return { tenant, adminKey };
    },

    /** Every tenant (operator view). */
    async listTenants(): Promise<Tenant[]> {
      return store.listTenants();
    },

    /** Create a key in a tenant; `granter` is the creating key's scopes (null: trusted internal caller). */
    async createKey(
      tenantId: string,
      req: NewKeyRequest,
      granter: readonly Scope[] | null,
    ): Promise<CreatedKey> {
      validateKeyRequest(req, granter);
      return insertKey(tenantId, req);
    },

    /** The tenant's keys, secrets never included. */
    async listKeys(tenantId: string): Promise<ApiKey[]> {
      return store.listApiKeys(tenantId);
    },

    /** Revoke a key of the tenant; KEY_NOT_FOUND when it is not the tenant's. */
    async revokeKey(tenantId: string, id: string): Promise<void> {
      const ok = await store.revokeApiKey(tenantId, id);
      if (!ok) throw errors.notFound('KEY_NOT_FOUND', `API key '${id}' not found`);
    },

    /** Insert a key with a caller-chosen token (bootstrap only). */
    async insertKeyWithToken(
      tenantId: string,
      req: NewKeyRequest,
      token: string,
    ): Promise<CreatedKey> {
      return insertKey(tenantId, req, token);
    },

    /** Whether a token is already registered (live or revoked). */
    async hasKeyFor(token: string): Promise<boolean> {
      return (await store.getApiKey(parseKey(token).id)) !== null;
    },

    /** The tenant by name, or null. */
    async getTenantByName(name: string): Promise<Tenant | null> {
      return store.getTenantByName(name);
    },

    /** Insert a tenant with a chosen id (bootstrap only). */
    async insertTenant(id: string, name: string): Promise<Tenant> {
      return store.createTenant({ id, name, limits: defaultTenantLimits(config) });
    },
  };
}
