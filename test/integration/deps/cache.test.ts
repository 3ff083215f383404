import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Manifest } from '../../../src/domain/index.ts';
import { specFor } from '../../../src/deps/index.ts';
import type { DependencySpec } from '../../../src/deps/index.ts';
import { cacheWorld, python, zipWheel } from './helpers.ts';

const run = promisify(execFile);
const CHILD = path.join(import.meta.dirname, 'fixtures', 'ensure-child.ts');

function pySpec(...requirements: string[]): DependencySpec {
  const manifest: Manifest = {
    runtime: 'python3.11',
    entrypoint: 'main.handler',
    dependencies: requirements,
  };
  return specFor(manifest, {})!;
}

function entry(dataDir: string, key: string): string {
  return path.join(dataDir, 'deps', key);
}

test('a half-written entry (no completion marker) is removed and rebuilt, never used', async (t) => {
  const world = await cacheWorld(t);
  await zipWheel(world.wheelhouse, 'halfpkg');
  const spec = pySpec('halfpkg==1.0.0');
  const key = await world.cache.keyFor(spec);
  // What a crash mid-copy would leave: content but no marker.
  await mkdir(path.join(entry(world.dataDir, key), 'content', 'halfpkg'), { recursive: true });
  await writeFile(
    path.join(entry(world.dataDir, key), 'content', 'halfpkg', '__init__.py'),
    'raise ImportError("half")\n',
  );
  const result = await world.cache.ensure(spec);
  assert.equal(result.cached, false);
  assert.equal(world.cache.stats().installs, 1);
  assert.equal(
    await python(result.dir, 'import halfpkg; print(halfpkg.greet("x"))'),
    'hello x from halfpkg',
  );
});

test('an entry whose files no longer match its marker is rebuilt', async (t) => {
  const world = await cacheWorld(t);
  await zipWheel(world.wheelhouse, 'damagedpkg');
  const spec = pySpec('damagedpkg==1.0.0');
  const first = await world.cache.ensure(spec);
  await rm(path.join(first.dir, 'damagedpkg', '__init__.py'));
  // A process that has not verified the entry yet (a restart) checks the tree against the marker.
  const restarted = world.another();
  const again = await restarted.ensure(spec);
  assert.equal(again.cached, false);
  assert.equal(restarted.stats().installs, 1);
  assert.equal(await python(again.dir, 'import damagedpkg; print(damagedpkg.VERSION)'), '1.0.0');
});

test('concurrent ensures of one set in a process install it once', async (t) => {
  const world = await cacheWorld(t);
  await zipWheel(world.wheelhouse, 'concpkg');
  const results = await Promise.all(
    Array.from({ length: 6 }, () => world.cache.ensure(pySpec('concpkg==1.0.0'))),
  );
  assert.equal(new Set(results.map((r) => r.dir)).size, 1);
  assert.equal(world.cache.stats().installs, 1);
});

test('concurrent ensures of one set from separate processes install it once', async (t) => {
  const world = await cacheWorld(t);
  await zipWheel(world.wheelhouse, 'procpkg');
  const outputs = await Promise.all(
    Array.from({ length: 3 }, () =>
      run(process.execPath, [
        '--disable-warning=ExperimentalWarning',
        CHILD,
        world.dataDir,
        world.wheelhouse,
        'procpkg==1.0.0',
      ]),
    ),
  );
  const reports = outputs.map(
    (o) => JSON.parse(o.stdout) as { installs: number; cached: boolean; key: string },
  );
  assert.equal(
    reports.reduce((sum, r) => sum + r.installs, 0),
    1,
  );
  assert.equal(reports.filter((r) => r.cached).length, 2);
  assert.equal(new Set(reports.map((r) => r.key)).size, 1);
});

