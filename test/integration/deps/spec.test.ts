import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RelayError } from '../../../src/domain/index.ts';
import type { Manifest } from '../../../src/domain/index.ts';
import { normaliseRequirements, specFor } from '../../../src/deps/index.ts';
import { cacheWorld } from './helpers.ts';

const py: Manifest = { runtime: 'python3.11', entrypoint: 'main.handler' };
const node: Manifest = { runtime: 'node24', entrypoint: 'index.handler' };
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const invalidManifest = (err: unknown) =>
  err instanceof RelayError && err.code === 'INVALID_MANIFEST';

test('requirements are trimmed, de-commented, joined across continuations, de-duplicated and sorted', () => {
  const text =
    '# header\nRequests==2.0   # pinned\n\n  attrs >=1 \\\n  ,<3\nattrs >=1 ,<3\nurl-frag @ https://h/x#egg=y\n';
  assert.deepEqual(normaliseRequirements(text), [
    'Requests==2.0',
    'attrs >=1 ,<3',
    'url-frag @ https://h/x#egg=y',
  ]);
});

test('pip option lines are refused: indexes belong to the deployment', () => {
  for (const line of [
    '-r other.txt',
    '--index-url https://evil/simple',
    '-e .',
    '--extra-index-url x',
  ]) {
    assert.throws(() => normaliseRequirements(line), invalidManifest, line);
  }
});

test('requirements.txt and relay.json dependencies merge into one Python spec', () => {
  const spec = specFor(
    { ...py, dependencies: ['b==1', 'a==1'] },
    { 'requirements.txt': Buffer.from('a==1\nc==3\n') },
  );
  assert.deepEqual(spec, {
    runtime: 'python3.11',
    kind: 'python',
    requirements: ['a==1', 'b==1', 'c==3'],
  });
});

test('no declared dependencies means nothing to install', () => {
  assert.equal(specFor(py, {}), null);
  assert.equal(specFor(py, { 'requirements.txt': Buffer.from('# nothing\n\n') }), null);
  assert.equal(
    specFor(node, { 'package.json': json({ name: 'x', devDependencies: { a: '1' } }) }),
    null,
  );
  assert.equal(specFor({ runtime: 'wasm', entrypoint: 'x.wasm' }, {}), null);
  assert.throws(
    () => specFor({ runtime: 'wasm', entrypoint: 'x.wasm', dependencies: ['a'] }, {}),
    invalidManifest,
  );
});

test('a Node spec keeps dependency fields only, sorted, never scripts or devDependencies', () => {
  const spec = specFor(node, {
    'package.json': json({
      name: 'fn',
      scripts: { postinstall: 'curl evil' },
      devDependencies: { typescript: '5' },
      dependencies: { 'z-pkg': ' ^1.0.0 ', '@scope/a': '2.0.0' },
    }),
  });
  assert.deepEqual(spec?.packageJson, {
    name: 'relay-dependencies',
    private: true,
    dependencies: { '@scope/a': '2.0.0', 'z-pkg': '^1.0.0' },
  });
  assert.deepEqual(spec?.requirements, ['@scope/a@2.0.0', 'z-pkg@^1.0.0']);
});

test('relay.json Node dependencies (object or name@range list) merge with package.json', () => {
  const fromList = specFor({ ...node, dependencies: ['is-number@7.0.0', '@s/x@1'] }, {});
  assert.deepEqual(fromList?.requirements, ['@s/x@1', 'is-number@7.0.0']);
  const merged = specFor(
    { ...node, dependencies: { b: '2' } },
    { 'package.json': json({ dependencies: { a: '1' } }) },
  );
  assert.deepEqual(merged?.requirements, ['a@1', 'b@2']);
});

test('local path dependencies, workspaces and bad JSON are invalid manifests', () => {
  const bad = [
    { 'package.json': json({ dependencies: { a: 'file:../a' } }) },
    { 'package.json': json({ workspaces: ['x'] }) },
    { 'package.json': Buffer.from('{not json') },
    { 'package.json': json({ dependencies: { 'bad name': '1' } }) },
  ];
  for (const files of bad) assert.throws(() => specFor(node, files), invalidManifest);
});

test('with a package-lock.json the spec carries the lockfile and refuses relay.json dependencies', () => {
  const files = {
    'package.json': json({
      name: 'fn',
      version: '1.0.0',
      dependencies: { a: '1' },
      devDependencies: { d: '1' },
    }),
    'package-lock.json': Buffer.from('{"lockfileVersion":3}'),
  };
  const spec = specFor(node, files);
  assert.ok(spec?.lockfile);
  assert.deepEqual(spec.packageJson?.devDependencies, { d: '1' });
  assert.throws(() => specFor({ ...node, dependencies: { b: '1' } }, files), invalidManifest);
});

test('equal sets written differently share a key; any difference changes it', async (t) => {
  const { cache } = await cacheWorld(t);
  const a = specFor(py, { 'requirements.txt': Buffer.from('b==1\n# c\na==1\n') })!;
  const b = specFor({ ...py, dependencies: ['a==1', '  b==1'] }, {})!;
  const c = specFor({ ...py, dependencies: ['a==1', 'b==2'] }, {})!;
  assert.equal(await cache.keyFor(a), await cache.keyFor(b));
  assert.notEqual(await cache.keyFor(a), await cache.keyFor(c));
  const n1 = specFor(node, {
    'package.json': json({ name: 'one', dependencies: { x: '1', y: '2' } }),
  })!;
  const n2 = specFor(node, {
    'package.json': json({ name: 'two', dependencies: { y: '2', x: '1' } }),
  })!;
  assert.equal(await cache.keyFor(n1), await cache.keyFor(n2));
});

test('the installer configuration is part of the key', async (t) => {
  const spec = specFor({ ...py, dependencies: ['a==1'] }, {})!;
  const one = await cacheWorld(t);
  const other = await cacheWorld(t);
  // Different wheelhouse paths: different installer configuration, different key.
  assert.notEqual(await one.cache.keyFor(spec), await other.cache.keyFor(spec));
  assert.equal(await one.cache.keyFor(spec), await one.another().keyFor(spec));
});
