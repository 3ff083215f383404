/** A restart on the same data dir keeps tenants, keys, functions, the ledger and branch heads. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { startTestServer } from '../support/server.ts';
import { deploy, newFunction, newKey, newTenant } from './fixtures.ts';

test('restart keeps tenants, keys, functions, versions and branch heads', async (t) => {
  const ts = await startTestServer();
  t.after(() => ts.close());
  const tenant = await newTenant(ts);
  const branchKey = await newKey(ts, tenant.adminKey, ['branch']);
  const rufid = await newFunction(ts, tenant.adminKey);
  const dev = await deploy(ts, tenant.adminKey, rufid, 'dev', 'two');
  await ts.call('PUT', `/api/v1/functions/${rufid}/branches/main`, {
    key: tenant.adminKey,
    body: { version: dev },
  });
  const versionsBefore = (
    await ts.call('GET', `/api/v1/functions/${rufid}/versions`, { key: tenant.adminKey })
  ).body;

  await ts.restart();

  assert.equal(ts.server.bootstrap.generatedKey, null, 'no second bootstrap key on restart');
  const versionsAfter = await ts.call('GET', `/api/v1/functions/${rufid}/versions`, {
    key: tenant.adminKey,
  });
  assert.equal(versionsAfter.status, 200);
  assert.deepEqual(versionsAfter.body, versionsBefore);
  const resolved = await ts.call('POST', `/api/v1/functions/${rufid}/resolve?branch=dev`, {
    key: tenant.adminKey,
    headers: { 'X-Relay-Branch-Key': branchKey },
  });
  assert.equal(resolved.status, 200);
  assert.equal(resolved.body.version, dev);
  const main = await ts.call('POST', `/api/v1/functions/${rufid}/resolve`, {
    key: tenant.adminKey,
  });
  assert.equal(main.body.version, dev);
  // The bootstrap key from the first start still works.
  assert.equal((await ts.call('GET', '/api/v1/tenants')).status, 200);
});

test('the generated bootstrap key is written once to <dataDir>/bootstrap-key, owner-only', async (t) => {
  const ts = await startTestServer();
  t.after(() => ts.close());
  const file = ts.server.bootstrap.keyFile!;
  assert.equal(file, `${ts.dataDir}/bootstrap-key`);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.match(ts.key, /^rk_key_[0-9a-f]{16}_[0-9a-f]{48}$/);
  const keys = await ts.call('GET', '/api/v1/keys');
  assert.deepEqual(keys.body.keys[0].scopes, ['operator', 'admin']);
});

test('RELAY_BOOTSTRAP_API_KEY becomes the operator+admin key of tenant default and no key file is written', async (t) => {
  const chosen = 'my-own-bootstrap-key-0123456789';
  const ts = await startTestServer({ RELAY_BOOTSTRAP_API_KEY: chosen });
  t.after(() => ts.close());
  assert.equal(ts.server.bootstrap.generatedKey, null);
  assert.equal(ts.server.bootstrap.keyFile, null);
  const res = await ts.call('GET', '/api/v1/tenants', { key: chosen });
  assert.equal(res.status, 200);
  assert.deepEqual(
    res.body.tenants.map((x: { name: string }) => x.name),
    ['default'],
  );
  await assert.rejects(stat(`${ts.dataDir}/bootstrap-key`));
});