test('a lock left by a dead process is broken instead of waited on', async (t) => {
  const world = await cacheWorld(t);
  await zipWheel(world.wheelhouse, 'stalepkg');
  const spec = pySpec('stalepkg==1.0.0');
  const key = await world.cache.keyFor(spec);
  await mkdir(path.join(world.dataDir, 'deps', '.locks'), { recursive: true });
  // pid 2^22+1 is above Linux's pid_max default range: certainly not running.
  await writeFile(path.join(world.dataDir, 'deps', '.locks', `${key}.lock`), '4194305.12345');
  const started = Date.now();
  const result = await world.cache.ensure(spec);
  assert.equal(result.cached, false);
  assert.ok(Date.now() - started < 60_000);
  assert.equal(existsSync(path.join(world.dataDir, 'deps', '.locks', `${key}.lock`)), false);
});

/** Installs three ~450 KB sets into a 1 MB cache, oldest use first. */
async function threeSets(t: Parameters<typeof cacheWorld>[0]) {
  const world = await cacheWorld(t, { cacheMb: 1 });
  for (const name of ['lrua', 'lrub', 'lruc'])
    await zipWheel(world.wheelhouse, name, '1.0.0', 450 * 1024);
  const [a, b, c] = ['lrua', 'lrub', 'lruc'].map((n) => pySpec(`${n}==1.0.0`)) as [
    DependencySpec,
    DependencySpec,
    DependencySpec,
  ];
  return { world, a, b, c };
}

async function age(dataDir: string, key: string, secondsAgo: number): Promise<void> {
  const when = new Date(Date.now() - secondsAgo * 1000);
  await utimes(path.join(entry(dataDir, key), '.last-used'), when, when);
}

async function keysOnDisk(dataDir: string): Promise<string[]> {
  return (await readdir(path.join(dataDir, 'deps'))).filter((n) => !n.startsWith('.'));
}

test('eviction removes the least recently used sets once the cache passes its size', async (t) => {
  const { world, a, b, c } = await threeSets(t);
  const ka = (await world.cache.ensure(a)).key;
  const kb = (await world.cache.ensure(b)).key;
  await age(world.dataDir, ka, 300);
  await age(world.dataDir, kb, 200);
  const kc = (await world.cache.ensure(c)).key;
  await world.cache.evict();
  const left = await keysOnDisk(world.dataDir);
  assert.deepEqual(left.sort(), [kb, kc].sort());
  assert.ok(world.cache.stats().evictions >= 1);
  // Evicted means installed again on the next use.
  assert.equal((await world.cache.ensure(a)).cached, false);
});

test('eviction never removes a set that is held, and does once it is released', async (t) => {
  const { world, a, b, c } = await threeSets(t);
  const lease = await world.cache.acquire(a);
  const kb = (await world.cache.ensure(b)).key;
  await age(world.dataDir, lease.key, 300);
  await age(world.dataDir, kb, 200);
  // Another cache object (no in-memory holds, as another worker process) installs C and
  // trims: the holder file alone keeps the held, least recently used set.
  const other = world.another();
  const kc = (await other.ensure(c)).key;
  await other.evict();
  assert.deepEqual((await keysOnDisk(world.dataDir)).sort(), [lease.key, kc].sort());
  assert.equal(world.cache.stats().held, 1);
  lease.release();
  lease.release();
  assert.equal(world.cache.stats().held, 0);
  await age(world.dataDir, lease.key, 500);
  await world.cache.ensure(b);
  await world.cache.evict();
  assert.deepEqual((await keysOnDisk(world.dataDir)).sort(), [kb, kc].sort());
});

test('acquire hands back the set with a hold until release', async (t) => {
  const world = await cacheWorld(t);
  await zipWheel(world.wheelhouse, 'leasepkg');
  const one = await world.cache.acquire(pySpec('leasepkg==1.0.0'));
  const two = await world.cache.acquire(pySpec('leasepkg==1.0.0'));
  assert.equal(one.dir, two.dir);
  assert.equal(world.cache.stats().held, 1);
  const holders = path.join(entry(world.dataDir, one.key), '.in-use');
  assert.equal((await readdir(holders)).length, 1);
  one.release();
  assert.equal(world.cache.stats().held, 1);
  two.release();
  assert.equal(world.cache.stats().held, 0);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal((await readdir(holders)).length, 0);
});
