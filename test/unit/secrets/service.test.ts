import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RelayError } from '../../../src/domain/index.ts';
import type { TenantLimits } from '../../../src/domain/index.ts';
import { createSecretsService, parseSecretsKey } from '../../../src/secrets/index.ts';
import { encryptSecret } from '../../../src/secrets/cipher.ts';
import { createStore } from '../../../src/store/index.ts';
import type { ControlStore } from '../../../src/store/index.ts';

const LIMITS: TenantLimits = {
  maxTimeoutSeconds: 60,
  maxMemoryMb: 512,
  maxCpus: 1,
  maxConcurrency: 4,
  maxQueued: 100,
  maxPriority: 9,
  monthlyBudget: null,
};

interface World {
  dir: string;
  store: ControlStore;
}

/** A data dir and a real SQLite store, removed after the test. */
async function world(t: TestContext): Promise<World> {
  const dir = mkdtempSync(path.join(tmpdir(), 'relay-secrets-'));
  const store = await createStore(`sqlite:${path.join(dir, 'relay.db')}`);
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const id of ['tenant-a', 'tenant-b'])
    await store.createTenant({ id, name: id, limits: LIMITS });
  return { dir, store };
}

function code(expected: string) {
  return (err: unknown) => err instanceof RelayError && err.code === expected;
}

test('a secret put for a tenant resolves to the same value', async (t) => {
  const { dir, store } = await world(t);
  const secrets = createSecretsService({ store, dataDir: dir });
  await secrets.put('tenant-a', 'API_TOKEN', 'tok-123456');
  await secrets.put('tenant-a', 'DB_URL', 'postgres://u:p@h/db');
  assert.deepEqual(await secrets.resolve('tenant-a', ['API_TOKEN', 'DB_URL']), {
    API_TOKEN: 'tok-123456',
    DB_URL: 'postgres://u:p@h/db',
  });
});

test('put replaces the value and keeps the creation time', async (t) => {
  const { dir, store } = await world(t);
  const secrets = createSecretsService({ store, dataDir: dir });
  const first = await secrets.put('tenant-a', 'TOKEN', 'first-value');
  const second = await secrets.put('tenant-a', 'TOKEN', 'second-value');
  assert.equal(second.createdAt, first.createdAt);
  assert.deepEqual(await secrets.resolve('tenant-a', ['TOKEN']), { TOKEN: 'second-value' });
});

test('list shows names and times, never values, and the store holds only ciphertext', async (t) => {
  const { dir, store } = await world(t);
  const secrets = createSecretsService({ store, dataDir: dir });
  await secrets.put('tenant-a', 'B_SECRET', 'value-bbbbbbbb');
  await secrets.put('tenant-a', 'A_SECRET', 'value-aaaaaaaa');
  const list = await secrets.list('tenant-a');
  assert.deepEqual(
    list.map((s) => s.name),
    ['A_SECRET', 'B_SECRET'],
  );
  for (const item of list)
    assert.deepEqual(Object.keys(item).sort(), ['createdAt', 'name', 'updatedAt']);
  assert.equal(JSON.stringify(list).includes('value-'), false);
  const raw = await store.listSecrets('tenant-a');
  for (const row of raw) assert.equal(row.ciphertext.includes(Buffer.from('value-')), false);
  const db = readFileSync(path.join(dir, 'relay.db'));
  assert.equal(db.includes(Buffer.from('value-aaaaaaaa')), false);
});

test("another tenant can neither list nor resolve a tenant's secret", async (t) => {
  const { dir, store } = await world(t);
  const secrets = createSecretsService({ store, dataDir: dir });
  await secrets.put('tenant-a', 'SHARED_NAME', 'only-for-a');
  assert.deepEqual(await secrets.list('tenant-b'), []);
  await assert.rejects(secrets.resolve('tenant-b', ['SHARED_NAME']), code('SECRET_NOT_FOUND'));
  assert.equal(await secrets.remove('tenant-b', 'SHARED_NAME'), false);
  assert.deepEqual(await secrets.resolve('tenant-a', ['SHARED_NAME']), {
    SHARED_NAME: 'only-for-a',
  });
});

