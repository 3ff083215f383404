/**
 * The content-addressed dependency cache: a declared set is installed once
 * per machine, however many functions, versions or tenants declare it, and
 * mounted read-only into their sandboxes.
 *
 * One install per key: within a process callers share one promise; across
 * processes they take the key's lock file and re-check the cache after
 * getting it. Installs run through the InstallRunner (sandboxed), into a
 * temporary directory that is renamed into place only when complete.
 * A failed install is retried once with every installer cache bypassed
 * (the seed's runbook), then reported with the installer's last lines.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RelayConfig } from '../config/index.ts';
import { CacheLayout, EntryValidator, markerFor, touchLastUsed, writeMarker } from './entry.ts';
import type { Marker } from './entry.ts';
import { DependencyInstallError, tailLines } from './errors.ts';
import { evictEntries } from './evict.ts';
import type { EvictResult } from './evict.ts';
import { createNpmInstaller, createPipInstaller } from './installers.ts';
import type { Installer } from './installers.ts';
import { lock, processToken } from './lock.ts';
import type { InstallRunner } from './runner.ts';
import type { DependencyKind, DependencySpec } from './spec.ts';

/** pino-compatible: the levels this module uses. */
export interface DepsLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface DependencyCacheOptions {
  dataDir: string;
  config: { deps: RelayConfig['deps']; sandbox: Pick<RelayConfig['sandbox'], 'python'> };
  runner: InstallRunner;
  logger?: DepsLogger;
  /** One automatic retry with installer caches bypassed before failing (default true). */
  bypassCacheRetry?: boolean;
  /** Wall clock of one install attempt (default 10 minutes). */
  installTimeoutMs?: number;
  /** Memory of the install sandbox (default 2048). */
  installMemoryMb?: number;
  /** Largest installed set; bigger fails the install (default 2048, at most the cache size). */
  installMaxMb?: number;
  /** Compile Python bytecode at install time (default true). */
  pipCompile?: boolean;
  /** Run npm lifecycle scripts inside the install sandbox (default true). */
  npmScripts?: boolean;
  /** npm-cli.js to use instead of the one found on the machine. */
  npmCli?: string;
  /** Called after every install attempt (metrics: dependency-install duration). */
  onInstall?: (runtime: string, ok: boolean, seconds: number) => void;
}

export interface EnsureResult {
  /** Host directory to mount read-only (Python: the import root; Node: holds node_modules/). */
  dir: string;
  key: string;
  /** True when no install was needed for this call. */
  cached: boolean;
  /** The installer's last lines. */
  log: string;
}

/** A held set: eviction leaves it alone until released. */
export interface DependencyLease extends EnsureResult {
  /** Idempotent. */
  release(): void;
}

export interface CacheStats {
  /** Installs that completed in this process. */
  installs: number;
  failures: number;
  retries: number;
  hits: number;
  evictions: number;
  /** Keys held by leases in this process. */
  held: number;
}

export interface DependencyCache {
  /** The cache key of a set (includes the installer's identity). */
  keyFor(spec: DependencySpec): Promise<string>;
  /** Installs the set if it is not cached; throws DependencyInstallError. */
  ensure(spec: DependencySpec): Promise<EnsureResult>;
  /** `ensure` plus a hold that keeps the set from eviction until released. */
  acquire(spec: DependencySpec): Promise<DependencyLease>;
  /** Removes least recently used sets until the cache fits its size limit. */
  evict(options?: { keep?: readonly string[] }): Promise<EvictResult>;
  stats(): CacheStats;
}

const LAYOUT_VERSION = 1;
const MiB = 1024 * 1024;

