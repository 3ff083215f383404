/** Tenancy over a real in-memory SQLite store: authentication, branch access, key creation, bootstrap. */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { loadConfig } from '../../../src/config/index.ts';
import { RelayError } from '../../../src/domain/index.ts';
import { createStore } from '../../../src/store/index.ts';
import { bootstrap, createTenancy } from '../../../src/tenancy/index.ts';
import { makeTempDir } from '../../support/tmp.ts';

async function setup(t: TestContext, env: Record<string, string> = {}) {
  const dir = await makeTempDir('relay-tenancy-');
  const config = loadConfig({ RELAY_DATA_DIR: dir.path, ...env });
  const store = await createStore('sqlite::memory:');
  t.after(async () => {
    await store.close();
    await dir.cleanup();
  });
  return { config, store, tenancy: createTenancy({ store, config }) };
}

function code(c: string) {
  return (err: unknown) => err instanceof RelayError && err.code === c;
}

test('a tenant starts with limits from the settings', async (t) => {
  const { tenancy } = await setup(t, {
    EXECUTION_MEMORY_LIMIT_MB: '512',
    EXECUTION_TIMEOUT_SECONDS: '12',
  });
  const { tenant } = await tenancy.createTenant('acme');
  assert.equal(tenant.limits.maxMemoryMb, 512);
  assert.equal(tenant.limits.maxTimeoutSeconds, 12);
});

test("a new tenant's admin key authenticates as that tenant", async (t) => {
  const { tenancy } = await setup(t);
  const { tenant, adminKey } = await tenancy.createTenant('acme');
  const p = await tenancy.authenticate(`Bearer ${adminKey.key}`);
  assert.equal(p.tenant.id, tenant.id);
  assert.deepEqual(p.key.scopes, ['admin']);
  assert.equal('secretHash' in p.key, false);
});

test('authenticate rejects missing, malformed, unknown and revoked keys with UNAUTHENTICATED', async (t) => {
  const { tenancy } = await setup(t);
  const { tenant, adminKey } = await tenancy.createTenant('acme');
  await assert.rejects(tenancy.authenticate(undefined), code('UNAUTHENTICATED'));
  await assert.rejects(tenancy.authenticate('Token abc'), code('UNAUTHENTICATED'));
  await assert.rejects(
    tenancy.authenticate('Bearer rk_key_0123456789abcdef_' + '0'.repeat(48)),
    code('UNAUTHENTICATED'),
  );
  await tenancy.revokeKey(tenant.id, adminKey.id);
  await assert.rejects(tenancy.authenticate(`Bearer ${adminKey.key}`), code('UNAUTHENTICATED'));
});

test('tenant names must be lowercase slugs and unique', async (t) => {
  const { tenancy } = await setup(t);
  await assert.rejects(tenancy.createTenant('Not OK'), code('VALIDATION_FAILED'));
  await tenancy.createTenant('acme');
  await assert.rejects(tenancy.createTenant('acme'), code('CONFLICT'));
});

test('createKey refuses unknown scopes, empty scopes, bad branch names and scopes the granter lacks', async (t) => {
  const { tenancy } = await setup(t);
  const { tenant } = await tenancy.createTenant('acme');
  await assert.rejects(
    tenancy.createKey(tenant.id, { name: 'k', scopes: [] }, ['admin']),
    code('VALIDATION_FAILED'),
  );
  await assert.rejects(
    tenancy.createKey(tenant.id, { name: 'k', scopes: ['root' as never] }, ['admin']),
    code('VALIDATION_FAILED'),
  );
  await assert.rejects(
    tenancy.createKey(tenant.id, { name: 'k', scopes: ['branch'], branches: ['no/slash'] }, [
      'admin',
    ]),
    code('VALIDATION_FAILED'),
  );
  await assert.rejects(
    tenancy.createKey(tenant.id, { name: 'k', scopes: ['operator'] }, ['admin']),
    code('FORBIDDEN'),
  );
  await assert.rejects(
    tenancy.createKey(tenant.id, { name: 'k', scopes: ['deploy'] }, ['invoke']),
    code('FORBIDDEN'),
  );
});

