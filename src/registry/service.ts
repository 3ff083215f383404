/**
 * The function registry: deploys into the version ledger, branch heads,
 * and resolve (tenant, rufid, branch) → version through an LRU keyed the
 * FN-102 way (`rufid:{short}|branch:{name}`). Every write that can change
 * a resolve answer invalidates that key before returning.
 */
import type { RelayConfig } from '../config/index.ts';
import {
  BRANCH_PATTERN,
  MAIN_BRANCH,
  RUFID_PATTERN,
  RelayError,
  errors,
  newRufid,
  resolveCacheKey,
  type BranchHead,
  type FunctionRecord,
  type FunctionVersion,
  type Runtime,
  type Tenant,
} from '../domain/index.ts';
import type { ControlStore, NewVersion } from '../store/port.ts';
import { LruCache } from './cache.ts';
import { packageDigest } from './digest.ts';
import { readFiles, type FileBody } from './files.ts';
import { checkEntrypoint, checkLimits, parseManifest } from './manifest.ts';
import { materializeVersion } from './materialize.ts';
import { initialBuildState } from '../deps/index.ts';

export const FUNCTION_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAX_FILES = 5000;

/** What a deploy carries: the manifest (relay.json) and the files. */
export interface PackageInput {
  manifest: unknown;
  files: Record<string, FileBody>;
  message?: string | undefined;
}

/** Which version a call would run. */
export interface Resolved {
  rufid: string;
  branch: string;
  version: number;
  runtime: Runtime;
  digest: string;
}

export interface FunctionDetail extends FunctionRecord {
  branches: BranchHead[];
}

export interface RegistryOptions {
  store: ControlStore;
  config: Readonly<RelayConfig>;
  /** When present, a deploy fails with SECRET_NOT_FOUND unless every declared secret exists. */
  secrets?: { assertExist(tenantId: string, names: readonly string[]): Promise<void> } | undefined;
  cacheSize?: number;
  cacheTtlMs?: number;
}

export type Registry = ReturnType<typeof createRegistry>;

/** Throws VALIDATION_FAILED unless `branch` is a valid branch name. */
export function checkBranchName(branch: string): void {
  if (!BRANCH_PATTERN.test(branch)) {
    throw new RelayError(
      'VALIDATION_FAILED',
      `branch: '${branch}' is not a valid branch name (letters, digits, '.', '_', '-'; max 63)`,
    );
  }
}