test('a ciphertext moved to another tenant fails to decrypt', async (t) => {
  const { dir, store } = await world(t);
  const secrets = createSecretsService({ store, dataDir: dir });
  await secrets.put('tenant-a', 'STOLEN', 'tenant-a-value');
  const [row] = await store.getSecrets('tenant-a', ['STOLEN']);
  await store.putSecret({
    tenantId: 'tenant-b',
    name: 'STOLEN',
    ciphertext: row!.ciphertext,
    keyId: row!.keyId,
  });
  await assert.rejects(secrets.resolve('tenant-b', ['STOLEN']), (err: unknown) => {
    assert.ok(err instanceof RelayError);
    assert.equal(err.code, 'INTERNAL');
    assert.match(err.message, /STOLEN could not be decrypted/);
    assert.equal(err.message.includes('tenant-a-value'), false);
    return true;
  });
});

test('a tampered ciphertext is detected', async (t) => {
  const { dir, store } = await world(t);
  const secrets = createSecretsService({ store, dataDir: dir });
  await secrets.put('tenant-a', 'TAMPER', 'original-value');
  const [row] = await store.getSecrets('tenant-a', ['TAMPER']);
  const bad = Buffer.from(row!.ciphertext);
  bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
  await store.putSecret({
    tenantId: 'tenant-a',
    name: 'TAMPER',
    ciphertext: bad,
    keyId: row!.keyId,
  });
  await assert.rejects(secrets.resolve('tenant-a', ['TAMPER']), /could not be decrypted/);
});

test('resolve names every missing secret', async (t) => {
  const { dir, store } = await world(t);
  const secrets = createSecretsService({ store, dataDir: dir });
  await secrets.put('tenant-a', 'PRESENT', 'here-it-is');
  await assert.rejects(
    secrets.resolve('tenant-a', ['PRESENT', 'MISSING_ONE', 'MISSING_TWO']),
    (err: unknown) => {
      assert.ok(err instanceof RelayError);
      assert.equal(err.code, 'SECRET_NOT_FOUND');
      assert.match(err.message, /MISSING_ONE, MISSING_TWO/);
      assert.equal(err.message.includes('PRESENT'), false);
      return true;
    },
  );
  await assert.rejects(secrets.assertExist('tenant-a', ['MISSING_ONE']), code('SECRET_NOT_FOUND'));
  await secrets.assertExist('tenant-a', ['PRESENT']);
  assert.deepEqual(await secrets.resolve('tenant-a', []), {});
});

test('remove deletes a secret and reports whether it existed', async (t) => {
  const { dir, store } = await world(t);
  const secrets = createSecretsService({ store, dataDir: dir });
  await secrets.put('tenant-a', 'GONE', 'soon-gone');
  assert.equal(await secrets.remove('tenant-a', 'GONE'), true);
  assert.equal(await secrets.remove('tenant-a', 'GONE'), false);
  await assert.rejects(secrets.resolve('tenant-a', ['GONE']), code('SECRET_NOT_FOUND'));
});

test('invalid names and oversized or NUL values are rejected with VALIDATION_FAILED', async (t) => {
  const { dir, store } = await world(t);
  const secrets = createSecretsService({ store, dataDir: dir });
  for (const name of [
    'lower',
    '1STARTS_WITH_DIGIT',
    'HAS-DASH',
    'A'.repeat(129),
    '',
    'SPACE NAME',
  ]) {
    await assert.rejects(secrets.put('tenant-a', name, 'value'), code('VALIDATION_FAILED'), name);
  }
  await secrets.put('tenant-a', `_${'A'.repeat(127)}`, 'ok-value');
  await secrets.put('tenant-a', 'EXACT', 'x'.repeat(64 * 1024));
  await assert.rejects(
    secrets.put('tenant-a', 'BIG', 'x'.repeat(64 * 1024 + 1)),
    (err: unknown) => {
      assert.ok(err instanceof RelayError && err.code === 'VALIDATION_FAILED');
      assert.match(err.message, /65537 bytes, the limit is 65536/);
      return true;
    },
  );
  await assert.rejects(secrets.put('tenant-a', 'NUL', 'a\0b'), code('VALIDATION_FAILED'));
  await assert.rejects(secrets.resolve('tenant-a', ['bad-name']), code('VALIDATION_FAILED'));
});

