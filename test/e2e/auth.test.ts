/** Authentication (401), scopes (403) and tenant isolation (404) over HTTP. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';
import { newFunction, newKey, newTenant, pythonPackage, unique } from './fixtures.ts';

describe('authentication and isolation', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
  });
  after(async () => {
    await ts.close();
  });

  test('no Authorization header is 401 UNAUTHENTICATED', async () => {
    const res = await ts.call('GET', '/api/v1/functions', { key: null });
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'UNAUTHENTICATED');
  });

  test('a branch key alone does not authenticate (the seed example still needs Authorization)', async () => {
    const tenant = await newTenant(ts);
    const rufid = await newFunction(ts, tenant.adminKey);
    const branchKey = await newKey(ts, tenant.adminKey, ['branch']);
    const res = await ts.call('POST', `/api/v1/functions/${rufid}/resolve?branch=dev`, {
      key: null,
      headers: { 'X-Relay-Branch-Key': branchKey },
    });
    assert.equal(res.status, 401);
  });

  test('a malformed Authorization header is 401', async () => {
    const res = await ts.call('GET', '/api/v1/functions', {
      key: null,
      headers: { authorization: 'Basic abc' },
    });
    assert.equal(res.status, 401);
    assert.match(res.body.error.message, /Bearer/);
  });

  test('an unknown key is 401', async () => {
    const res = await ts.call('GET', '/api/v1/functions', {
      key: 'rk_key_0000000000000000_000000000000000000000000000000000000000000000000',
    });
    assert.equal(res.status, 401);
  });

  test('a right key id with a wrong secret is 401', async () => {
    const tenant = await newTenant(ts);
    const wrong = tenant.adminKey.replace(
      /_([0-9a-f]{48})$/,
      (_m, s: string) => `_${s.startsWith('0') ? '1' : '0'}${s.slice(1)}`,
    );
    assert.notEqual(wrong, tenant.adminKey);
    const res = await ts.call('GET', '/api/v1/functions', { key: wrong });
    assert.equal(res.status, 401);
  });

  test('a revoked key is 401', async () => {
    const tenant = await newTenant(ts);
    const created = await ts.call('POST', '/api/v1/keys', {
      key: tenant.adminKey,
      body: { name: 'ci', scopes: ['deploy'] },
    });
    await ts.call('DELETE', `/api/v1/keys/${created.body.id}`, { key: tenant.adminKey });
    const res = await ts.call('GET', '/api/v1/functions', { key: created.body.key });
    assert.equal(res.status, 401);
  });

  test("another tenant's function is 404 FUNCTION_NOT_FOUND on every route", async () => {
    const owner = await newTenant(ts);
    const stranger = await newTenant(ts);
    const rufid = await newFunction(ts, owner.adminKey);
    const calls: [string, string, unknown][] = [
      ['GET', `/api/v1/functions/${rufid}`, undefined],
      ['GET', `/api/v1/functions/${rufid}/versions`, undefined],
      ['POST', `/api/v1/functions/${rufid}/versions`, pythonPackage('x')],
      ['PUT', `/api/v1/functions/${rufid}/branches/main`, { version: 1 }],
      ['DELETE', `/api/v1/functions/${rufid}/branches/dev`, undefined],
      ['POST', `/api/v1/functions/${rufid}/resolve`, undefined],
      ['POST', `/api/v1/functions/${rufid}/execute`, { input: {} }],
    ];
    for (const [method, path, body] of calls) {
      const res = await ts.call(method, path, { key: stranger.adminKey, body });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.body.error.code, 'FUNCTION_NOT_FOUND', `${method} ${path}`);
    }
  });

  test("a tenant's function list does not show another tenant's functions", async () => {
    const owner = await newTenant(ts);
    const stranger = await newTenant(ts);
    await newFunction(ts, owner.adminKey);
    const res = await ts.call('GET', '/api/v1/functions', { key: stranger.adminKey });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.functions, []);
  });

  test('an invoke-only key cannot deploy (403 FORBIDDEN)', async () => {
    const tenant = await newTenant(ts);
    const invoke = await newKey(ts, tenant.adminKey, ['invoke']);
    const res = await ts.call('POST', '/api/v1/functions', {
      key: invoke,
      body: { name: unique('f'), ...pythonPackage() },
    });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'FORBIDDEN');
  });

  test('a deploy-only key cannot execute', async () => {
    const tenant = await newTenant(ts);
    const rufid = await newFunction(ts, tenant.adminKey);
    const deployKey = await newKey(ts, tenant.adminKey, ['deploy']);
    const res = await ts.call('POST', `/api/v1/functions/${rufid}/execute`, {
      key: deployKey,
      body: { input: 1 },
    });
    assert.equal(res.status, 403);
  });

  test('a tenant admin cannot create tenants (operator only)', async () => {
    const tenant = await newTenant(ts);
    const res = await ts.call('POST', '/api/v1/tenants', {
      key: tenant.adminKey,
      body: { name: unique('x') },
    });
    assert.equal(res.status, 403);
  });

  test('a tenant admin cannot mint an operator key', async () => {
    const tenant = await newTenant(ts);
    const res = await ts.call('POST', '/api/v1/keys', {
      key: tenant.adminKey,
      body: { name: 'op', scopes: ['operator'] },
    });
    assert.equal(res.status, 403);
  });

  test('a deploy key cannot manage keys', async () => {
    const tenant = await newTenant(ts);
    const deployKey = await newKey(ts, tenant.adminKey, ['deploy']);
    const res = await ts.call('GET', '/api/v1/keys', { key: deployKey });
    assert.equal(res.status, 403);
  });

  test("an admin cannot revoke another tenant's key (404)", async () => {
    const a = await newTenant(ts);
    const b = await newTenant(ts);
    const created = await ts.call('POST', '/api/v1/keys', {
      key: a.adminKey,
      body: { name: 'k', scopes: ['invoke'] },
    });
    const res = await ts.call('DELETE', `/api/v1/keys/${created.body.id}`, { key: b.adminKey });
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'KEY_NOT_FOUND');
  });

  test('key listings never include secrets or hashes', async () => {
    const tenant = await newTenant(ts);
    await newKey(ts, tenant.adminKey, ['invoke']);
    const res = await ts.call('GET', '/api/v1/keys', { key: tenant.adminKey });
    assert.equal(res.status, 200);
    assert.equal(res.body.keys.length, 2);
    assert.doesNotMatch(res.text, /secretHash|rk_key_[0-9a-f]{16}_/);
  });

  test('creating a tenant with a taken name is 409 CONFLICT', async () => {
    const name = unique('dup');
    assert.equal((await ts.call('POST', '/api/v1/tenants', { body: { name } })).status, 201);
    const res = await ts.call('POST', '/api/v1/tenants', { body: { name } });
    assert.equal(res.status, 409);
  });
});
