import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Manifest } from '../../../src/domain/index.ts';
import { canonicalJson, packageDigest } from '../../../src/registry/index.ts';

const FILES = [
  { path: 'a.py', digest: '1'.repeat(64), size: 1 },
  { path: 'b.py', digest: '2'.repeat(64), size: 2 },
];

test('canonical JSON sorts keys at every level', () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } }),
    '{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}',
  );
});

test('the digest ignores manifest key order and file order', () => {
  const m1: Manifest = { runtime: 'python3.11', entrypoint: 'a.handler', env: { X: '1', Y: '2' } };
  const m2 = {
    env: { Y: '2', X: '1' },
    entrypoint: 'a.handler',
    runtime: 'python3.11',
  } as Manifest;
  assert.equal(packageDigest(m1, FILES), packageDigest(m2, [...FILES].reverse()));
});

test('the digest changes when a file, a path or the manifest changes', () => {
  const m: Manifest = { runtime: 'python3.11', entrypoint: 'a.handler' };
  const base = packageDigest(m, FILES);
  assert.notEqual(packageDigest(m, [FILES[0]!, { ...FILES[1]!, digest: '3'.repeat(64) }]), base);
  assert.notEqual(packageDigest(m, [FILES[0]!, { ...FILES[1]!, path: 'c.py' }]), base);
  assert.notEqual(packageDigest({ ...m, network: true }, FILES), base);
  assert.match(base, /^[0-9a-f]{64}$/);
});