test('without RELAY_SECRETS_KEY a key file is generated once, owner-only, and reused', async (t) => {
  const { dir, store } = await world(t);
  const first = createSecretsService({ store, dataDir: dir });
  assert.equal(statSync(path.join(dir, 'secrets.key')).mode & 0o777, 0o600);
  await first.put('tenant-a', 'KEEP', 'survives-restart');
  const second = createSecretsService({ store, dataDir: dir });
  assert.equal(second.keyId, first.keyId);
  assert.deepEqual(await second.resolve('tenant-a', ['KEEP']), { KEEP: 'survives-restart' });
});

test('a configured key is used instead of a key file, and a bad one fails at start', async (t) => {
  const { dir, store } = await world(t);
  const key = randomBytes(32).toString('hex');
  const secrets = createSecretsService({ store, dataDir: dir, secretsKey: key });
  await secrets.put('tenant-a', 'ENV_KEYED', 'env-keyed-value');
  assert.throws(() => statSync(path.join(dir, 'secrets.key')), /ENOENT/);
  const again = createSecretsService({
    store,
    dataDir: dir,
    secretsKey: Buffer.from(key, 'hex').toString('base64'),
  });
  assert.deepEqual(await again.resolve('tenant-a', ['ENV_KEYED']), {
    ENV_KEYED: 'env-keyed-value',
  });
  assert.throws(
    () => createSecretsService({ store, dataDir: dir, secretsKey: 'too-short' }),
    (err: unknown) =>
      err instanceof RelayError && /RELAY_SECRETS_KEY: expected a 32-byte key/.test(err.message),
  );
  const wrong = createSecretsService({
    store,
    dataDir: dir,
    secretsKey: randomBytes(32).toString('hex'),
  });
  await assert.rejects(wrong.resolve('tenant-a', ['ENV_KEYED']), /which this server does not have/);
});

test("rotation re-encrypts every tenant's secrets under the new key and persists it", async (t) => {
  const { dir, store } = await world(t);
  const secrets = createSecretsService({ store, dataDir: dir });
  const oldKeyId = secrets.keyId;
  await secrets.put('tenant-a', 'ONE', 'value-one-a');
  await secrets.put('tenant-b', 'ONE', 'value-one-b');
  await secrets.put('tenant-b', 'TWO', 'value-two-b');
  const next = randomBytes(32).toString('base64');
  const result = await secrets.rotate(next);
  assert.equal(result.reEncrypted, 3);
  assert.notEqual(result.keyId, oldKeyId);
  for (const tenant of ['tenant-a', 'tenant-b']) {
    for (const row of await store.listSecrets(tenant)) assert.equal(row.keyId, result.keyId);
  }
  assert.deepEqual(await secrets.resolve('tenant-b', ['ONE', 'TWO']), {
    ONE: 'value-one-b',
    TWO: 'value-two-b',
  });
  assert.equal(readFileSync(path.join(dir, 'secrets.key'), 'utf8').trim(), next);
  assert.equal(statSync(path.join(dir, 'secrets.key')).mode & 0o777, 0o600);
  // A process started after the rotation reads everything with the key file alone.
  const restarted = createSecretsService({ store, dataDir: dir });
  assert.equal(restarted.keyId, result.keyId);
  assert.deepEqual(await restarted.resolve('tenant-a', ['ONE']), { ONE: 'value-one-a' });
  // Rotating again to the same key has nothing to do.
  assert.equal((await restarted.rotate(next)).reEncrypted, 0);
});

