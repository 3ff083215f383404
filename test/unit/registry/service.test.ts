/** The registry over a real in-memory SQLite store: deploys, resolve and its cache, materialize. */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../../../src/config/index.ts';
import { RelayError, resolveCacheKey, type Tenant } from '../../../src/domain/index.ts';
import { createRegistry } from '../../../src/registry/index.ts';
import { createStore, type ControlStore } from '../../../src/store/index.ts';
import { createTenancy } from '../../../src/tenancy/index.ts';
import { makeTempDir } from '../../support/tmp.ts';

const PKG = {
  manifest: { runtime: 'python3.11', entrypoint: 'app.main.handler' },
  files: {
    'app/main.py': 'def handler(event, context):\n    return event\n',
    'app/__init__.py': '',
    'assets/logo.bin': { base64: Buffer.from([0, 1, 2, 250]).toString('base64') },
  },
};

/** Counts calls per store method, to see when resolve reaches the store. */
function counting(store: ControlStore): { store: ControlStore; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

async function setup(t: TestContext) {
  const raw = await createStore('sqlite::memory:');
  t.after(() => raw.close());
  const { store, calls } = counting(raw);
  const config = loadConfig({});
  const tenancy = createTenancy({ store, config });
  const registry = createRegistry({ store, config });
  const a: Tenant = (await tenancy.createTenant('a')).tenant;
  const b: Tenant = (await tenancy.createTenant('b')).tenant;
  return { store, calls, registry, a, b };
}

function code(c: string) {
  return (err: unknown) => err instanceof RelayError && err.code === c;
}

test('createFunction stores version 1 on main with a digest, sizes and content-addressed blobs', async (t) => {
  const { registry, store, a } = await setup(t);
  const v = await registry.createFunction(a, 'fn', PKG, 'key_x');
  assert.equal(v.version, 1);
  assert.equal(v.branch, 'main');
  assert.equal(v.build.status, 'ready');
  assert.deepEqual(
    v.files.map((f) => f.path),
    ['app/__init__.py', 'app/main.py', 'assets/logo.bin'],
  );
  assert.equal(
    v.size,
    v.files.reduce((n, f) => n + f.size, 0),
  );
  for (const f of v.files) assert.equal(await store.hasBlob(f.digest), true);
});

test('a version with dependencies starts with a pending build', async (t) => {
  const { registry, a } = await setup(t);
  const v = await registry.createFunction(
    a,
    'fn',
    { ...PKG, manifest: { ...PKG.manifest, dependencies: ['six'] } },
    'k',
  );
  assert.equal(v.build.status, 'pending');
});

test('resolve is served from the cache until a head moves', async (t) => {
  const { registry, calls, a } = await setup(t);
  const { rufid } = await registry.createFunction(a, 'fn', PKG, 'k');
  await registry.deploy(a, rufid, 'main', PKG, 'k');
  assert.equal((await registry.resolve(a.id, rufid, 'main')).version, 2);
  const before = calls.get('getBranchHead') ?? 0;
  assert.equal((await registry.resolve(a.id, rufid, 'main')).version, 2);
  assert.equal(calls.get('getBranchHead') ?? 0, before, 'second resolve is a cache hit');

  await registry.setBranchHead(a.id, rufid, 'main', 1);
  assert.equal((await registry.resolve(a.id, rufid, 'main')).version, 1);
  assert.equal(
    calls.get('getBranchHead'),
    before + 2,
    'the head move invalidated the key (setBranchHead read one, resolve one)',
  );
});

test('a deploy to a branch invalidates that branch only', async (t) => {
  const { registry, a } = await setup(t);
  const { rufid } = await registry.createFunction(a, 'fn', PKG, 'k');
  await registry.deploy(a, rufid, 'dev', PKG, 'k');
  assert.equal((await registry.resolve(a.id, rufid, 'dev')).version, 2);
  assert.equal((await registry.resolve(a.id, rufid, 'main')).version, 1);
  await registry.deploy(a, rufid, 'dev', PKG, 'k');
  assert.equal((await registry.resolve(a.id, rufid, 'dev')).version, 3);
  assert.equal((await registry.resolve(a.id, rufid, 'main')).version, 1);
});

test('resolve cache keys follow the seed format', () => {
  assert.equal(resolveCacheKey('abcdef123456', 'dev'), 'rufid:abcdef123456|branch:dev');
});

test('a cached resolve is still 404 for another tenant', async (t) => {
  const { registry, a, b } = await setup(t);
  const { rufid } = await registry.createFunction(a, 'fn', PKG, 'k');
  await registry.resolve(a.id, rufid, 'main');
  await assert.rejects(registry.resolve(b.id, rufid, 'main'), code('FUNCTION_NOT_FOUND'));
});

test('an unknown branch is BRANCH_NOT_FOUND, never main', async (t) => {
  const { registry, a } = await setup(t);
  const { rufid } = await registry.createFunction(a, 'fn', PKG, 'k');
  await assert.rejects(registry.resolve(a.id, rufid, 'dev'), code('BRANCH_NOT_FOUND'));
});

test('deleting a branch invalidates its cached resolve', async (t) => {
  const { registry, a } = await setup(t);
  const { rufid } = await registry.createFunction(a, 'fn', PKG, 'k');
  await registry.deploy(a, rufid, 'dev', PKG, 'k');
  await registry.resolve(a.id, rufid, 'dev');
  await registry.deleteBranch(a.id, rufid, 'dev');
  await assert.rejects(registry.resolve(a.id, rufid, 'dev'), code('BRANCH_NOT_FOUND'));
});

test('main cannot be deleted', async (t) => {
  const { registry, a } = await setup(t);
  const { rufid } = await registry.createFunction(a, 'fn', PKG, 'k');
  await assert.rejects(registry.deleteBranch(a.id, rufid, 'main'), code('INVALID_STATE'));
});

test('deploying to an invalid branch name is VALIDATION_FAILED', async (t) => {
  const { registry, a } = await setup(t);
  const { rufid } = await registry.createFunction(a, 'fn', PKG, 'k');
  await assert.rejects(registry.deploy(a, rufid, '../x', PKG, 'k'), code('VALIDATION_FAILED'));
});

test('manifest secrets are checked against the secrets service when one is given', async (t) => {
  const raw = await createStore('sqlite::memory:');
  t.after(() => raw.close());
  const config = loadConfig({});
  const seen: string[][] = [];
  const registry = createRegistry({
    store: raw,
    config,
    secrets: {
      assertExist: async (_tenant, names) => {
        seen.push([...names]);
        throw new RelayError('SECRET_NOT_FOUND', `secret not found: ${names.join(', ')}`);
      },
    },
  });
  const { tenant } = await createTenancy({ store: raw, config }).createTenant('s');
  const pkg = { ...PKG, manifest: { ...PKG.manifest, secrets: ['TOKEN'] } };
  await assert.rejects(registry.createFunction(tenant, 'fn', pkg, 'k'), code('SECRET_NOT_FOUND'));
  assert.deepEqual(seen, [['TOKEN']]);
});

test('materialize writes every file from its blob, and a second call is a no-op', async (t) => {
  const { registry, a } = await setup(t);
  const v = await registry.createFunction(a, 'fn', PKG, 'k');
  const dir = await makeTempDir('relay-mat-');
  t.after(() => dir.cleanup());
  const target = path.join(dir.path, 'tasks', `${v.rufid}-v1`);
  assert.equal(await registry.materialize(v, target), target);
  assert.equal(await readFile(path.join(target, 'app/main.py'), 'utf8'), PKG.files['app/main.py']);
  assert.deepEqual([...(await readFile(path.join(target, 'assets/logo.bin')))], [0, 1, 2, 250]);
  const mtime = (await stat(target)).mtimeMs;
  await registry.materialize(v, target);
  assert.equal((await stat(target)).mtimeMs, mtime);
  assert.deepEqual(
    await readdir(path.dirname(target)),
    [path.basename(target)],
    'no temp dirs left behind',
  );
});

test('concurrent materialize calls of one version end with one complete dir', async (t) => {
  const { registry, a } = await setup(t);
  const v = await registry.createFunction(a, 'fn', PKG, 'k');
  const dir = await makeTempDir('relay-mat-');
  t.after(() => dir.cleanup());
  const target = path.join(dir.path, 'task');
  await Promise.all([1, 2, 3, 4].map(() => registry.materialize(v, target)));
  assert.deepEqual((await readdir(target)).sort(), ['app', 'assets']);
  assert.deepEqual(await readdir(dir.path), ['task']);
});
