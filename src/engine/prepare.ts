/**
 * Pre-execution: resolve the manifest and the tenant's caps into effective
 * limits, put the package on disk once per digest, hydrate secrets and
 * dependencies, and describe the sandbox the execution needs.
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { RelayConfig } from '../config/index.ts';
import type { FunctionVersion, Tenant } from '../domain/index.ts';
import { RelayError } from '../domain/index.ts';
import type { RuntimeAdapter } from '../runtimes/port.ts';
import { grantSandboxTraversal } from '../sandbox/index.ts';
import type { SandboxLimits, SandboxSpec } from '../sandbox/port.ts';
import type { ControlStore } from '../store/port.ts';
import type { DependencyHandle, DependencySource, PackageSource, SecretSource } from './types.ts';

export interface EffectiveLimits extends SandboxLimits {
  timeoutSeconds: number;
}

/** The manifest's limits (or the deployment's defaults), clamped to the tenant's caps. */
export function effectiveLimits(
  version: FunctionVersion,
  tenant: Tenant,
  config: Readonly<RelayConfig>,
  runtime: RuntimeAdapter,
): EffectiveLimits {
  const asked = version.manifest.limits ?? {};
  const caps = tenant.limits;
  const memoryMb = Math.min(asked.memoryMb ?? config.execution.memoryMb, caps.maxMemoryMb);
  return {
    timeoutSeconds: Math.min(
      asked.timeoutSeconds ?? config.execution.timeoutSeconds,
      caps.maxTimeoutSeconds,
    ),
    memoryMb,
    cpus: Math.min(asked.cpus ?? config.execution.cpus, caps.maxCpus),
    pids: Math.max(config.sandbox.pidsLimit, runtime.minPids),
    tmpMb: config.sandbox.tmpMb,
    fileSizeMb: config.sandbox.tmpMb,
    maxResultBytes: config.execution.maxResultBytes,
  };
}

export interface PreparedExecution {
  spec: SandboxSpec;
  limits: EffectiveLimits;
  deps: DependencyHandle | null;
  /** Replaces secret values in log lines; undefined when no secret was hydrated. */
  redact: ((line: string) => string) | undefined;
}

export interface PreparerDeps {
  config: Readonly<RelayConfig>;
  store: ControlStore;
  runtimes: Readonly<Record<string, RuntimeAdapter>>;
  packages: PackageSource;
  secrets?: SecretSource;
  dependencies?: DependencySource;
}

/** Builds sandbox specs; caches immutable versions and on-disk packages. */
export class ExecutionPreparer {
  readonly #deps: PreparerDeps;
  readonly #versions = new Map<string, FunctionVersion>();
  readonly #materialized = new Map<string, Promise<string>>();
  readonly #tenants = new Map<string, { tenant: Tenant; at: number }>();

  constructor(deps: PreparerDeps) {
    this.#deps = deps;
  }

  /** The immutable ledger entry (cached: only its build state changes, re-read while not ready). */
  async version(rufid: string, version: number): Promise<FunctionVersion> {
    const key = `${rufid}:${version}`;
    const cached = this.#versions.get(key);
    if (cached) return cached;
    const found = await this.#deps.store.getVersion(rufid, version);
    if (!found)
      throw new RelayError('VERSION_NOT_FOUND', `version ${version} of ${rufid} not found`);
    if (found.build.status === 'ready') this.#versions.set(key, found);
    return found;
  }

  /** Tenant caps, re-read at most once a second so limit changes apply quickly. */
  async tenant(id: string): Promise<Tenant> {
    const cached = this.#tenants.get(id);
    if (cached && Date.now() - cached.at < 1000) return cached.tenant;
    const tenant = await this.#deps.store.getTenant(id);
    if (!tenant) throw new RelayError('TENANT_NOT_FOUND', `tenant ${id} not found`);
    this.#tenants.set(id, { tenant, at: Date.now() });
    return tenant;
  }

  async prepare(
    tenant: Tenant,
    version: FunctionVersion,
    branch: string,
  ): Promise<PreparedExecution> {
    const { config, runtimes } = this.#deps;
    const runtime = runtimes[version.manifest.runtime];
    if (!runtime) {
      throw new RelayError(
        'INVALID_MANIFEST',
        `runtime ${version.manifest.runtime} is not available`,
      );
    }
    const limits = effectiveLimits(version, tenant, config, runtime);
    const taskDir = await this.#taskDir(version);
    const secretNames = version.manifest.secrets ?? [];
    const secrets = this.#deps.secrets;
    const secretEnv =
      secretNames.length > 0 && secrets ? await secrets.resolve(tenant.id, secretNames) : {};
    const secretValues = Object.values(secretEnv);
    const env = { ...(version.manifest.env ?? {}), ...secretEnv };
    const deps = this.#deps.dependencies ? await this.#deps.dependencies.acquire(version) : null;
    const spec: SandboxSpec = {
      poolKey: poolKey(tenant.id, version, branch, limits, env),
      tenantId: tenant.id,
      rufid: version.rufid,
      version: version.version,
      branch,
      runtime,
      entrypoint: version.manifest.entrypoint,
      taskDir,
      ...(deps ? { depsDir: deps.dir } : {}),
      env,
      network: version.manifest.network === true,
      limits,
    };
    const redact = secrets && secretValues.length > 0 ? secrets.redactor(secretValues) : undefined;
    return { spec, limits, deps, redact };
  }

  /** `<dataDir>/packages/<digest>`, written once per digest however many calls race for it. */
  #taskDir(version: FunctionVersion): Promise<string> {
    let pending = this.#materialized.get(version.digest);
    if (!pending) {
      const { dataDir } = this.#deps.config;
      const dir = path.join(dataDir, 'packages', version.digest);
      pending = mkdir(path.dirname(dir), { recursive: true })
        // Sandboxes may run as another user, who must be able to search the way to the package.
        .then(() => grantSandboxTraversal([dataDir, path.dirname(dir)]))
        .then(() => this.#deps.packages.materialize(version, dir))
        .then(() => dir);
      pending.catch(() => this.#materialized.delete(version.digest));
      this.#materialized.set(version.digest, pending);
    }
    return pending;
  }
}

/**
 * Warm sandboxes are shared only between calls that would start an identical
 * one: same tenant, function, version, branch, package, limits and
 * environment (so a rotated secret never reaches an old sandbox).
 */
function poolKey(
  tenantId: string,
  version: FunctionVersion,
  branch: string,
  limits: EffectiveLimits,
  env: Record<string, string>,
): string {
  const envDigest = createHash('sha256').update(JSON.stringify(env)).digest('hex').slice(0, 16);
  return [
    tenantId,
    version.rufid,
    version.version,
    branch,
    version.digest,
    limits.memoryMb,
    limits.cpus,
    limits.pids,
    limits.tmpMb,
    envDigest,
  ].join('|');
}
