/** Conformance cases: migrations, tenants, API keys, blobs and secrets. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LIMITS, hasCode, sleep, tenant, uid, useStore, type MakeStore } from './fixtures.ts';

export function tenancyCases(makeStore: MakeStore): void {
  const ctx = useStore(makeStore);

  test('migrate is safe to run again and ping answers', async () => {
    await ctx.store.migrate();
    await ctx.store.ping();
  });

  test('a tenant is found by id and by name, and listed', async () => {
    const { store } = ctx;
    const created = await store.createTenant({ id: uid('tn'), name: 'acme', limits: LIMITS });
    assert.equal(created.name, 'acme');
    assert.match(created.createdAt, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(await store.getTenant(created.id), created);
    assert.deepEqual(await store.getTenantByName('acme'), created);
    assert.deepEqual(await store.listTenants(), [created]);
    assert.equal(await store.getTenant('tn_missing'), null);
    assert.equal(await store.getTenantByName('missing'), null);
  });

  test('a duplicate tenant name is a CONFLICT', async () => {
    const { store } = ctx;
    await store.createTenant({ id: uid('tn'), name: 'acme', limits: LIMITS });
    await assert.rejects(
      store.createTenant({ id: uid('tn'), name: 'acme', limits: LIMITS }),
      hasCode('CONFLICT'),
    );
    assert.equal((await store.listTenants()).length, 1);
  });

  test('tenant limits can be updated; an unknown tenant answers null', async () => {
    const { store } = ctx;
    const id = await tenant(store);
    const limits = { ...LIMITS, maxConcurrency: 3, monthlyBudget: 100 };
    const updated = await store.updateTenantLimits(id, limits);
    assert.deepEqual(updated?.limits, limits);
    assert.deepEqual((await store.getTenant(id))?.limits, limits);
    assert.equal(await store.updateTenantLimits('tn_missing', limits), null);
  });

  test('API keys are created, read with their hash, listed without it, and revoked', async () => {
    const { store } = ctx;
    const tenantId = await tenant(store);
    const key = await store.createApiKey({
      id: uid('key'),
      tenantId,
      name: 'ci',
      scopes: ['deploy', 'branch'],
      branches: ['dev'],
      secretHash: 'hash-1',
    });
    assert.equal(key.revokedAt, null);
    assert.equal('secretHash' in key, false);
    const stored = await store.getApiKey(key.id);
    assert.deepEqual(stored, { ...key, secretHash: 'hash-1' });
    const listed = await store.listApiKeys(tenantId);
    assert.deepEqual(listed, [key]);
    assert.equal('secretHash' in listed[0]!, false);

    assert.equal(await store.revokeApiKey(tenantId, key.id), true);
    const revoked = await store.getApiKey(key.id);
    assert.ok(revoked?.revokedAt);
    assert.equal(await store.getApiKey('key_missing'), null);
  });

  test('a key with no branch list keeps null, and list is per tenant', async () => {
    const { store } = ctx;
    const a = await tenant(store);
    const b = await tenant(store);
    const base = { name: 'k', scopes: ['admin' as const], branches: null, secretHash: 'h' };
    const ka = await store.createApiKey({ ...base, id: uid('key'), tenantId: a });
    await store.createApiKey({ ...base, id: uid('key'), tenantId: b });
    assert.equal((await store.getApiKey(ka.id))?.branches, null);
    assert.deepEqual(
      (await store.listApiKeys(a)).map((k) => k.id),
      [ka.id],
    );
  });

  test("revoking another tenant's key returns false and leaves it active", async () => {
    const { store } = ctx;
    const owner = await tenant(store);
    const other = await tenant(store);
    const key = await store.createApiKey({
      id: uid('key'),
      tenantId: owner,
      name: 'k',
      scopes: ['invoke'],
      branches: null,
      secretHash: 'h',
    });
    assert.equal(await store.revokeApiKey(other, key.id), false);
    assert.equal((await store.getApiKey(key.id))?.revokedAt, null);
    assert.equal(await store.revokeApiKey(owner, 'key_missing'), false);
  });

  test('a key or secret for a tenant that does not exist is TENANT_NOT_FOUND', async () => {
    const { store } = ctx;
    await assert.rejects(
      store.createApiKey({
        id: uid('key'),
        tenantId: 'tn_missing',
        name: 'k',
        scopes: ['admin'],
        branches: null,
        secretHash: 'h',
      }),
      hasCode('TENANT_NOT_FOUND'),
    );
    await assert.rejects(
      store.putSecret({
        tenantId: 'tn_missing',
        name: 'A',
        ciphertext: Buffer.from('c'),
        keyId: 'k',
      }),
      hasCode('TENANT_NOT_FOUND'),
    );
    assert.deepEqual(await store.listApiKeys('tn_missing'), []);
    assert.deepEqual(await store.listSecrets('tn_missing'), []);
  });

  test('putting a blob twice is a no-op; get and has find it', async () => {
    const { store } = ctx;
    const bytes = Buffer.from([0, 1, 2, 255, 0, 10]);
    assert.equal(await store.hasBlob('d1'), false);
    assert.equal(await store.getBlob('d1'), null);
    await store.putBlob('d1', bytes);
    await store.putBlob('d1', Buffer.from('different bytes, same digest'));
    assert.equal(await store.hasBlob('d1'), true);
    const got = await store.getBlob('d1');
    assert.ok(Buffer.isBuffer(got));
    assert.deepEqual(got, bytes);
  });

  test('an empty blob is stored and read back', async () => {
    const { store } = ctx;
    await store.putBlob('empty', Buffer.alloc(0));
    assert.equal(await store.hasBlob('empty'), true);
    assert.equal((await store.getBlob('empty'))?.length, 0);
  });

  test('putting a secret again keeps createdAt and moves updatedAt', async () => {
    const { store } = ctx;
    const tenantId = await tenant(store);
    const first = await store.putSecret({
      tenantId,
      name: 'DB_URL',
      ciphertext: Buffer.from('c1'),
      keyId: 'k1',
    });
    assert.equal(first.createdAt, first.updatedAt);
    await sleep(5);
    const second = await store.putSecret({
      tenantId,
      name: 'DB_URL',
      ciphertext: Buffer.from('c2'),
      keyId: 'k2',
    });
    assert.equal(second.createdAt, first.createdAt);
    assert.ok(second.updatedAt > first.updatedAt);
    const [listed] = await store.listSecrets(tenantId);
    assert.deepEqual(listed, second);
    assert.deepEqual(listed?.ciphertext, Buffer.from('c2'));
  });

  test('secrets are listed by name, fetched by names and deleted, per tenant', async () => {
    const { store } = ctx;
    const a = await tenant(store);
    const b = await tenant(store);
    for (const name of ['B', 'A', 'C']) {
      await store.putSecret({ tenantId: a, name, ciphertext: Buffer.from(name), keyId: 'k' });
    }
    await store.putSecret({ tenantId: b, name: 'A', ciphertext: Buffer.from('b'), keyId: 'k' });
    assert.deepEqual(
      (await store.listSecrets(a)).map((s) => s.name),
      ['A', 'B', 'C'],
    );
    const some = await store.getSecrets(a, ['C', 'A', 'MISSING']);
    assert.deepEqual(
      some.map((s) => [s.name, s.ciphertext.toString()]),
      [
        ['A', 'A'],
        ['C', 'C'],
      ],
    );
    assert.deepEqual(await store.getSecrets(a, []), []);
    assert.equal(await store.deleteSecret(a, 'A'), true);
    assert.equal(await store.deleteSecret(a, 'A'), false);
    assert.deepEqual(
      (await store.getSecrets(b, ['A'])).map((s) => s.ciphertext.toString()),
      ['b'],
    );
  });
}
