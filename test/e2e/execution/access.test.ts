/**
 * Who may run what: the seed's FN-102 curl example, run with curl against
 * a dev branch, the 403 without a branch key, and tenant isolation of
 * functions and their executions (another tenant gets 404, never a hint).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { TestServer } from '../../support/server.ts';
import {
  deploy,
  deployVersion,
  examplePackage,
  execute,
  newTenant,
  startExecutionServer,
} from './support.ts';

const run = promisify(execFile);

describe('execute: branch keys and tenants', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startExecutionServer();
  });
  after(async () => {
    await ts?.close();
  });

  /** A tenant whose python-echo has v1 on main and v2 on dev, plus a dev branch key. */
  async function devSetup() {
    const tenant = await newTenant(ts);
    const pkg = await examplePackage('python-echo');
    const rufid = await deploy(ts, tenant.key, pkg);
    const dev = await deployVersion(
      ts,
      tenant.key,
      rufid,
      { ...pkg, files: { ...pkg.files, 'NOTES.txt': 'the dev build' } },
      'dev',
    );
    const branchKey = await ts.call('POST', '/api/v1/keys', {
      key: tenant.key,
      body: { name: 'dev testers', scopes: ['branch'], branches: ['dev'] },
    });
    const invokeKey = await ts.call('POST', '/api/v1/keys', {
      key: tenant.key,
      body: { name: 'caller', scopes: ['invoke'] },
    });
    return {
      rufid,
      dev,
      branchKey: String(branchKey.body.key),
      invokeKey: String(invokeKey.body.key),
    };
  }

  test("the seed's curl example runs the dev branch's version", async () => {
    const { rufid, dev, branchKey, invokeKey } = await devSetup();
    // The seed's command, with this server for the host and its own branch key,
    // plus the Authorization header every call carries.
    const { stdout } = await run('curl', [
      '-s',
      '-w',
      '\n%{http_code}',
      '-X',
      'POST',
      `${ts.url}/api/v1/functions/${rufid}/execute`,
      '-H',
      'Content-Type: application/json',
      '-H',
      'X-Relay-Branch: dev',
      '-H',
      `X-Relay-Branch-Key: ${branchKey}`,
      '-d',
      '{"input": {"ping": "pong"}}',
      '-H',
      `Authorization: Bearer ${invokeKey}`,
    ]);
    const [body, code] = stdout.split('\n');
    assert.equal(code, '200');
    const record = JSON.parse(body!);
    assert.deepEqual([record.status, record.branch, record.version], ['succeeded', 'dev', dev]);
    assert.deepEqual(record.output.echo, { ping: 'pong' });
    assert.deepEqual([record.output.branch, record.output.version], ['dev', String(dev)]);
  });

  test('the same call without X-Relay-Branch-Key is 403 "Branch access denied" and runs nothing', async () => {
    const { rufid, invokeKey } = await devSetup();
    const res = await execute(ts, invokeKey, rufid, { ping: 'pong' }, { 'X-Relay-Branch': 'dev' });
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, {
      error: { code: 'BRANCH_ACCESS_DENIED', message: 'Branch access denied' },
    });
    const list = await ts.call('GET', `/api/v1/executions?rufid=${rufid}`, { key: invokeKey });
    assert.deepEqual(list.body.executions, []);
  });

  test('another tenant can neither run a function nor read its executions (404)', async () => {
    const a = await newTenant(ts);
    const b = await newTenant(ts);
    const rufid = await deploy(ts, a.key, await examplePackage('python-echo'));
    const mine = await execute(ts, a.key, rufid, { who: 'a' });
    assert.equal(mine.status, 200, mine.text);
    const id = String(mine.body.id);

    const theirs = await execute(ts, b.key, rufid, { who: 'b' });
    assert.equal(theirs.status, 404);
    assert.equal(theirs.body.error.code, 'FUNCTION_NOT_FOUND');
    for (const [method, path] of [
      ['GET', `/api/v1/executions/${id}`],
      ['GET', `/api/v1/executions/${id}/logs`],
      ['GET', `/api/v1/executions/${id}/logs?follow=true`],
      ['POST', `/api/v1/executions/${id}/cancel`],
    ] as const) {
      const res = await ts.call(method, path, { key: b.key });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.body.error.code, 'EXECUTION_NOT_FOUND');
    }
    const listed = await ts.call('GET', '/api/v1/executions', { key: b.key });
    assert.deepEqual(listed.body.executions, []);
    const still = await ts.call('GET', `/api/v1/executions/${id}`, { key: a.key });
    assert.deepEqual([still.status, still.body.output.echo], [200, { who: 'a' }]);
  });
});