test('during a rotation old ciphertexts stay readable by their key id', async (t) => {
  const { dir, store } = await world(t);
  const writer = createSecretsService({ store, dataDir: dir });
  const reader = createSecretsService({ store, dataDir: dir });
  await writer.put('tenant-a', 'OLD', 'written-before');
  const oldKeyText = readFileSync(path.join(dir, 'secrets.key'), 'utf8');
  await reader.rotate(randomBytes(32).toString('hex'));
  // The writer still held the old key in memory; it notices the rotated key file on its next put.
  await writer.put('tenant-a', 'NEW', 'written-after');
  const rows = await store.listSecrets('tenant-a');
  assert.equal(new Set(rows.map((r) => r.keyId)).size, 1);
  assert.deepEqual(await writer.resolve('tenant-a', ['OLD', 'NEW']), {
    OLD: 'written-before',
    NEW: 'written-after',
  });
  // A row written with the old key by a put that raced the rotation decrypts with the retired key.
  const oldKey = parseSecretsKey(oldKeyText);
  const ciphertext = encryptSecret(oldKey.bytes, 'tenant-a', 'RACED', 'raced-value');
  await store.putSecret({ tenantId: 'tenant-a', name: 'RACED', ciphertext, keyId: oldKey.id });
  const fresh = createSecretsService({ store, dataDir: dir });
  assert.deepEqual(await fresh.resolve('tenant-a', ['RACED']), { RACED: 'raced-value' });
  // Rotating again to the current key moves that row too.
  assert.equal(
    (await fresh.rotate(readFileSync(path.join(dir, 'secrets.key'), 'utf8'))).reEncrypted,
    1,
  );
});

test('an invalid rotation key is refused and changes nothing', async (t) => {
  const { dir, store } = await world(t);
  const secrets = createSecretsService({ store, dataDir: dir });
  await secrets.put('tenant-a', 'STAY', 'stay-value');
  const before = readFileSync(path.join(dir, 'secrets.key'), 'utf8');
  await assert.rejects(async () => secrets.rotate('nope'), code('VALIDATION_FAILED'));
  assert.equal(readFileSync(path.join(dir, 'secrets.key'), 'utf8'), before);
  assert.deepEqual(await secrets.resolve('tenant-a', ['STAY']), { STAY: 'stay-value' });
});

test('the service redactor stars resolved values in log lines', async (t) => {
  const { dir, store } = await world(t);
  const secrets = createSecretsService({ store, dataDir: dir });
  await secrets.put('tenant-a', 'PRINTED', 'printed-secret');
  const values = Object.values(await secrets.resolve('tenant-a', ['PRINTED']));
  assert.equal(secrets.redactor(values)('env PRINTED=printed-secret'), 'env PRINTED=***');
});

test('secrets written under a generated key file stay readable after RELAY_SECRETS_KEY is set, and rotate migrates them', async (t) => {
  const { dir, store } = await world(t);
  const generated = createSecretsService({ store, dataDir: dir });
  await generated.put('tenant-a', 'BEFORE_ENV', 'from-the-file-key');
  const envKey = randomBytes(32).toString('base64');
  const configured = createSecretsService({ store, dataDir: dir, secretsKey: envKey });
  assert.deepEqual(await configured.resolve('tenant-a', ['BEFORE_ENV']), {
    BEFORE_ENV: 'from-the-file-key',
  });
  assert.equal((await configured.rotate(envKey)).reEncrypted, 1);
  const [row] = await store.getSecrets('tenant-a', ['BEFORE_ENV']);
  assert.equal(row!.keyId, configured.keyId);
});

test('previous keys given to the service decrypt secrets written under them', async (t) => {
  const { dir, store } = await world(t);
  const oldKey = randomBytes(32).toString('hex');
  const newKey = randomBytes(32).toString('hex');
  await createSecretsService({ store, dataDir: dir, secretsKey: oldKey }).put(
    'tenant-a',
    'OLD_ONE',
    'old-key-value',
  );
  const withoutOld = createSecretsService({ store, dataDir: dir, secretsKey: newKey });
  await assert.rejects(withoutOld.resolve('tenant-a', ['OLD_ONE']), /does not have/);
  const withOld = createSecretsService({
    store,
    dataDir: dir,
    secretsKey: newKey,
    previousKeys: [oldKey],
  });
  assert.deepEqual(await withOld.resolve('tenant-a', ['OLD_ONE']), { OLD_ONE: 'old-key-value' });
});
