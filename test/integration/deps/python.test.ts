import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Manifest } from '../../../src/domain/index.ts';
import { DependencyInstallError, specFor } from '../../../src/deps/index.ts';
import { buildWheel, cacheWorld, python, zipWheel } from './helpers.ts';

const manifest = (dependencies?: string[]): Manifest => ({
  runtime: 'python3.11',
  entrypoint: 'main.handler',
  ...(dependencies ? { dependencies } : {}),
});

test('a wheel built in the test installs from the wheelhouse and imports', async (t) => {
  const world = await cacheWorld(t);
  await buildWheel(world.wheelhouse, 'relaygreet', '1.2.0');
  const spec = specFor(manifest(), { 'requirements.txt': Buffer.from('relaygreet==1.2.0\n') })!;
  const result = await world.cache.ensure(spec);
  assert.equal(result.cached, false);
  assert.match(result.log, /Successfully installed relaygreet-1.2.0/);
  assert.equal(
    await python(
      result.dir,
      'import relaygreet; print(relaygreet.greet("relay"), relaygreet.VERSION)',
    ),
    'hello relay from relaygreet 1.2.0',
  );
  // Bytecode is compiled at install time: the set is mounted read-only later.
  assert.ok(existsSync(path.join(result.dir, 'relaygreet', '__pycache__')));
  assert.ok(existsSync(path.join(path.dirname(result.dir), '.relay-complete')));
});

test('two functions declaring the same set differently share one install', async (t) => {
  const world = await cacheWorld(t);
  await zipWheel(world.wheelhouse, 'sharedpkg');
  const first = specFor(manifest(), {
    'requirements.txt': Buffer.from('# deps\nsharedpkg==1.0.0\n'),
  })!;
  const second = specFor(manifest(['  sharedpkg==1.0.0  ']), {})!;
  const a = await world.cache.ensure(first);
  const b = await world.cache.ensure(second);
  assert.equal(a.key, b.key);
  assert.equal(a.dir, b.dir);
  assert.equal(b.cached, true);
  assert.equal(world.cache.stats().installs, 1);
  // A second process on the same machine finds it too.
  const other = world.another();
  const c = await other.ensure(second);
  assert.equal(c.cached, true);
  assert.equal(other.stats().installs, 0);
});

test('a package that does not exist fails with the installer output after one bypass retry', async (t) => {
  const world = await cacheWorld(t);
  const spec = specFor(manifest(['no-such-package-relay==9.9.9']), {})!;
  await assert.rejects(world.cache.ensure(spec), (err: unknown) => {
    assert.ok(err instanceof DependencyInstallError);
    assert.equal(err.code, 'DEPENDENCY_INSTALL_FAILED');
    assert.equal(err.attempts, 2);
    assert.match(err.message, /No matching distribution found for no-such-package-relay==9.9.9/);
    assert.match(err.log, /attempt 2 \(caches bypassed\)/);
    return true;
  });
  assert.deepEqual(
    {
      installs: world.cache.stats().installs,
      failures: world.cache.stats().failures,
      retries: world.cache.stats().retries,
    },
    { installs: 0, failures: 1, retries: 1 },
  );
});

test('with the bypass retry off a failure is reported after one attempt', async (t) => {
  const world = await cacheWorld(t, { bypassCacheRetry: false });
  const spec = specFor(manifest(['missing-too==1.0']), {})!;
  await assert.rejects(world.cache.ensure(spec), (err: unknown) => {
    assert.ok(err instanceof DependencyInstallError);
    assert.equal(err.attempts, 1);
    return true;
  });
  assert.equal(world.cache.stats().retries, 0);
});

test('an install larger than the size cap fails and leaves nothing behind', async (t) => {
  const world = await cacheWorld(t, { cacheMb: 1 });
  await zipWheel(world.wheelhouse, 'bigpkg', '1.0.0', 1536 * 1024);
  const spec = specFor(manifest(['bigpkg==1.0.0']), {})!;
  await assert.rejects(world.cache.ensure(spec), /over the 1.0 MB limit/);
  const key = await world.cache.keyFor(spec);
  assert.equal(existsSync(path.join(world.dataDir, 'deps', key)), false);
});

test('an install that overruns its wall clock is killed and reported as timed out', async (t) => {
  const world = await cacheWorld(t, { installTimeoutMs: 150, bypassCacheRetry: false });
  await zipWheel(world.wheelhouse, 'slowpkg');
  const spec = specFor(manifest(['slowpkg==1.0.0']), {})!;
  await assert.rejects(world.cache.ensure(spec), (err: unknown) => {
    assert.ok(err instanceof DependencyInstallError);
    assert.equal(err.timedOut, true);
    assert.match(err.message, /timed out after 150 ms/);
    return true;
  });
  assert.deepEqual(await readdir(path.join(world.dataDir, 'deps', '.tmp')), []);
});
