import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decryptSecret, encryptSecret, SecretDecryptError } from '../../../src/secrets/cipher.ts';

const key = randomBytes(32);

test('a value encrypted for a tenant and name decrypts back for them', () => {
  const blob = encryptSecret(key, 't1', 'API_TOKEN', 'sk-live-ünïcode-🔑');
  assert.equal(decryptSecret(key, 't1', 'API_TOKEN', blob), 'sk-live-ünïcode-🔑');
});

test('the ciphertext does not contain the value', () => {
  const blob = encryptSecret(key, 't1', 'API_TOKEN', 'plain-visible-value');
  assert.equal(blob.includes(Buffer.from('plain-visible-value')), false);
});

test('each encryption uses a fresh IV, so equal values give different ciphertexts', () => {
  const a = encryptSecret(key, 't1', 'A', 'same');
  const b = encryptSecret(key, 't1', 'A', 'same');
  assert.notDeepEqual(a, b);
  assert.notDeepEqual(a.subarray(1, 13), b.subarray(1, 13));
});

test('decrypting as another tenant fails (tenant id is authenticated data)', () => {
  const blob = encryptSecret(key, 'tenant-a', 'DB_PASSWORD', 'hunter2hunter2');
  assert.throws(() => decryptSecret(key, 'tenant-b', 'DB_PASSWORD', blob), SecretDecryptError);
});

test('decrypting under another name fails (name is authenticated data)', () => {
  const blob = encryptSecret(key, 't1', 'DB_PASSWORD', 'hunter2hunter2');
  assert.throws(() => decryptSecret(key, 't1', 'OTHER', blob), SecretDecryptError);
});

test('decrypting with another key fails', () => {
  const blob = encryptSecret(key, 't1', 'A', 'value');
  assert.throws(() => decryptSecret(randomBytes(32), 't1', 'A', blob), SecretDecryptError);
});

test('any flipped bit is detected (IV, tag or body)', () => {
  const blob = encryptSecret(key, 't1', 'A', 'some secret value');
  for (let i = 1; i < blob.length; i += 1) {
    const bad = Buffer.from(blob);
    bad[i] = bad[i]! ^ 0x01;
    assert.throws(() => decryptSecret(key, 't1', 'A', bad), SecretDecryptError, `byte ${i}`);
  }
});

test('truncated or unknown-format blobs are rejected', () => {
  const blob = encryptSecret(key, 't1', 'A', 'value');
  assert.throws(() => decryptSecret(key, 't1', 'A', blob.subarray(0, 20)), SecretDecryptError);
  const wrongVersion = Buffer.from(blob);
  wrongVersion[0] = 2;
  assert.throws(() => decryptSecret(key, 't1', 'A', wrongVersion), SecretDecryptError);
});

test('an empty value round-trips', () => {
  assert.equal(decryptSecret(key, 't', 'E', encryptSecret(key, 't', 'E', '')), '');
});
