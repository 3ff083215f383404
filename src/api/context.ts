/**
 * What every route gets: the app's dependencies plus the request-level
 * helpers for authentication, scopes and FN-102 branch access, so each
 * route states its rule in one line and all routes apply it the same way.
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { RelayConfig } from '../config/index.ts';
import { MAIN_BRANCH, RelayError, type Scope } from '../domain/index.ts';
import { checkBranchName, type Registry, type Resolved } from '../registry/index.ts';
import type { ControlStore } from '../store/port.ts';
import { requireAnyScope, type Principal, type Tenancy } from '../tenancy/index.ts';

/** The Fastify instance routes see, typed by zod schemas. */
export type ZodApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** Secrets as the API needs them (implemented in src/secrets). */
export interface SecretsApi {
  put(tenantId: string, name: string, value: string): Promise<unknown>;
  list(tenantId: string): Promise<{ name: string; createdAt: string; updatedAt: string }[]>;
  remove(tenantId: string, name: string): Promise<boolean>;
}

/** A route module: registers its routes on `app` (already under the prefix it was mounted at). */
export type RoutePlugin = (app: ZodApp, ctx: ApiContext) => void | Promise<void>;

/** Everything buildApp needs; the composition root (main.ts) builds it. */
export interface AppDeps {
  config: Readonly<RelayConfig>;
  store: ControlStore;
  registry: Registry;
  tenancy: Tenancy;
  logger: FastifyBaseLogger;
  secrets?: SecretsApi | undefined;
  /** Extra route modules mounted under /api/v1 (e.g. executions). */
  routes?: RoutePlugin[];
  /** Extra route modules mounted at the root (e.g. /metrics). */
  rootRoutes?: RoutePlugin[];
}

/** A call that passed authentication, scope and branch checks, with what it resolved to. */
export interface AuthorizedCall {
  principal: Principal;
  branch: string;
  target: Resolved;
}

export interface ApiContext extends AppDeps {
  /** Authenticate the request and require one of `scopes`; throws 401/403. */
  authorize(request: FastifyRequest, scopes: readonly Scope[]): Promise<Principal>;
  /** The branch a request names (`?branch=` or X-Relay-Branch), default main; validated. */
  requestBranch(request: FastifyRequest): string;
  /**
   * For resolve and execute: authenticate with `scopes`, then the FN-102 rule
   * (non-main branch needs X-Relay-Branch-Key), then resolve. Order of
   * failures: 401, 403 (scope), 404 function, 403 branch access, 404 branch.
   */
  authorizeCall(
    request: FastifyRequest,
    rufid: string,
    scopes: readonly Scope[],
  ): Promise<AuthorizedCall>;
}

function singleHeader(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  if (Array.isArray(value))
    throw new RelayError('VALIDATION_FAILED', `headers.${name}: give the header once`);
  return value;
}

/** Wrap the app's dependencies with the request helpers. */
export function createContext(deps: AppDeps): ApiContext {
  const { tenancy, registry } = deps;

  async function authorize(request: FastifyRequest, scopes: readonly Scope[]): Promise<Principal> {
    const principal = await tenancy.authenticate(singleHeader(request, 'authorization'));
    requireAnyScope(principal.key.scopes, scopes);
    return principal;
  }

  function requestBranch(request: FastifyRequest): string {
    const query = request.query as { branch?: unknown } | undefined;
    const fromQuery =
      typeof query?.branch === 'string' && query.branch !== '' ? query.branch : undefined;
    const fromHeader = singleHeader(request, 'x-relay-branch')?.trim() || undefined;
    if (fromQuery && fromHeader && fromQuery !== fromHeader) {
      throw new RelayError(
        'VALIDATION_FAILED',
        `branch: ?branch=${fromQuery} and X-Relay-Branch: ${fromHeader} disagree`,
      );
    }
    const branch = fromQuery ?? fromHeader ?? MAIN_BRANCH;
    checkBranchName(branch);
    return branch;
  }

  async function authorizeCall(
    request: FastifyRequest,
    rufid: string,
    scopes: readonly Scope[],
  ): Promise<AuthorizedCall> {
    const principal = await authorize(request, scopes);
    const branch = requestBranch(request);
    const branchKey = singleHeader(request, 'x-relay-branch-key');
    let target: Resolved;
    try {
      target = await registry.resolve(principal.tenant.id, rufid, branch);
    } catch (err) {
      // Check access before admitting that a branch does not exist, so callers without a key learn nothing.
      if (err instanceof RelayError && err.code === 'BRANCH_NOT_FOUND') {
        await tenancy.checkBranchAccess(principal.tenant.id, branch, branchKey);
      }
      throw err;
    }
    await tenancy.checkBranchAccess(principal.tenant.id, branch, branchKey);
    return { principal, branch, target };
  }

  return { ...deps, authorize, requestBranch, authorizeCall };
}
