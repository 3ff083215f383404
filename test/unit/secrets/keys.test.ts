import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  KEY_FILE,
  SecretsKeyError,
  loadOrCreateKeyFile,
  parseSecretsKey,
} from '../../../src/secrets/keys.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'relay-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a key given as 64 hex characters or base64 of 32 bytes parses to the same bytes', () => {
  const bytes = randomBytes(32);
  const hex = parseSecretsKey(bytes.toString('hex'));
  const b64 = parseSecretsKey(bytes.toString('base64'));
  const b64url = parseSecretsKey(bytes.toString('base64url'));
  assert.deepEqual(hex.bytes, bytes);
  assert.deepEqual(b64.bytes, bytes);
  assert.deepEqual(b64url.bytes, bytes);
  assert.equal(hex.id, b64.id);
});

test('keys of the wrong length or alphabet are rejected with a message naming the setting', () => {
  for (const bad of [
    'short',
    randomBytes(16).toString('hex'),
    randomBytes(31).toString('base64'),
    randomBytes(33).toString('base64'),
    'z'.repeat(64),
    randomBytes(48).toString('base64'),
  ]) {
    assert.throws(
      () => parseSecretsKey(bad),
      (err: unknown) => {
        assert.ok(err instanceof SecretsKeyError);
        assert.match(err.message, /RELAY_SECRETS_KEY: expected a 32-byte key/);
        return true;
      },
    );
  }
});

test('the key id differs between keys and does not contain the key', () => {
  const bytes = randomBytes(32);
  const a = parseSecretsKey(bytes.toString('hex'));
  const b = parseSecretsKey(randomBytes(32).toString('hex'));
  assert.notEqual(a.id, b.id);
  assert.equal(bytes.toString('hex').includes(a.id), false);
});

test('the generated key file is created once with mode 0600', (t) => {
  const dir = tempDir(t);
  const first = loadOrCreateKeyFile(dir);
  assert.equal(first.created, true);
  const file = path.join(dir, KEY_FILE);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const second = loadOrCreateKeyFile(dir);
  assert.equal(second.created, false);
  assert.equal(second.key.id, first.key.id);
});

test('an existing key file is never overwritten', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, KEY_FILE);
  const mine = randomBytes(32).toString('hex');
  writeFileSync(file, `${mine}\n`, { mode: 0o600 });
  const loaded = loadOrCreateKeyFile(dir);
  assert.equal(loaded.created, false);
  assert.equal(loaded.key.bytes.toString('hex'), mine);
  assert.equal(readFileSync(file, 'utf8'), `${mine}\n`);
});

test('a key file readable by group or others is refused', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, KEY_FILE);
  writeFileSync(file, `${randomBytes(32).toString('base64')}\n`);
  chmodSync(file, 0o644);
  assert.throws(() => loadOrCreateKeyFile(dir), /readable by other users.*chmod 600/);
});

test('a corrupt key file fails with its path in the message', (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, KEY_FILE), 'not a key\n', { mode: 0o600 });
  assert.throws(() => loadOrCreateKeyFile(dir), new RegExp(`${KEY_FILE}: expected a 32-byte key`));
});
