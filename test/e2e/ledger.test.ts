/** Version ledger and branch heads over HTTP: numbering, immutability, promote, roll back, delete. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';
import { deploy, newFunction, newTenant, pythonPackage, unique } from './fixtures.ts';

describe('version ledger and branch heads', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
  });
  after(async () => {
    await ts.close();
  });

  async function resolve(key: string, rufid: string, branch = 'main') {
    return ts.call('POST', `/api/v1/functions/${rufid}/resolve?branch=${branch}`, {
      key,
      headers: { 'X-Relay-Branch-Key': key },
    });
  }

  test('creating a function answers version 1 on main', async () => {
    const { adminKey } = await newTenant(ts);
    const res = await ts.call('POST', '/api/v1/functions', {
      key: adminKey,
      body: { name: unique('f'), ...pythonPackage() },
    });
    assert.equal(res.status, 201);
    assert.match(res.body.rufid, /^[0-9a-f]{12}$/);
    assert.equal(res.body.version, 1);
    assert.equal(res.body.branch, 'main');
  });

  test('versions are numbered 1, 2, 3 across branches and listed newest first', async () => {
    const { adminKey } = await newTenant(ts);
    const rufid = await newFunction(ts, adminKey);
    assert.equal(await deploy(ts, adminKey, rufid, 'dev', 'a'), 2);
    assert.equal(await deploy(ts, adminKey, rufid, 'main', 'b'), 3);
    assert.equal(await deploy(ts, adminKey, rufid, 'dev', 'c'), 4);
    const res = await ts.call('GET', `/api/v1/functions/${rufid}/versions`, { key: adminKey });
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.versions.map((v: { version: number; branch: string }) => [v.version, v.branch]),
      [
        [4, 'dev'],
        [3, 'main'],
        [2, 'dev'],
        [1, 'main'],
      ],
    );
  });

  test('a ledger entry records digest, manifest, files, size, deployer and message', async () => {
    const tenant = await newTenant(ts);
    const rufid = await newFunction(ts, tenant.adminKey);
    await deploy(ts, tenant.adminKey, rufid, 'dev', 'two');
    const keys = await ts.call('GET', '/api/v1/keys', { key: tenant.adminKey });
    const res = await ts.call('GET', `/api/v1/functions/${rufid}/versions/2`, {
      key: tenant.adminKey,
    });
    assert.equal(res.status, 200);
    const v = res.body;
    assert.equal(v.message, 'deploy two');
    assert.equal(v.branch, 'dev');
    assert.equal(v.deployedBy, keys.body.keys[0].id);
    assert.deepEqual(v.manifest, { runtime: 'python3.11', entrypoint: 'main.handler' });
    assert.equal(v.files.length, 1);
    assert.equal(v.files[0].path, 'main.py');
    assert.equal(v.size, v.files[0].size);
    assert.match(v.digest, /^[0-9a-f]{64}$/);
  });

  test('earlier ledger entries are unchanged by later deploys and head moves', async () => {
    const { adminKey } = await newTenant(ts);
    const rufid = await newFunction(ts, adminKey);
    const before = (
      await ts.call('GET', `/api/v1/functions/${rufid}/versions/1`, { key: adminKey })
    ).body;
    await deploy(ts, adminKey, rufid, 'main', 'b');
    await ts.call('PUT', `/api/v1/functions/${rufid}/branches/main`, {
      key: adminKey,
      body: { version: 1 },
    });
    await deploy(ts, adminKey, rufid, 'dev', 'c');
    const afterwards = (
      await ts.call('GET', `/api/v1/functions/${rufid}/versions/1`, { key: adminKey })
    ).body;
    assert.deepEqual(afterwards, before);
  });

  test('the same package deployed twice gets a new version with the same digest', async () => {
    const { adminKey } = await newTenant(ts);
    const rufid = await newFunction(ts, adminKey, 'same');
    await deploy(ts, adminKey, rufid, 'main', 'same');
    const list = (await ts.call('GET', `/api/v1/functions/${rufid}/versions`, { key: adminKey }))
      .body.versions;
    assert.equal(list.length, 2);
    assert.equal(list[0].digest, list[1].digest);
  });

  test('promote moves main to the dev head; roll back moves it to the old version', async () => {
    const { adminKey } = await newTenant(ts);
    const rufid = await newFunction(ts, adminKey);
    const dev = await deploy(ts, adminKey, rufid, 'dev', 'new');
    const promoted = await ts.call('PUT', `/api/v1/functions/${rufid}/branches/main`, {
      key: adminKey,
      body: { version: dev },
    });
    assert.equal(promoted.status, 200);
    assert.equal(promoted.body.version, dev);
    assert.equal(promoted.body.previousVersion, 1);
    assert.equal((await resolve(adminKey, rufid)).body.version, dev);

    const rolledBack = await ts.call('PUT', `/api/v1/functions/${rufid}/branches/main`, {
      key: adminKey,
      body: { version: 1 },
    });
    assert.equal(rolledBack.status, 200);
    assert.equal(rolledBack.body.previousVersion, dev);
    assert.equal((await resolve(adminKey, rufid)).body.version, 1);
  });

  test('resolve sees a head move immediately (cache invalidated), and other branches keep theirs', async () => {
    const { adminKey } = await newTenant(ts);
    const rufid = await newFunction(ts, adminKey);
    const v2 = await deploy(ts, adminKey, rufid, 'dev', 'two');
    // Warm the cache for both branches.
    assert.equal((await resolve(adminKey, rufid, 'main')).body.version, 1);
    assert.equal((await resolve(adminKey, rufid, 'dev')).body.version, v2);
    await ts.call('PUT', `/api/v1/functions/${rufid}/branches/dev`, {
      key: adminKey,
      body: { version: 1 },
    });
    assert.equal((await resolve(adminKey, rufid, 'dev')).body.version, 1);
    assert.equal((await resolve(adminKey, rufid, 'main')).body.version, 1);
    const v3 = await deploy(ts, adminKey, rufid, 'main', 'three');
    assert.equal((await resolve(adminKey, rufid, 'main')).body.version, v3);
  });

  test('a branch head can be created with PUT, pointing at any ledger version', async () => {
    const { adminKey } = await newTenant(ts);
    const rufid = await newFunction(ts, adminKey);
    const res = await ts.call('PUT', `/api/v1/functions/${rufid}/branches/canary`, {
      key: adminKey,
      body: { version: 1 },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.previousVersion, null);
    const fn = await ts.call('GET', `/api/v1/functions/${rufid}`, { key: adminKey });
    assert.deepEqual(
      fn.body.branches
        .map((b: { branch: string; version: number }) => [b.branch, b.version])
        .sort(),
      [
        ['canary', 1],
        ['main', 1],
      ],
    );
  });

  test('moving a head to a version not in the ledger is 404 VERSION_NOT_FOUND', async () => {
    const { adminKey } = await newTenant(ts);
    const rufid = await newFunction(ts, adminKey);
    const res = await ts.call('PUT', `/api/v1/functions/${rufid}/branches/main`, {
      key: adminKey,
      body: { version: 9 },
    });
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'VERSION_NOT_FOUND');
  });

  test('deleting a branch makes it 404 on resolve; main cannot be deleted (409)', async () => {
    const { adminKey } = await newTenant(ts);
    const rufid = await newFunction(ts, adminKey);
    await deploy(ts, adminKey, rufid, 'dev', 'two');
    assert.equal((await resolve(adminKey, rufid, 'dev')).status, 200);
    const del = await ts.call('DELETE', `/api/v1/functions/${rufid}/branches/dev`, {
      key: adminKey,
    });
    assert.equal(del.status, 204);
    const res = await resolve(adminKey, rufid, 'dev');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'BRANCH_NOT_FOUND');
    const main = await ts.call('DELETE', `/api/v1/functions/${rufid}/branches/main`, {
      key: adminKey,
    });
    assert.equal(main.status, 409);
    assert.equal(main.body.error.code, 'INVALID_STATE');
    const again = await ts.call('DELETE', `/api/v1/functions/${rufid}/branches/dev`, {
      key: adminKey,
    });
    assert.equal(again.status, 404);
  });

  test('a deleted branch reappears on the next deploy to it, with a new version', async () => {
    const { adminKey } = await newTenant(ts);
    const rufid = await newFunction(ts, adminKey);
    await deploy(ts, adminKey, rufid, 'dev', 'two');
    await ts.call('DELETE', `/api/v1/functions/${rufid}/branches/dev`, { key: adminKey });
    const v = await deploy(ts, adminKey, rufid, 'dev', 'three');
    assert.equal(v, 3);
    assert.equal((await resolve(adminKey, rufid, 'dev')).body.version, 3);
  });

  test('a second function with a taken name is 409', async () => {
    const { adminKey } = await newTenant(ts);
    const name = unique('f');
    assert.equal(
      (
        await ts.call('POST', '/api/v1/functions', {
          key: adminKey,
          body: { name, ...pythonPackage() },
        })
      ).status,
      201,
    );
    const res = await ts.call('POST', '/api/v1/functions', {
      key: adminKey,
      body: { name, ...pythonPackage() },
    });
    assert.equal(res.status, 409);
  });
});
