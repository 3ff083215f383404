import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { newRufid } from '../../../src/domain/index.ts';
import type {
  FunctionVersion,
  Manifest,
  PackageEntry,
  TenantLimits,
} from '../../../src/domain/index.ts';
import { createBuildService, initialBuildState } from '../../../src/deps/index.ts';
import { createStore } from '../../../src/store/index.ts';
import type { ControlStore } from '../../../src/store/index.ts';
import { cacheWorld, python, zipWheel } from './helpers.ts';
import type { CacheWorld } from './helpers.ts';

const LIMITS: TenantLimits = {
  maxTimeoutSeconds: 60,
  maxMemoryMb: 512,
  maxCpus: 1,
  maxConcurrency: 4,
  maxQueued: 100,
  maxPriority: 9,
  monthlyBudget: null,
};

interface BuildWorld extends CacheWorld {
  store: ControlStore;
  deploy(
    manifest: Manifest,
    files: Record<string, string>,
    tenantId?: string,
  ): Promise<FunctionVersion>;
}

/** A cache plus a real SQLite store with one tenant; `deploy` stores blobs and a version. */
async function buildWorld(t: TestContext): Promise<BuildWorld> {
  const world = await cacheWorld(t);
  const store = await createStore(`sqlite:${path.join(world.dataDir, 'relay.db')}`);
  t.after(() => store.close());
  await store.createTenant({ id: 'tenant-a', name: 'a', limits: LIMITS });
  async function deploy(
    manifest: Manifest,
    files: Record<string, string>,
    tenantId = 'tenant-a',
  ): Promise<FunctionVersion> {
    const entries: PackageEntry[] = [];
    for (const [file, text] of Object.entries({
      'main.py': 'def handler(e, c): return e\n',
      ...files,
    })) {
      const bytes = Buffer.from(text);
      const digest = createHash('sha256').update(bytes).digest('hex');
      await store.putBlob(digest, bytes);
      entries.push({ path: file, digest, size: bytes.length });
    }
    const rufid = newRufid();
    const { version } = await store.createFunction(
      { rufid, tenantId, name: rufid },
      {
        digest: createHash('sha256')
          .update(JSON.stringify([manifest, entries]))
          .digest('hex'),
        manifest,
        files: entries,
        size: 0,
        deployedBy: 'test',
        message: '',
        branch: 'main',
        build: initialBuildState(manifest, entries),
      },
    );
    return version;
  }
  return { ...world, store, deploy };
}

const py: Manifest = { runtime: 'python3.11', entrypoint: 'main.handler' };

test('a version with no dependencies is ready at once', async (t) => {
  const world = await buildWorld(t);
  const builds = createBuildService({ store: world.store, cache: world.cache });
  const version = await world.deploy(py, {});
  assert.equal(version.build.status, 'ready');
  const state = await builds.startBuild(version);
  assert.equal(state.status, 'ready');
  assert.equal(builds.whenBuilt(version.rufid, version.version), undefined);
  assert.equal(await builds.acquire(version), null);
});

test('a version with dependencies is pending, then ready once the set is installed', async (t) => {
  const world = await buildWorld(t);
  await zipWheel(world.wheelhouse, 'bakedpkg');
  const builds = createBuildService({ store: world.store, cache: world.cache });
  const version = await world.deploy(py, { 'requirements.txt': 'bakedpkg==1.0.0\n' });
  assert.equal(version.build.status, 'pending');
  const started = await builds.startBuild(version);
  assert.equal(started.status, 'pending');
  assert.equal((await world.store.getVersion(version.rufid, 1))?.build.status, 'pending');
  const done = await builds.whenBuilt(version.rufid, version.version);
  assert.equal(done?.status, 'ready');
  const stored = await world.store.getVersion(version.rufid, 1);
  assert.equal(stored?.build.status, 'ready');
  assert.match(stored.build.log, /Successfully installed bakedpkg-1.0.0/);
  // Executions then find the set in the cache: no second install.
  const lease = await builds.acquire(version);
  assert.ok(lease);
  assert.equal(lease.cached, true);
  assert.equal(await python(lease.dir, 'import bakedpkg; print(bakedpkg.VERSION)'), '1.0.0');
  lease.release();
  assert.equal(world.cache.stats().installs, 1);
});

test('two functions of two tenants with the same set share one build', async (t) => {
  const world = await buildWorld(t);
  await zipWheel(world.wheelhouse, 'commonpkg');
  await world.store.createTenant({ id: 'tenant-b', name: 'b', limits: LIMITS });
  const builds = createBuildService({ store: world.store, cache: world.cache });
  const one = await world.deploy(py, { 'requirements.txt': 'commonpkg==1.0.0\n' });
  const two = await world.deploy({ ...py, dependencies: ['commonpkg==1.0.0'] }, {}, 'tenant-b');
  await Promise.all([builds.startBuild(one), builds.startBuild(two)]);
  await builds.drain();
  for (const v of [one, two])
    assert.equal((await world.store.getVersion(v.rufid, 1))?.build.status, 'ready');
  assert.equal(world.cache.stats().installs, 1);
});

test("a failed build records the installer's last lines", async (t) => {
  const world = await buildWorld(t);
  const builds = createBuildService({ store: world.store, cache: world.cache });
  const version = await world.deploy(py, { 'requirements.txt': 'definitely-missing-pkg==1.0\n' });
  await builds.startBuild(version);
  const done = await builds.whenBuilt(version.rufid, version.version);
  assert.equal(done?.status, 'failed');
  const stored = await world.store.getVersion(version.rufid, 1);
  assert.equal(stored?.build.status, 'failed');
  assert.match(stored.build.log, /dependency install failed/);
  assert.match(stored.build.log, /No matching distribution found for definitely-missing-pkg==1.0/);
});

test('an invalid requirements file fails the build with the reason', async (t) => {
  const world = await buildWorld(t);
  const builds = createBuildService({ store: world.store, cache: world.cache });
  const version = await world.deploy(py, {
    'requirements.txt': '--extra-index-url https://elsewhere/simple\n',
  });
  const state = await builds.startBuild(version);
  assert.equal(state.status, 'failed');
  assert.match(state.log, /option lines such as "--extra-index-url" are not supported/);
});

test('a Node version with a package.json dependency builds and is requireable', async (t) => {
  const world = await buildWorld(t);
  const builds = createBuildService({ store: world.store, cache: world.cache });
  const version = await world.deploy(
    { runtime: 'node24', entrypoint: 'index.handler' },
    { 'package.json': JSON.stringify({ name: 'fn', dependencies: { 'is-number': '7.0.0' } }) },
  );
  await builds.startBuild(version);
  assert.equal((await builds.whenBuilt(version.rufid, version.version))?.status, 'ready');
  const lease = await builds.acquire(version);
  const { createRequire } = await import('node:module');
  const isNumber = createRequire(path.join(lease!.dir, 'index.js'))('is-number') as (
    v: unknown,
  ) => boolean;
  assert.equal(isNumber(42), true);
  lease!.release();
});
