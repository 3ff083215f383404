import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKey, hashSecret, parseKey, verifySecret } from '../../../src/tenancy/index.ts';

test('generated keys have the rk_<keyid>_<secret> format and parse back to their id', () => {
  const k = generateKey();
  assert.match(k.token, /^rk_key_[0-9a-f]{16}_[0-9a-f]{48}$/);
  assert.equal(parseKey(k.token).id, k.id);
});

test('two generated keys differ in id and secret', () => {
  const a = generateKey();
  const b = generateKey();
  assert.notEqual(a.id, b.id);
  assert.notEqual(parseKey(a.token).secret, parseKey(b.token).secret);
});

test('only a sha256 hash of the secret is kept, never the secret itself', () => {
  const k = generateKey();
  const secret = parseKey(k.token).secret;
  assert.match(k.secretHash, /^[0-9a-f]{64}$/);
  assert.equal(k.secretHash, hashSecret(secret));
  assert.ok(!k.secretHash.includes(secret));
});

test('verifySecret accepts the right secret and rejects a wrong one', () => {
  const k = generateKey();
  const secret = parseKey(k.token).secret;
  assert.equal(verifySecret(secret, k.secretHash), true);
  assert.equal(verifySecret(`${secret.slice(0, -1)}0`, k.secretHash), secret.endsWith('0'));
  assert.equal(verifySecret('nope', k.secretHash), false);
});

test('verifySecret returns false (no throw) for a stored hash of the wrong length', () => {
  assert.equal(verifySecret('x', 'abcd'), false);
});

test('a token in another format maps to a stable derived id and is its own secret', () => {
  const token = 'operator-chosen-bootstrap-key';
  const a = parseKey(token);
  assert.match(a.id, /^key_[0-9a-f]{16}$/);
  assert.equal(a.secret, token);
  assert.deepEqual(parseKey(token), a);
  assert.notEqual(parseKey(`${token}x`).id, a.id);
});
