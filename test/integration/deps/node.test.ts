import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Manifest } from '../../../src/domain/index.ts';
import { DependencyInstallError, specFor } from '../../../src/deps/index.ts';
import { cacheWorld } from './helpers.ts';

const manifest: Manifest = { runtime: 'node24', entrypoint: 'index.handler' };
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** is-number 7.0.0 as npm records it (checked against the registry by npm ci). */
const LOCKFILE = {
  name: 'fn',
  version: '1.0.0',
  lockfileVersion: 3,
  requires: true,
  packages: {
    '': { name: 'fn', version: '1.0.0', dependencies: { 'is-number': '7.0.0' } },
    'node_modules/is-number': {
      version: '7.0.0',
      resolved: 'https://registry.npmjs.org/is-number/-/is-number-7.0.0.tgz',
      integrity:
        'sha512-41Cifkg6e8TylSpdtTpeLVMqvSBEVzTttHvERD741+pnZ8ANv0004MRL43QKPDlK9cGvNp6NZWZUBlbGXYxxng==',
      license: 'MIT',
      engines: { node: '>=0.12.0' },
    },
  },
};

test('a package.json dependency from the npm registry installs and is requireable', async (t) => {
  const world = await cacheWorld(t);
  const spec = specFor(manifest, {
    'package.json': json({ name: 'fn', dependencies: { 'is-number': '7.0.0' } }),
  })!;
  const result = await world.cache.ensure(spec);
  assert.equal(result.cached, false);
  assert.match(result.log, /added 1 package/);
  const requireFrom = createRequire(path.join(result.dir, 'index.js'));
  const isNumber = requireFrom('is-number') as (v: unknown) => boolean;
  assert.equal(isNumber(5), true);
  assert.equal(isNumber('x'), false);
});

test('a package-lock.json is honoured with npm ci', async (t) => {
  const world = await cacheWorld(t);
  const spec = specFor(manifest, {
    'package.json': json({ name: 'fn', version: '1.0.0', dependencies: { 'is-number': '7.0.0' } }),
    'package-lock.json': json(LOCKFILE),
  })!;
  const result = await world.cache.ensure(spec);
  assert.ok(existsSync(path.join(result.dir, 'node_modules', 'is-number', 'package.json')));
  assert.ok(existsSync(path.join(result.dir, 'package-lock.json')));
});

test("a lockfile out of sync with package.json fails with npm's explanation", async (t) => {
  const world = await cacheWorld(t, { bypassCacheRetry: false });
  const spec = specFor(manifest, {
    'package.json': json({ name: 'fn', version: '1.0.0', dependencies: { 'is-number': '6.0.0' } }),
    'package-lock.json': json(LOCKFILE),
  })!;
  await assert.rejects(world.cache.ensure(spec), (err: unknown) => {
    assert.ok(err instanceof DependencyInstallError);
    assert.match(
      err.message,
      /can only install packages when your package.json and package-lock.json/,
    );
    assert.doesNotMatch(err.log, /Usage:/);
    return true;
  });
});

test('an npm package that does not exist fails with the installer output', async (t) => {
  const world = await cacheWorld(t);
  const spec = specFor(
    { ...manifest, dependencies: { 'relay-no-such-package-4c1d9e': '1.0.0' } },
    {},
  )!;
  await assert.rejects(world.cache.ensure(spec), (err: unknown) => {
    assert.ok(err instanceof DependencyInstallError);
    assert.equal(err.attempts, 2);
    assert.match(err.message, /E404|404 Not Found/);
    assert.match(err.message, /relay-no-such-package-4c1d9e/);
    return true;
  });
});
