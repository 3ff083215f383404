/**
 * Relay as separate processes sharing Postgres (control plane) and a queue:
 * with Redis as the queue, two worker processes share the work an API
 * process receives; with Postgres as the queue, the async and sync paths
 * run end to end and the queue's tables live in the schema the URL names.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return -- response bodies are JSON the tests assert on by value */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { POSTGRES_URL } from '../../support/postgres.ts';
import {
  HANDLERS,
  deployNode,
  execute,
  newTenant,
  waitForStatus,
} from '../../e2e/async/harness.ts';
import { startCluster, type Cluster } from './cluster.ts';

describe('API and workers as separate processes', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  test('two workers on Redis share the executions one API receives', async () => {
    const c = (cluster = await startCluster(2, { env: { EXECUTION_CONCURRENCY: '2' } }));
    // The tenant may use both workers' slots at once (its default cap is one worker's).
    const t = await newTenant(c, { maxConcurrency: 8 });
    const fn = await deployNode(c, t.key, HANDLERS.sleep);
    const accepted = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        execute(c, fn, { key: t.key, input: { ms: 300, tag: i } }),
      ),
    );
    assert.ok(accepted.every((r) => r.status === 202));
    const done = await Promise.all(
      accepted.map((r) => waitForStatus(c, t.key, r.body.id, 'succeeded')),
    );
    const byWorker = new Map<string, number>();
    for (const r of done) {
      assert.equal(r.attempts.length, 1);
      const id = r.attempts[0].workerId as string;
      byWorker.set(id, (byWorker.get(id) ?? 0) + 1);
    }
    assert.deepEqual([...byWorker.keys()].sort(), c.workers.map((w) => w.name).sort());
    for (const [id, n] of byWorker) assert.ok(n >= 2, `worker ${id} ran only ${n}`);
    // A sync call through the same queue answers with its result.
    const sync = await execute(c, fn, { key: t.key, async: false, input: { ms: 0, tag: 'sync' } });
    assert.equal(sync.status, 200);
    assert.equal(sync.body.output.tag, 'sync');
  });

  test("a tenant's concurrency cap holds across worker processes", async () => {
    const c = (cluster = await startCluster(2, { env: { EXECUTION_CONCURRENCY: '2' } }));
    const t = await newTenant(c, { maxConcurrency: 1 });
    const fn = await deployNode(c, t.key, HANDLERS.sleep);
    const accepted = await Promise.all(
      Array.from({ length: 6 }, () => execute(c, fn, { key: t.key, input: { ms: 150 } })),
    );
    const done = await Promise.all(
      accepted.map((r) => waitForStatus(c, t.key, r.body.id, 'succeeded')),
    );
    // Each attempt runs inside its lease; with a cap of 1 no two of them overlap.
    const spans = done
      .map(
        (r) => [Date.parse(r.attempts[0].startedAt), Date.parse(r.attempts[0].finishedAt)] as const,
      )
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) {
      assert.ok(spans[i]![0] >= spans[i - 1]![1], `attempts ${i - 1} and ${i} overlap`);
    }
  });

  test('with Postgres as the queue, async and sync executions run end to end in the given schema', async () => {
    const c = (cluster = await startCluster(1, { queue: 'postgres' }));
    const t = await newTenant(c);
    const fn = await deployNode(c, t.key, HANDLERS.echo);
    const res = await execute(c, fn, { key: t.key, input: { n: 7 } });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('location'), `/api/v1/executions/${res.body.id}`);
    const done = await waitForStatus(c, t.key, res.body.id, 'succeeded');
    assert.deepEqual(done.output, { echo: { n: 7 } });
    assert.deepEqual(
      done.attempts.map((a: any) => [a.status, a.workerId]),
      [['succeeded', c.workers[0]!.name]],
    );
    const sync = await execute(c, fn, { key: t.key, async: false, input: { n: 8 } });
    assert.equal(sync.status, 200);
    assert.deepEqual(sync.body.output, { echo: { n: 8 } });

    // The queue's jobs and the store's records sit side by side in the test's schema.
    const schema = new URL(c.databaseUrl).searchParams.get('schema');
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const jobs = await client.query(`SELECT count(*)::int AS n FROM "${schema}".queue_jobs`);
      const records = await client.query(`SELECT count(*)::int AS n FROM "${schema}".executions`);
      assert.equal(jobs.rows[0].n, 2);
      assert.equal(records.rows[0].n, 2);
    } finally {
      await client.end();
    }
  });
});