/** Build the registry over a store. */
export function createRegistry(options: RegistryOptions) {
  const { store, config } = options;
  const cache = new LruCache<Resolved & { tenantId: string }>({
    max: options.cacheSize ?? 10_000,
    ttlMs: options.cacheTtlMs ?? 5_000,
  });

  async function ownFunction(tenantId: string, rufid: string): Promise<FunctionRecord> {
    const fn = RUFID_PATTERN.test(rufid) ? await store.getFunction(tenantId, rufid) : null;
    if (!fn) throw errors.notFound('FUNCTION_NOT_FOUND', `Function '${rufid}' not found`);
    return fn;
  }

  /** Validate a package against the tenant's caps, store its blobs, and describe the new version. */
  async function prepare(
    tenant: Tenant,
    input: PackageInput,
    branch: string,
    deployedBy: string,
  ): Promise<NewVersion> {
    const manifest = parseManifest(input.manifest);
    const files = readFiles(input.files, { ...config.packages, maxFiles: MAX_FILES });
    checkEntrypoint(manifest, new Set(files.map((f) => f.path)));
    checkLimits(manifest, tenant.limits);
    if (manifest.secrets && options.secrets)
      await options.secrets.assertExist(tenant.id, manifest.secrets);
    const entries = files.map(({ path, digest, size }) => ({ path, digest, size }));
    for (const f of files) await store.putBlob(f.digest, f.bytes);
    return {
      digest: packageDigest(manifest, entries),
      manifest,
      files: entries,
      size: entries.reduce((n, f) => n + f.size, 0),
      deployedBy,
      message: input.message ?? '',
      branch,
      // A package that may declare dependencies starts `pending` until the build service installs them.
      build: initialBuildState(manifest, entries),
    };
  }

  function invalidate(rufid: string, branch: string): void {
    cache.delete(resolveCacheKey(rufid, branch));
  }

  const deployListeners = new Set<(version: FunctionVersion) => void>();
  function deployed(version: FunctionVersion): FunctionVersion {
    for (const listener of deployListeners) listener(version);
    return version;
  }

  return {
    /** Create a function and deploy version 1 to main. */
    async createFunction(
      tenant: Tenant,
      name: string,
      input: PackageInput,
      deployedBy: string,
    ): Promise<FunctionVersion> {
      if (!FUNCTION_NAME_PATTERN.test(name)) {
        throw new RelayError(
          'VALIDATION_FAILED',
          `name: '${name}' must be letters, digits, '.', '_', '-' (max 128)`,
        );
      }
      const existing = await store.listFunctions(tenant.id);
      if (existing.some((f) => f.name === name)) {
        throw errors.conflict(
          `A function named '${name}' already exists; deploy a new version to it instead`,
        );
      }
      const draft = await prepare(tenant, input, MAIN_BRANCH, deployedBy);
      const { version } = await store.createFunction(
        { rufid: newRufid(), tenantId: tenant.id, name },
        draft,
      );
      invalidate(version.rufid, MAIN_BRANCH);
      return deployed(version);
    },

    /** Deploy a new version to a branch (created on first use) and move its head. */
    async deploy(
      tenant: Tenant,
      rufid: string,
      branch: string,
      input: PackageInput,
      deployedBy: string,
    ): Promise<FunctionVersion> {
      checkBranchName(branch);
      await ownFunction(tenant.id, rufid);
      const draft = await prepare(tenant, input, branch, deployedBy);
      const version = await store.appendVersion(rufid, draft);
      invalidate(rufid, branch);
      return deployed(version);
    },

    /** Hear every new version (the build service pre-bakes its dependencies); returns the unsubscribe. */
    onDeployed(listener: (version: FunctionVersion) => void): () => void {
      deployListeners.add(listener);
      return () => deployListeners.delete(listener);
    },

    /** The tenant's functions with their branch heads. */
    async listFunctions(tenantId: string): Promise<FunctionDetail[]> {
      const fns = await store.listFunctions(tenantId);
      return Promise.all(
        fns.map(async (f) => ({ ...f, branches: await store.listBranchHeads(f.rufid) })),
      );
    },

    /** One function with its branch heads. */
    async describe(tenantId: string, rufid: string): Promise<FunctionDetail> {
      const fn = await ownFunction(tenantId, rufid);
      return { ...fn, branches: await store.listBranchHeads(rufid) };
    },

    /** The version ledger, newest first. */
    async listVersions(tenantId: string, rufid: string): Promise<FunctionVersion[]> {
      await ownFunction(tenantId, rufid);
      return store.listVersions(rufid);
    },

    /** One ledger entry; VERSION_NOT_FOUND if absent. */
    async getVersion(tenantId: string, rufid: string, version: number): Promise<FunctionVersion> {
      await ownFunction(tenantId, rufid);
      const v = await store.getVersion(rufid, version);
      if (!v)
        throw errors.notFound('VERSION_NOT_FOUND', `Version ${version} of '${rufid}' not found`);
      return v;
    },

    /** Move (or create) a branch head to a version of the ledger: promote, roll back. */
    async setBranchHead(
      tenantId: string,
      rufid: string,
      branch: string,
      version: number,
    ): Promise<{ head: BranchHead; previousVersion: number | null }> {
      checkBranchName(branch);
      await ownFunction(tenantId, rufid);
      if (!(await store.getVersion(rufid, version))) {
        throw errors.notFound('VERSION_NOT_FOUND', `Version ${version} of '${rufid}' not found`);
      }
      const previous = await store.getBranchHead(rufid, branch);
      const head = await store.setBranchHead(rufid, branch, version);
      invalidate(rufid, branch);
      return { head, previousVersion: previous?.version ?? null };
    },

    /** Delete a non-main branch. */
    async deleteBranch(tenantId: string, rufid: string, branch: string): Promise<void> {
      await ownFunction(tenantId, rufid);
      if (branch === MAIN_BRANCH)
        throw new RelayError('INVALID_STATE', 'The main branch cannot be deleted');
      const ok = await store.deleteBranch(rufid, branch);
      invalidate(rufid, branch);
      if (!ok)
        throw errors.notFound('BRANCH_NOT_FOUND', `Branch '${branch}' of '${rufid}' not found`);
    },

    /** Which version `(rufid, branch)` runs for this tenant; never falls back to main. */
    async resolve(
      tenantId: string,
      rufid: string,
      branch: string = MAIN_BRANCH,
    ): Promise<Resolved> {
      const key = resolveCacheKey(rufid, branch);
      const hit = cache.get(key);
      if (hit) {
        if (hit.tenantId !== tenantId)
          throw errors.notFound('FUNCTION_NOT_FOUND', `Function '${rufid}' not found`);
        return {
          rufid: hit.rufid,
          branch: hit.branch,
          version: hit.version,
          runtime: hit.runtime,
          digest: hit.digest,
        };
      }
      const generation = cache.generation();
      await ownFunction(tenantId, rufid);
      const head = BRANCH_PATTERN.test(branch) ? await store.getBranchHead(rufid, branch) : null;
      if (!head)
        throw errors.notFound('BRANCH_NOT_FOUND', `Branch '${branch}' of '${rufid}' not found`);
      const v = await store.getVersion(rufid, head.version);
      if (!v)
        throw new RelayError(
          'INTERNAL',
          `Branch '${branch}' points at missing version ${head.version}`,
        );
      const resolved: Resolved = {
        rufid,
        branch,
        version: v.version,
        runtime: v.manifest.runtime,
        digest: v.digest,
      };
      cache.set(key, { ...resolved, tenantId }, generation);
      return resolved;
    },

    /** Write a version's files into `dir` (atomic, idempotent), for the sandbox's read-only task dir. */
    async materialize(version: FunctionVersion, dir: string): Promise<string> {
      return materializeVersion(store, version, dir);
    },

    /** Drop every cached resolve of a function (for callers that change heads out of band). */
    invalidateFunction(rufid: string): void {
      cache.deleteWhere((k) => k.startsWith(`rufid:${rufid}|`));
    },
  };
}
