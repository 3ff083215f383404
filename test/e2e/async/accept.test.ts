/**
 * Async execution over HTTP: the 202 answer and its Location, the record's
 * progress from queued through running to succeeded, the trace context it
 * keeps, and the tenant's listing with filters and cursor paging.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestServer } from '../../support/server.ts';
import {
  HANDLERS,
  deployNode,
  execute,
  getExecution,
  newTenant,
  startPlaneServer,
  waitForStatus,
} from './harness.ts';

describe('async execution over HTTP', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startPlaneServer();
  });
  after(async () => {
    await ts.close();
  });

  test('?async=true answers 202 {id, status: queued} with a Location the result is found at', async () => {
    const t = await newTenant(ts);
    const fn = await deployNode(ts, t.key, HANDLERS.echo);
    const res = await execute(ts, fn, { key: t.key, input: { n: 1 } });
    assert.equal(res.status, 202);
    assert.deepEqual(Object.keys(res.body).sort(), ['id', 'status']);
    assert.equal(res.body.status, 'queued');
    assert.match(res.body.id, /^ex_[0-9a-f]{32}$/);
    const location = res.headers.get('location');
    assert.equal(location, `/api/v1/executions/${res.body.id}`);
    const done = await waitForStatus(ts, t.key, res.body.id, 'succeeded');
    assert.deepEqual(done.output, { echo: { n: 1 } });
    assert.equal(done.async, true);
    assert.equal((await ts.call('GET', location, { key: t.key })).body.id, res.body.id);
  });

  test('Prefer: respond-async answers 202 like ?async=true; without either the call is sync', async () => {
    const t = await newTenant(ts);
    const fn = await deployNode(ts, t.key, HANDLERS.echo);
    const path = `/api/v1/functions/${fn}/execute`;
    const preferred = await ts.call('POST', path, {
      key: t.key,
      body: { input: 'p' },
      headers: { prefer: 'respond-async, wait=0' },
    });
    assert.equal(preferred.status, 202);
    assert.equal(preferred.body.status, 'queued');
    assert.equal(preferred.headers.get('location'), `/api/v1/executions/${preferred.body.id}`);
    const record = await waitForStatus(ts, t.key, preferred.body.id, 'succeeded');
    assert.equal(record.async, true);

    const sync = await ts.call('POST', path, { key: t.key, body: { input: 's' } });
    assert.equal(sync.status, 200);
    assert.equal(sync.body.status, 'succeeded');
    assert.equal(sync.body.async, false);
    assert.equal(sync.headers.get('location'), null);
  });

  test('GET /executions/{id} shows the execution queued, then running, then succeeded', async () => {
    // One execution at a time for this tenant: the second waits behind the first.
    const t = await newTenant(ts, { maxConcurrency: 1 });
    const fn = await deployNode(ts, t.key, HANDLERS.sleep);
    const ahead = await execute(ts, fn, { key: t.key, input: { ms: 600 } });
    await waitForStatus(ts, t.key, ahead.body.id, 'running');
    const res = await execute(ts, fn, { key: t.key, input: { ms: 400, tag: 'mine' } });
    const queued = await getExecution(ts, t.key, res.body.id);
    assert.equal(queued.status, 'queued');
    assert.equal(queued.startedAt, null);
    assert.equal(queued.attempt, 0);
    assert.deepEqual(queued.attempts, []);

    const running = await waitForStatus(ts, t.key, res.body.id, 'running');
    assert.equal(running.attempt, 1);
    assert.ok(running.startedAt);
    assert.equal(running.finishedAt, null);
    assert.equal(running.attempts.length, 1);
    assert.equal(running.attempts[0].status, 'running');

    const done = await waitForStatus(ts, t.key, res.body.id, 'succeeded');
    assert.equal(done.output.tag, 'mine');
    assert.ok(Date.parse(done.finishedAt) >= Date.parse(done.startedAt));
    assert.ok(done.timings.queueMs >= 0 && done.timings.totalMs > 0);
    assert.equal(done.attempts.length, 1);
    assert.equal(done.attempts[0].status, 'succeeded');
    assert.ok(done.attempts[0].durationMs >= 400);
    // The first one had already finished: the cap held.
    const first = await getExecution(ts, t.key, ahead.body.id);
    assert.ok(Date.parse(first.finishedAt) <= Date.parse(done.startedAt));
  });

  test("the caller's traceparent is kept with the execution; none means null", async () => {
    const t = await newTenant(ts);
    const fn = await deployNode(ts, t.key, HANDLERS.echo);
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const traced = await execute(ts, fn, { key: t.key, headers: { traceparent } });
    const plain = await execute(ts, fn, { key: t.key });
    assert.equal(
      (await waitForStatus(ts, t.key, traced.body.id, 'succeeded')).traceparent,
      traceparent,
    );
    assert.equal((await waitForStatus(ts, t.key, plain.body.id, 'succeeded')).traceparent, null);
  });

  test('GET /executions filters by status, rufid and branch and pages with nextCursor', async () => {
    const t = await newTenant(ts);
    const echo = await deployNode(ts, t.key, HANDLERS.echo);
    const fail = await deployNode(ts, t.key, HANDLERS.fail);
    const dev = await ts.call('POST', `/api/v1/functions/${echo}/versions?branch=dev`, {
      key: t.key,
      body: {
        manifest: { runtime: 'node24', entrypoint: 'index.handler' },
        files: { 'index.mjs': HANDLERS.echo },
      },
    });
    assert.equal(dev.status, 201);
    const branchKey = await ts.call('POST', '/api/v1/keys', {
      key: t.key,
      body: { name: 'dev-runner', scopes: ['branch'] },
    });
    assert.equal(branchKey.status, 201);

    // Sync calls finish before they answer, so the listing below is settled.
    const ids: Record<string, string[]> = { echo: [], fail: [], dev: [] };
    for (let i = 0; i < 4; i++) {
      const r = await execute(ts, echo, { key: t.key, async: false, input: i });
      assert.equal(r.status, 200);
      ids.echo!.push(r.body.id);
    }
    const failed = await execute(ts, fail, { key: t.key, async: false });
    assert.equal(failed.status, 502);
    ids.fail!.push(failed.body.id);
    const onDev = await execute(ts, echo, {
      key: t.key,
      async: false,
      headers: { 'x-relay-branch': 'dev', 'x-relay-branch-key': branchKey.body.key },
    });
    assert.equal(onDev.status, 200);
    ids.dev!.push(onDev.body.id);

    const list = async (query: string) => {
      const res = await ts.call('GET', `/api/v1/executions?${query}`, { key: t.key });
      assert.equal(res.status, 200, res.text);
      return res.body as {
        executions: { id: string; status: string }[];
        nextCursor: string | null;
      };
    };
    const newestFirst = (xs: string[]) => [...xs].reverse();
    const all = await list('');
    assert.deepEqual(
      all.executions.map((e) => e.id),
      newestFirst([...ids.echo!, ...ids.fail!, ...ids.dev!]),
    );
    assert.equal(all.nextCursor, null);
    assert.deepEqual(
      (await list('status=failed')).executions.map((e) => e.id),
      ids.fail,
    );
    assert.deepEqual(
      (await list(`rufid=${echo}`)).executions.map((e) => e.id),
      newestFirst([...ids.echo!, ...ids.dev!]),
    );
    assert.deepEqual(
      (await list('branch=dev')).executions.map((e) => e.id),
      ids.dev,
    );
    assert.deepEqual(
      (await list(`rufid=${echo}&branch=main&status=succeeded`)).executions.map((e) => e.id),
      newestFirst(ids.echo!),
    );
    assert.deepEqual((await list('status=queued')).executions, []);

    // Pages of 4 across 6 records: every id once, in order, then no cursor.
    const seen: string[] = [];
    let cursor: string | null = null;
    const pages: number[] = [];
    do {
      const page = await list(`limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.executions.map((e) => e.id));
      pages.push(page.executions.length);
      cursor = page.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(pages, [4, 2]);
    assert.deepEqual(
      seen,
      all.executions.map((e) => e.id),
    );

    // Another tenant sees none of them, and cannot read one by id.
    const other = await newTenant(ts);
    assert.deepEqual(
      (await ts.call('GET', '/api/v1/executions', { key: other.key })).body.executions,
      [],
    );
    assert.equal(
      (await ts.call('GET', `/api/v1/executions/${ids.echo![0]}`, { key: other.key })).status,
      404,
    );
  });
});
