/**
 * Idempotency-Key on execute: the same key from the same tenant answers
 * with the same execution instead of running again, sync or async, also
 * when the two requests race; another key, or another tenant, runs anew.
 */
/* eslint-disable @typescript-eslint/no-unsafe-return -- response bodies are JSON the tests assert on by value */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestServer } from '../../support/server.ts';
import {
  HANDLERS,
  deployNode,
  execute,
  newTenant,
  startPlaneServer,
  unique,
  waitForStatus,
} from './harness.ts';

describe('Idempotency-Key', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startPlaneServer();
  });
  after(async () => {
    await ts.close();
  });

  const executionIds = async (key: string): Promise<string[]> => {
    const res = await ts.call('GET', '/api/v1/executions', { key });
    return res.body.executions.map((e: { id: string }) => e.id);
  };

  test('async: the same key twice returns the same execution, and the function runs once', async () => {
    const t = await newTenant(ts);
    const fn = await deployNode(ts, t.key, HANDLERS.echo);
    const headers = { 'idempotency-key': unique('order') };
    const first = await execute(ts, fn, { key: t.key, input: 1, headers });
    assert.equal(first.status, 202);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    await waitForStatus(ts, t.key, first.body.id, 'succeeded');
    const second = await execute(ts, fn, { key: t.key, input: 1, headers });
    assert.equal(second.status, 202);
    assert.equal(second.body.id, first.body.id);
    assert.equal(second.body.status, 'succeeded');
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(await executionIds(t.key), [first.body.id]);
    const record = await waitForStatus(ts, t.key, first.body.id, 'succeeded');
    assert.equal(record.attempts.length, 1);
  });

  test('sync: the same key twice answers with the same execution and result, run once', async () => {
    const t = await newTenant(ts);
    const fn = await deployNode(ts, t.key, HANDLERS.sleep);
    const headers = { 'idempotency-key': unique('pay') };
    const first = await execute(ts, fn, {
      key: t.key,
      async: false,
      input: { ms: 10, tag: 'a' },
      headers,
    });
    assert.equal(first.status, 200);
    const second = await execute(ts, fn, {
      key: t.key,
      async: false,
      input: { ms: 10, tag: 'a' },
      headers,
    });
    assert.equal(second.status, 200);
    assert.equal(second.body.id, first.body.id);
    assert.deepEqual(second.body.output, first.body.output);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(await executionIds(t.key), [first.body.id]);
  });

  test('racing requests with one key share one execution; the late sync caller waits for its result', async () => {
    const t = await newTenant(ts);
    const fn = await deployNode(ts, t.key, HANDLERS.sleep);
    const headers = { 'idempotency-key': unique('race') };
    const calls = await Promise.all(
      [0, 1, 2, 3].map(() =>
        execute(ts, fn, { key: t.key, async: false, input: { ms: 300 }, headers }),
      ),
    );
    for (const c of calls) {
      assert.equal(c.status, 200);
      assert.equal(c.body.status, 'succeeded');
    }
    assert.equal(new Set(calls.map((c) => c.body.id)).size, 1);
    assert.equal(calls.filter((c) => c.headers.get('idempotent-replayed') === 'true').length, 3);
    assert.deepEqual(await executionIds(t.key), [calls[0]!.body.id]);
  });

  test('another key, or the same key from another tenant, runs a new execution', async () => {
    const a = await newTenant(ts);
    const b = await newTenant(ts);
    const fnA = await deployNode(ts, a.key, HANDLERS.echo);
    const fnB = await deployNode(ts, b.key, HANDLERS.echo);
    const key = unique('shared');
    const one = await execute(ts, fnA, {
      key: a.key,
      async: false,
      headers: { 'idempotency-key': key },
    });
    const two = await execute(ts, fnA, {
      key: a.key,
      async: false,
      headers: { 'idempotency-key': `${key}-2` },
    });
    const three = await execute(ts, fnB, {
      key: b.key,
      async: false,
      headers: { 'idempotency-key': key },
    });
    assert.equal(new Set([one.body.id, two.body.id, three.body.id]).size, 3);
    assert.equal(three.headers.get('idempotent-replayed'), null);
    assert.equal((await executionIds(a.key)).length, 2);
    assert.equal((await executionIds(b.key)).length, 1);
  });

  test('an empty or oversized key is a 400', async () => {
    const t = await newTenant(ts);
    const fn = await deployNode(ts, t.key, HANDLERS.echo);
    for (const bad of ['', 'k'.repeat(256)]) {
      const res = await execute(ts, fn, { key: t.key, headers: { 'idempotency-key': bad } });
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'VALIDATION_FAILED');
    }
    assert.deepEqual(await executionIds(t.key), []);
  });
});
