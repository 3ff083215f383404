import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RelayError } from '../../../src/domain/index.ts';
import { allowsBranch, grants, requireAnyScope } from '../../../src/tenancy/index.ts';

test('admin implies deploy, invoke and branch', () => {
  for (const s of ['admin', 'deploy', 'invoke', 'branch'] as const)
    assert.equal(grants(['admin'], s), true, s);
});

test('admin does not imply operator', () => {
  assert.equal(grants(['admin'], 'operator'), false);
});

test('operator implies nothing inside a tenant', () => {
  for (const s of ['admin', 'deploy', 'invoke', 'branch'] as const)
    assert.equal(grants(['operator'], s), false, s);
});

test('deploy, invoke and branch grant only themselves', () => {
  assert.equal(grants(['deploy'], 'invoke'), false);
  assert.equal(grants(['invoke'], 'deploy'), false);
  assert.equal(grants(['branch'], 'invoke'), false);
  assert.equal(grants(['invoke'], 'invoke'), true);
});

test('requireAnyScope throws FORBIDDEN naming the missing scopes', () => {
  assert.throws(
    () => requireAnyScope(['invoke'], ['deploy']),
    (err: unknown) =>
      err instanceof RelayError && err.code === 'FORBIDDEN' && /deploy/.test(err.message),
  );
  assert.doesNotThrow(() => requireAnyScope(['invoke'], ['invoke', 'deploy']));
});

test('a branch key without a list may run every branch', () => {
  assert.equal(allowsBranch({ scopes: ['branch'], branches: null }, 'dev'), true);
});

test('a branch key with a list may run only those branches', () => {
  const key = { scopes: ['branch' as const], branches: ['dev'] };
  assert.equal(allowsBranch(key, 'dev'), true);
  assert.equal(allowsBranch(key, 'staging'), false);
});

test('a key without branch or admin scope is never a branch key', () => {
  assert.equal(allowsBranch({ scopes: ['invoke', 'deploy'], branches: null }, 'dev'), false);
  assert.equal(allowsBranch({ scopes: ['admin'], branches: null }, 'dev'), true);
});
