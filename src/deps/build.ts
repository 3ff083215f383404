/**
 * Pre-bake (the seed's "pre-bake images"): deploying a version installs its
 * dependency set in the background and records the outcome as the
 * version's build state (`pending` → `ready` | `failed` with the
 * installer's last lines). Workers use the same service as the engine's
 * dependency source: a set missing from this machine's cache (a worker on
 * another machine) is installed before the first execution.
 */
import type { BuildState, FunctionVersion, Manifest, PackageEntry } from '../domain/index.ts';
import { RelayError } from '../domain/index.ts';
import type { ControlStore } from '../store/port.ts';
import type { DependencyCache, DependencyLease, DepsLogger } from './cache.ts';
import { isDependencyInstallError, tailLines } from './errors.ts';
import { DEPENDENCY_FILES, specFor } from './spec.ts';
import type { DependencyFile, DependencyFiles, DependencySpec } from './spec.ts';

export interface BuildServiceOptions {
  store: Pick<ControlStore, 'getBlob' | 'setBuildState'>;
  cache: DependencyCache;
  logger?: DepsLogger;
}

export interface BuildService {
  /** The version's dependency set read from its package blobs (null: nothing to install). */
  specFor(
    version: Pick<FunctionVersion, 'manifest' | 'files' | 'digest'>,
  ): Promise<DependencySpec | null>;
  /** Records `pending` (or `ready` when there is nothing to install) and installs in the background. */
  startBuild(version: FunctionVersion): Promise<BuildState>;
  /** The final state of a build started by this service, or undefined if none is running. */
  whenBuilt(rufid: string, version: number): Promise<BuildState> | undefined;
  /** Engine dependency source: the held set for a version, null when it declares none. */
  acquire(version: FunctionVersion): Promise<DependencyLease | null>;
  /** Waits for every background build (shutdown, tests). */
  drain(): Promise<void>;
}

const ROOT_FILES: ReadonlySet<string> = new Set(DEPENDENCY_FILES);
const SPEC_MEMO_LIMIT = 1000;

/** True when the package may declare dependencies (decided from names alone, before reading blobs). */
export function declaresDependencies(manifest: Manifest, files: readonly PackageEntry[]): boolean {
  const declared = manifest.dependencies;
  if (
    declared !== undefined &&
    (Array.isArray(declared) ? declared.length : Object.keys(declared).length) > 0
  ) {
    return true;
  }
  if (manifest.runtime === 'wasm') return false;
  return files.some((f) => ROOT_FILES.has(f.path));
}

/** The build state a new version starts with: `pending` if there may be something to install. */
export function initialBuildState(manifest: Manifest, files: readonly PackageEntry[]): BuildState {
  const pending = declaresDependencies(manifest, files);
  return {
    status: pending ? 'pending' : 'ready',
    log: pending ? 'waiting to install dependencies' : '',
    updatedAt: new Date().toISOString(),
  };
}

/** Creates the build service over a store (for blobs and build states) and the dependency cache. */
export function createBuildService(options: BuildServiceOptions): BuildService {
  const { store, cache, logger } = options;
  const specs = new Map<string, Promise<DependencySpec | null>>();
  const running = new Map<string, Promise<BuildState>>();

  async function readSpec(
    version: Pick<FunctionVersion, 'manifest' | 'files'>,
  ): Promise<DependencySpec | null> {
    const files: DependencyFiles = {};
    for (const entry of version.files) {
      if (!ROOT_FILES.has(entry.path)) continue;
      const bytes = await store.getBlob(entry.digest);
      if (!bytes)
        throw new RelayError(
          'INTERNAL',
          `package file ${entry.path} (${entry.digest}) is missing from the store`,
        );
      files[entry.path as DependencyFile] = bytes;
    }
    return specFor(version.manifest, files);
  }

  function specOf(
    version: Pick<FunctionVersion, 'manifest' | 'files' | 'digest'>,
  ): Promise<DependencySpec | null> {
    // Versions are immutable and the digest covers manifest and files: safe to remember.
    let pending = specs.get(version.digest);
    if (!pending) {
      pending = readSpec(version);
      pending.catch(() => specs.delete(version.digest));
      if (specs.size >= SPEC_MEMO_LIMIT) specs.delete(specs.keys().next().value!);
      specs.set(version.digest, pending);
    }
    return pending;
  }

  async function record(
    version: FunctionVersion,
    status: BuildState['status'],
    log: string,
  ): Promise<BuildState> {
    const state: BuildState = { status, log, updatedAt: new Date().toISOString() };
    await store.setBuildState(version.rufid, version.version, state);
    return state;
  }

  async function install(version: FunctionVersion, spec: DependencySpec): Promise<BuildState> {
    try {
      const result = await cache.ensure(spec);
      const head = result.cached
        ? `dependency set ${result.key.slice(0, 12)} already installed`
        : `installed dependency set ${result.key.slice(0, 12)}`;
      return await record(version, 'ready', tailLines(`${head}\n${result.log}`));
    } catch (err) {
      const log = isDependencyInstallError(err)
        ? `${err.message.split('\n')[0]}\n${err.log}`
        : (err as Error).message;
      logger?.warn(
        { rufid: version.rufid, version: version.version, err },
        'dependency build failed',
      );
      return record(version, 'failed', tailLines(log)).catch((storeErr: unknown) => {
        logger?.warn({ err: storeErr }, 'could not record a failed build');
        return { status: 'failed' as const, log, updatedAt: new Date().toISOString() };
      });
    }
  }

  return {
    specFor: specOf,

    async startBuild(version) {
      const id = `${version.rufid}:${version.version}`;
      const already = running.get(id);
      if (already)
        return {
          status: 'pending',
          log: 'installing dependencies',
          updatedAt: new Date().toISOString(),
        };
      let spec: DependencySpec | null;
      try {
        spec = await specOf(version);
      } catch (err) {
        return record(version, 'failed', (err as Error).message);
      }
      if (!spec) return record(version, 'ready', '');
      const pending = await record(
        version,
        'pending',
        `installing: ${spec.requirements.join(', ')}`,
      );
      const build = install(version, spec).finally(() => running.delete(id));
      running.set(id, build);
      return pending;
    },

    whenBuilt(rufid, version) {
      return running.get(`${rufid}:${version}`);
    },

    async acquire(version) {
      const spec = await specOf(version);
      return spec ? cache.acquire(spec) : null;
    },

    async drain() {
      await Promise.allSettled([...running.values()]);
    },
  };
}