/** Creates the cache over `<dataDir>/deps`. */
export function createDependencyCache(options: DependencyCacheOptions): DependencyCache {
  const { config, runner, logger } = options;
  const layout = new CacheLayout(options.dataDir);
  const validator = new EntryValidator(layout);
  const timeoutMs = options.installTimeoutMs ?? 10 * 60_000;
  const maxBytes = Math.min(options.installMaxMb ?? 2048, config.deps.cacheMb) * MiB;
  const settings = {
    python: config.sandbox.python,
    pipIndexUrl: config.deps.pipIndexUrl,
    pipFindLinks: config.deps.pipFindLinks,
    pipCompile: options.pipCompile ?? true,
    npmRegistry: config.deps.npmRegistry,
    npmCli: options.npmCli,
    npmScripts: options.npmScripts ?? true,
  };
  const installers: Record<DependencyKind, Installer> = {
    python: createPipInstaller(settings),
    node: createNpmInstaller(settings),
  };
  const inflight = new Map<string, Promise<EnsureResult>>();
  const refs = new Map<string, number>();
  const counters = { installs: 0, failures: 0, retries: 0, hits: 0, evictions: 0 };
  // Per cache object (pid, start time, random): holder files of two caches in one process differ.
  const token = `${processToken()}.${randomBytes(3).toString('hex')}`;
  let ready: Promise<void> | undefined;

  function init(): Promise<void> {
    ready ??= layout.init();
    ready.catch(() => (ready = undefined));
    return ready;
  }

  async function keyFor(spec: DependencySpec): Promise<string> {
    const identity = await installers[spec.kind].identity();
    const material = JSON.stringify({
      layout: LAYOUT_VERSION,
      runtime: spec.runtime,
      kind: spec.kind,
      requirements: spec.requirements,
      packageJson: spec.packageJson ?? null,
      lockfile: spec.lockfile ? createHash('sha256').update(spec.lockfile).digest('hex') : null,
      installer: identity,
    });
    return createHash('sha256').update(material).digest('hex');
  }

  function hit(key: string, marker: Marker): EnsureResult {
    return { dir: layout.content(key), key, cached: true, log: marker.log };
  }

  async function attempt(
    key: string,
    spec: DependencySpec,
    bypassCaches: boolean,
  ): Promise<
    | { ok: true; marker: Marker; root: string }
    | { ok: false; reason: string; log: string; timedOut: boolean; retry: boolean }
  > {
    const root = path.join(layout.tmp, `${key}.${token}.${randomBytes(4).toString('hex')}`);
    const dirs = { root, content: path.join(root, 'content'), home: path.join(root, 'home') };
    const started = Date.now();
    let keep = false;
    try {
      await mkdir(dirs.home, { recursive: true });
      const request = await installers[spec.kind].prepare(spec, dirs, { bypassCaches });
      const memoryMb = options.installMemoryMb ?? 2048;
      const result = await runner({ ...request, timeoutMs, memoryMb });
      const log = tailLines(installers[spec.kind].clean(`${result.stdout}\n${result.stderr}`));
      const seconds = (Date.now() - started) / 1000;
      if (result.timedOut || result.code !== 0) {
        options.onInstall?.(spec.runtime, false, seconds);
        const exit = result.code === null ? `signal ${result.signal}` : `code ${result.code}`;
        const reason = result.timedOut
          ? `the install timed out after ${timeoutMs < 1000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`}`
          : result.memoryExceeded
            ? `the install ran out of memory (${memoryMb} MB)`
            : `the installer exited with ${exit}`;
        return { ok: false, reason, log, timedOut: result.timedOut, retry: true };
      }
      await rm(dirs.home, { recursive: true, force: true });
      const marker = await markerFor(dirs.content, {
        key,
        runtime: spec.runtime,
        requirements: spec.requirements,
        installMs: Date.now() - started,
        createdAt: new Date().toISOString(),
        log,
      });
      options.onInstall?.(spec.runtime, marker.diskBytes <= maxBytes, seconds);
      if (marker.diskBytes > maxBytes) {
        const mb = (n: number): string => (n / MiB).toFixed(1);
        return {
          ok: false,
          reason: `the installed set takes ${mb(marker.diskBytes)} MB, over the ${mb(maxBytes)} MB limit`,
          log,
          timedOut: false,
          // The same set installs to the same size: a retry cannot help.
          retry: false,
        };
      }
      await writeMarker(root, marker);
      // Sandboxes read the set as another user: exact modes, whatever Relay's umask.
      await Promise.all([chmod(root, 0o755), chmod(dirs.content, 0o755)]);
      keep = true;
      return { ok: true, marker, root };
    } catch (err) {
      options.onInstall?.(spec.runtime, false, (Date.now() - started) / 1000);
      return { ok: false, reason: (err as Error).message, log: '', timedOut: false, retry: false };
    } finally {
      if (!keep) await rm(root, { recursive: true, force: true });
    }
  }

  /** Installs under the key's lock (whoever gets it first installs; the rest find it done). */
  async function build(key: string, spec: DependencySpec): Promise<EnsureResult> {
    await init();
    const unlock = await lock(layout.lock(key), {
      timeoutMs: timeoutMs * 2 + 60_000,
      onWait: () =>
        logger?.info({ key }, 'waiting for another process installing this dependency set'),
    });
    try {
      const done = await validator.valid(key);
      if (done) {
        await touchLastUsed(layout, key);
        counters.hits += 1;
        return hit(key, done);
      }
      validator.forget(key);
      // Whatever is there has no valid marker: half-written or damaged, never mounted.
      await layout.discard(layout.entry(key)).then(
        () => undefined,
        (err: unknown) => logger?.warn({ key, err }, 'could not remove a damaged dependency set'),
      );
      let outcome = await attempt(key, spec, false);
      const logs: string[] = [];
      let attempts = 1;
      if (!outcome.ok && outcome.retry && options.bypassCacheRetry !== false) {
        attempts = 2;
        logs.push(`--- attempt 1: ${outcome.reason}`, outcome.log);
        counters.retries += 1;
        logger?.warn(
          { key, reason: outcome.reason },
          'dependency install failed; retrying with caches bypassed',
        );
        outcome = await attempt(key, spec, true);
        if (!outcome.ok)
          logs.push(`--- attempt 2 (caches bypassed): ${outcome.reason}`, outcome.log);
      }
      if (!outcome.ok) {
        counters.failures += 1;
        throw new DependencyInstallError(`dependency install failed: ${outcome.reason}`, {
          key,
          runtime: spec.runtime,
          log: attempts === 1 ? outcome.log : tailLines(logs.filter((l) => l !== '').join('\n')),
          attempts,
          timedOut: outcome.timedOut,
        });
      }
      await rename(outcome.root, layout.entry(key));
      await writeFile(layout.lastUsed(key), '');
      counters.installs += 1;
      logger?.info(
        { key, runtime: spec.runtime, ms: outcome.marker.installMs },
        'dependency set installed',
      );
      return { dir: layout.content(key), key, cached: false, log: outcome.marker.log };
    } finally {
      await unlock();
    }
  }

  async function ensure(spec: DependencySpec): Promise<EnsureResult> {
    const key = await keyFor(spec);
    const done = await validator.valid(key);
    if (done) {
      await touchLastUsed(layout, key);
      counters.hits += 1;
      return hit(key, done);
    }
    let pending = inflight.get(key);
    if (!pending) {
      pending = build(key, spec).finally(() => inflight.delete(key));
      inflight.set(key, pending);
      // A fresh set may push the cache over its limit; trimming must not delay this caller.
      pending.then(
        () =>
          void evict({ keep: [key] }).catch((err: unknown) =>
            logger?.warn({ err }, 'eviction failed'),
          ),
        () => undefined,
      );
    }
    return pending;
  }

  async function hold(key: string): Promise<boolean> {
    const count = refs.get(key) ?? 0;
    if (count > 0) {
      refs.set(key, count + 1);
      return true;
    }
    // Under the key lock, so an eviction in any process sees the holder file or runs first.
    const unlock = await lock(layout.lock(key), { timeoutMs: timeoutMs * 2 + 60_000 });
    try {
      const again = refs.get(key) ?? 0;
      if (again > 0) {
        refs.set(key, again + 1);
        return true;
      }
      if (!(await validator.valid(key))) return false;
      await mkdir(layout.inUse(key), { recursive: true });
      await writeFile(path.join(layout.inUse(key), token), '');
      refs.set(key, 1);
      return true;
    } finally {
      await unlock();
    }
  }

  function releaser(key: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const count = (refs.get(key) ?? 1) - 1;
      if (count > 0) {
        refs.set(key, count);
        return;
      }
      refs.delete(key);
      unlink(path.join(layout.inUse(key), token)).catch(() => undefined);
    };
  }

  // One eviction at a time in this process: two scans of the same sizes would both trim.
  let evicting: Promise<unknown> = Promise.resolve();
  function evict(opts: { keep?: readonly string[] } = {}): Promise<EvictResult> {
    const next = evicting.then(() => evictNow(opts));
    evicting = next.catch(() => undefined);
    return next;
  }

  async function evictNow(opts: { keep?: readonly string[] }): Promise<EvictResult> {
    await init();
    const result = await evictEntries({
      layout,
      limitBytes: config.deps.cacheMb * MiB,
      keep: new Set([...(opts.keep ?? []), ...refs.keys(), ...inflight.keys()]),
      selfToken: token,
      staleTmpMs: timeoutMs * 2,
      logger,
    });
    for (const key of result.removed) validator.forget(key);
    counters.evictions += result.removed.length;
    return result;
  }

  return {
    keyFor,
    ensure,
    async acquire(spec) {
      // An eviction may slip in between ensure and hold; then the set is installed again.
      for (let tries = 0; tries < 3; tries += 1) {
        const result = await ensure(spec);
        if (await hold(result.key)) return { ...result, release: releaser(result.key) };
      }
      throw new Error('dependency set was evicted repeatedly while being acquired');
    },
    evict,
    stats: () => ({ ...counters, held: refs.size }),
  };
}
