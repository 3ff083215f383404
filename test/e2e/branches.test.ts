/** FN-102 end to end: the seed's two curl examples, branch keys, and branch 403/404 paths. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';
import { deploy, newFunction, newKey, newTenant } from './fixtures.ts';

describe('branch-aware resolve and execute (seed FN-102)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
  });
  after(async () => {
    await ts.close();
  });

  async function setup() {
    const tenant = await newTenant(ts);
    const rufid = await newFunction(ts, tenant.adminKey, 'main-1');
    const devVersion = await deploy(ts, tenant.adminKey, rufid, 'dev', 'dev-1');
    const branchKey = await newKey(ts, tenant.adminKey, ['branch']);
    const invokeKey = await newKey(ts, tenant.adminKey, ['invoke']);
    return { tenant, rufid, devVersion, branchKey, invokeKey };
  }

  test('resolve with ?branch=dev and X-Relay-Branch-Key answers the dev head', async () => {
    const { rufid, devVersion, branchKey, invokeKey } = await setup();
    const res = await ts.call('POST', `/api/v1/functions/${rufid}/resolve?branch=dev`, {
      key: invokeKey,
      headers: { 'X-Relay-Branch-Key': branchKey },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(
      {
        rufid: res.body.rufid,
        branch: res.body.branch,
        version: res.body.version,
        runtime: res.body.runtime,
      },
      { rufid, branch: 'dev', version: devVersion, runtime: 'python3.11' },
    );
    assert.match(res.body.digest, /^[0-9a-f]{64}$/);
  });

  test('resolve of a non-main branch without X-Relay-Branch-Key is 403 "Branch access denied"', async () => {
    const { rufid, invokeKey } = await setup();
    const res = await ts.call('POST', `/api/v1/functions/${rufid}/resolve?branch=dev`, {
      key: invokeKey,
    });
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, {
      error: { code: 'BRANCH_ACCESS_DENIED', message: 'Branch access denied' },
    });
  });

  test('X-Relay-Branch header selects the branch like ?branch= does', async () => {
    const { rufid, devVersion, branchKey, invokeKey } = await setup();
    const res = await ts.call('POST', `/api/v1/functions/${rufid}/resolve`, {
      key: invokeKey,
      headers: { 'X-Relay-Branch': 'dev', 'X-Relay-Branch-Key': branchKey },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.version, devVersion);
  });

  test('no branch means main and needs no branch key', async () => {
    const { rufid, invokeKey } = await setup();
    const res = await ts.call('POST', `/api/v1/functions/${rufid}/resolve`, { key: invokeKey });
    assert.equal(res.status, 200);
    assert.equal(res.body.branch, 'main');
    assert.equal(res.body.version, 1);
  });

  test('execute with the seed headers passes auth and branch checks, then answers 501', async () => {
    const { rufid, branchKey, invokeKey } = await setup();
    const res = await ts.call('POST', `/api/v1/functions/${rufid}/execute`, {
      key: invokeKey,
      headers: { 'X-Relay-Branch': 'dev', 'X-Relay-Branch-Key': branchKey },
      body: { input: { ping: 'pong' } },
    });
    assert.equal(res.status, 501);
    assert.equal(res.body.error.code, 'NOT_IMPLEMENTED');
    assert.match(res.body.error.message, /dev resolved to version 2/);
  });

  test('execute on dev without a branch key is 403 before anything runs', async () => {
    const { rufid, invokeKey } = await setup();
    const res = await ts.call('POST', `/api/v1/functions/${rufid}/execute`, {
      key: invokeKey,
      headers: { 'X-Relay-Branch': 'dev' },
      body: { input: { ping: 'pong' } },
    });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.message, 'Branch access denied');
  });

  test('a branch key of another tenant is denied', async () => {
    const { rufid, invokeKey } = await setup();
    const other = await newTenant(ts);
    const foreignBranchKey = await newKey(ts, other.adminKey, ['branch']);
    const res = await ts.call('POST', `/api/v1/functions/${rufid}/resolve?branch=dev`, {
      key: invokeKey,
      headers: { 'X-Relay-Branch-Key': foreignBranchKey },
    });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'BRANCH_ACCESS_DENIED');
  });

  test('a key without branch scope is not a branch key', async () => {
    const { rufid, invokeKey } = await setup();
    const res = await ts.call('POST', `/api/v1/functions/${rufid}/resolve?branch=dev`, {
      key: invokeKey,
      headers: { 'X-Relay-Branch-Key': invokeKey },
    });
    assert.equal(res.status, 403);
  });

  test('an admin key works as a branch key', async () => {
    const { tenant, rufid, invokeKey } = await setup();
    const res = await ts.call('POST', `/api/v1/functions/${rufid}/resolve?branch=dev`, {
      key: invokeKey,
      headers: { 'X-Relay-Branch-Key': tenant.adminKey },
    });
    assert.equal(res.status, 200);
  });

  test('a branch key limited to other branches is denied on dev', async () => {
    const { tenant, rufid, invokeKey } = await setup();
    const stagingOnly = await newKey(ts, tenant.adminKey, ['branch'], ['staging']);
    const res = await ts.call('POST', `/api/v1/functions/${rufid}/resolve?branch=dev`, {
      key: invokeKey,
      headers: { 'X-Relay-Branch-Key': stagingOnly },
    });
    assert.equal(res.status, 403);
  });

  test('a revoked branch key is denied', async () => {
    const { tenant, rufid, invokeKey } = await setup();
    const created = await ts.call('POST', '/api/v1/keys', {
      key: tenant.adminKey,
      body: { name: 'short-lived', scopes: ['branch'] },
    });
    const revoked = await ts.call('DELETE', `/api/v1/keys/${created.body.id}`, {
      key: tenant.adminKey,
    });
    assert.equal(revoked.status, 204);
    const res = await ts.call('POST', `/api/v1/functions/${rufid}/resolve?branch=dev`, {
      key: invokeKey,
      headers: { 'X-Relay-Branch-Key': created.body.key },
    });
    assert.equal(res.status, 403);
  });

  test('an unknown branch is 404 BRANCH_NOT_FOUND, never main', async () => {
    const { rufid, branchKey, invokeKey } = await setup();
    const res = await ts.call('POST', `/api/v1/functions/${rufid}/resolve?branch=nope`, {
      key: invokeKey,
      headers: { 'X-Relay-Branch-Key': branchKey },
    });
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'BRANCH_NOT_FOUND');
  });

  test('an unknown branch without a branch key is 403, so branch names do not leak', async () => {
    const { rufid, invokeKey } = await setup();
    const res = await ts.call('POST', `/api/v1/functions/${rufid}/resolve?branch=nope`, {
      key: invokeKey,
    });
    assert.equal(res.status, 403);
  });

  test('?branch= and X-Relay-Branch that disagree are a 400', async () => {
    const { rufid, branchKey, invokeKey } = await setup();
    const res = await ts.call('POST', `/api/v1/functions/${rufid}/resolve?branch=dev`, {
      key: invokeKey,
      headers: { 'X-Relay-Branch': 'main', 'X-Relay-Branch-Key': branchKey },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'VALIDATION_FAILED');
  });
});