test('main needs no branch key', async (t) => {
  const { tenancy } = await setup(t);
  const { tenant } = await tenancy.createTenant('acme');
  await tenancy.checkBranchAccess(tenant.id, 'main', undefined);
});

test('a non-main branch needs a branch key of the same tenant', async (t) => {
  const { tenancy } = await setup(t);
  const a = await tenancy.createTenant('a');
  const b = await tenancy.createTenant('b');
  const keyA = await tenancy.createKey(a.tenant.id, { name: 'br', scopes: ['branch'] }, null);
  await assert.rejects(
    tenancy.checkBranchAccess(a.tenant.id, 'dev', undefined),
    code('BRANCH_ACCESS_DENIED'),
  );
  await assert.rejects(
    tenancy.checkBranchAccess(a.tenant.id, 'dev', 'garbage'),
    code('BRANCH_ACCESS_DENIED'),
  );
  await assert.rejects(
    tenancy.checkBranchAccess(b.tenant.id, 'dev', keyA.key),
    code('BRANCH_ACCESS_DENIED'),
  );
  await tenancy.checkBranchAccess(a.tenant.id, 'dev', keyA.key);
});

test('branch access denied carries the seed message', async (t) => {
  const { tenancy } = await setup(t);
  const { tenant } = await tenancy.createTenant('acme');
  await assert.rejects(tenancy.checkBranchAccess(tenant.id, 'dev', undefined), (err: unknown) => {
    assert.ok(err instanceof RelayError);
    assert.equal(err.status, 403);
    assert.equal(err.message, 'Branch access denied');
    return true;
  });
});

test('a branch key restricted to some branches is denied on others', async (t) => {
  const { tenancy } = await setup(t);
  const { tenant } = await tenancy.createTenant('acme');
  const k = await tenancy.createKey(
    tenant.id,
    { name: 'br', scopes: ['branch'], branches: ['dev'] },
    null,
  );
  await tenancy.checkBranchAccess(tenant.id, 'dev', k.key);
  await assert.rejects(
    tenancy.checkBranchAccess(tenant.id, 'staging', k.key),
    code('BRANCH_ACCESS_DENIED'),
  );
});

test('bootstrap creates tenant default with a generated operator+admin key in an owner-only file', async (t) => {
  const { tenancy, config } = await setup(t);
  const result = await bootstrap(tenancy, config);
  assert.equal(result.tenant.name, 'default');
  assert.ok(result.generatedKey);
  assert.equal((await readFile(result.keyFile!, 'utf8')).trim(), result.generatedKey);
  assert.equal((await stat(result.keyFile!)).mode & 0o777, 0o600);
  const p = await tenancy.authenticate(`Bearer ${result.generatedKey}`);
  assert.deepEqual(p.key.scopes, ['operator', 'admin']);
});

test('bootstrap is idempotent: a second run creates nothing and prints nothing', async (t) => {
  const { tenancy, config } = await setup(t);
  const first = await bootstrap(tenancy, config);
  const second = await bootstrap(tenancy, config);
  assert.equal(second.generatedKey, null);
  assert.equal(second.tenant.id, first.tenant.id);
  assert.equal((await tenancy.listKeys(first.tenant.id)).length, 1);
});

test('bootstrap with RELAY_BOOTSTRAP_API_KEY registers exactly that key', async (t) => {
  const { tenancy, config } = await setup(t, {
    RELAY_BOOTSTRAP_API_KEY: 'a-long-enough-bootstrap-key',
  });
  const result = await bootstrap(tenancy, config);
  assert.equal(result.generatedKey, null);
  const p = await tenancy.authenticate('Bearer a-long-enough-bootstrap-key');
  assert.equal(p.tenant.name, 'default');
  assert.deepEqual(p.key.scopes, ['operator', 'admin']);
});
