/** Conformance cases: executions, logs and the retention sweep. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isIdempotencyKeyTaken } from '../../../src/store/index.ts';
import { attempt, execution, hasCode, iso, tenant, useStore, type MakeStore } from './fixtures.ts';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

export function executionCases(makeStore: MakeStore): void {
  const ctx = useStore(makeStore);

  test('an execution reads back exactly as inserted; a duplicate id is a CONFLICT', async () => {
    const { store } = ctx;
    const tenantId = await tenant(store);
    const e = execution(tenantId, T0, {
      input: 'just a string',
      idempotencyKey: 'idem-1',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      async: false,
      priority: 9,
    });
    await store.insertExecution(e);
    assert.deepEqual(await store.getExecution(tenantId, e.id), e);
    // Its key matches too, but the id is what is taken.
    await assert.rejects(
      store.insertExecution(e),
      (err) => hasCode('CONFLICT')(err) && !isIdempotencyKeyTaken(err),
    );
  });

  test('updateExecution changes only the patched fields', async () => {
    const { store } = ctx;
    const tenantId = await tenant(store);
    const e = execution(tenantId, T0);
    await store.insertExecution(e);
    await store.updateExecution(e.id, { status: 'running', startedAt: iso(T0 + 5), attempt: 1 });
    const patch = {
      status: 'failed' as const,
      output: null,
      error: { type: 'HandlerError', message: 'boom', stack: 'at handler' },
      timings: { queueMs: 5, runMs: 12, totalMs: 20 },
      usage: { cpuMs: 3, peakMemoryBytes: 1024, coldStart: true },
      cost: 0.25,
      finishedAt: iso(T0 + 25),
      version: 2,
    };
    await store.updateExecution(e.id, patch);
    assert.deepEqual(await store.getExecution(tenantId, e.id), {
      ...e,
      ...patch,
      startedAt: iso(T0 + 5),
      attempt: 1,
    });
    await store.updateExecution(e.id, {});
    await store.updateExecution('ex_missing', { status: 'running' });
    await store.updateExecution(e.id, { output: { result: [1, 'two', { three: 3 }] } });
    assert.deepEqual((await store.getExecution(null, e.id))?.output, {
      result: [1, 'two', { three: 3 }],
    });
  });

  test("another tenant's execution is not there; a trusted null tenant sees it", async () => {
    const { store } = ctx;
    const owner = await tenant(store);
    const other = await tenant(store);
    const e = execution(owner, T0);
    await store.insertExecution(e);
    assert.equal(await store.getExecution(other, e.id), null);
    assert.deepEqual(await store.getExecution(null, e.id), e);
    assert.deepEqual(await store.listExecutions({ tenantId: other, limit: 10 }), []);
    assert.equal(await store.getExecution(owner, 'ex_missing'), null);
  });

  test('listExecutions is newest first and filters by status, rufid and branch', async () => {
    const { store } = ctx;
    const tenantId = await tenant(store);
    const rows = [
      execution(tenantId, T0 + 1, { status: 'succeeded', rufid: 'aaaaaaaaaaaa' }),
      execution(tenantId, T0 + 2, { status: 'failed', rufid: 'aaaaaaaaaaaa', branch: 'dev' }),
      execution(tenantId, T0 + 3, { status: 'succeeded', rufid: 'bbbbbbbbbbbb', branch: 'dev' }),
      execution(tenantId, T0 + 4, { status: 'queued', rufid: 'aaaaaaaaaaaa' }),
    ];
    for (const r of rows) await store.insertExecution(r);
    const ids = (xs: { id: string }[]) => xs.map((x) => x.id);
    const [r1, r2, r3, r4] = rows.map((r) => r.id);
    assert.deepEqual(ids(await store.listExecutions({ tenantId, limit: 10 })), [r4, r3, r2, r1]);
    assert.deepEqual(
      ids(await store.listExecutions({ tenantId, status: 'succeeded', limit: 10 })),
      [r3, r1],
    );
    assert.deepEqual(
      ids(await store.listExecutions({ tenantId, rufid: 'aaaaaaaaaaaa', limit: 10 })),
      [r4, r2, r1],
    );
    assert.deepEqual(ids(await store.listExecutions({ tenantId, branch: 'dev', limit: 10 })), [
      r3,
      r2,
    ]);
    assert.deepEqual(
      ids(
        await store.listExecutions({
          tenantId,
          status: 'succeeded',
          rufid: 'aaaaaaaaaaaa',
          branch: 'main',
          limit: 10,
        }),
      ),
      [r1],
    );
  });

  test('cursor paging visits every execution once, newest first', async () => {
    const { store } = ctx;
    const tenantId = await tenant(store);
    const other = await tenant(store);
    const all = Array.from({ length: 7 }, (_, i) => execution(tenantId, T0 + i * 10));
    for (const e of all) await store.insertExecution(e);
    await store.insertExecution(execution(other, T0 + 15));
    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await store.listExecutions({ tenantId, cursor, limit: 3 });
      assert.ok(page.length <= 3);
      seen.push(...page.map((e) => e.id));
      if (page.length < 3) break;
      cursor = page.at(-1)!.id;
    }
    assert.deepEqual(seen, all.map((e) => e.id).reverse());
    const filtered = await store.listExecutions({
      tenantId,
      status: 'queued',
      cursor: all[3]!.id,
      limit: 10,
    });
    assert.deepEqual(
      filtered.map((e) => e.id),
      [all[2]!.id, all[1]!.id, all[0]!.id],
    );
  });

  test('appendLogs numbers lines consecutively across calls; getLogs reads after a seq', async () => {
    const { store } = ctx;
    const e = execution(await tenant(store), T0);
    await store.insertExecution(e);
    await store.appendLogs(e.id, [
      { stream: 'stdout', time: iso(T0 + 1), line: 'one' },
      { stream: 'stderr', time: iso(T0 + 2), line: 'two' },
    ]);
    await store.appendLogs(e.id, []);
    await store.appendLogs(e.id, [{ stream: 'system', time: iso(T0 + 3), line: 'three' }]);
    assert.deepEqual(await store.getLogs(e.id), [
      { seq: 1, stream: 'stdout', time: iso(T0 + 1), line: 'one' },
      { seq: 2, stream: 'stderr', time: iso(T0 + 2), line: 'two' },
      { seq: 3, stream: 'system', time: iso(T0 + 3), line: 'three' },
    ]);
    assert.deepEqual(
      (await store.getLogs(e.id, 1)).map((l) => l.seq),
      [2, 3],
    );
    assert.deepEqual(await store.getLogs(e.id, 3), []);
    assert.deepEqual(await store.getLogs('ex_missing'), []);
  });

  test('parallel appendLogs never reuse a seq', async () => {
    const { store } = ctx;
    const e = execution(await tenant(store), T0);
    await store.insertExecution(e);
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        store.appendLogs(e.id, [
          { stream: 'stdout', time: iso(T0), line: `${i}a` },
          { stream: 'stdout', time: iso(T0), line: `${i}b` },
        ]),
      ),
    );
    const logs = await store.getLogs(e.id);
    assert.deepEqual(
      logs.map((l) => l.seq),
      Array.from({ length: 16 }, (_, i) => i + 1),
    );
    // Each call's lines stay together and in order.
    for (let i = 0; i < 16; i += 2) {
      assert.equal(logs[i]!.line.replace('a', 'b'), logs[i + 1]!.line);
    }
  });

  test('the retention sweep deletes only finished executions older than the cut, with their logs and attempts', async () => {
    const { store } = ctx;
    const tenantId = await tenant(store);
    const cut = iso(T0 + 1000);
    const oldDone = execution(tenantId, T0, { status: 'succeeded', finishedAt: iso(T0 + 10) });
    const oldRunning = execution(tenantId, T0 + 1, { status: 'running', startedAt: iso(T0 + 2) });
    const newDone = execution(tenantId, T0 + 2, { status: 'failed', finishedAt: iso(T0 + 2000) });
    for (const e of [oldDone, oldRunning, newDone]) {
      await store.insertExecution(e);
      await store.appendLogs(e.id, [{ stream: 'stdout', time: iso(T0), line: 'x' }]);
      await store.recordAttempt(e.id, attempt(1, T0));
    }
    assert.equal(await store.deleteExecutionsBefore(cut), 1);
    assert.equal(await store.getExecution(null, oldDone.id), null);
    assert.deepEqual(await store.getLogs(oldDone.id), []);
    assert.deepEqual(await store.listAttempts(oldDone.id), []);
    assert.ok(await store.getExecution(null, oldRunning.id));
    assert.equal((await store.getLogs(oldRunning.id)).length, 1);
    assert.equal((await store.listAttempts(oldRunning.id)).length, 1);
    assert.ok(await store.getExecution(null, newDone.id));
    assert.equal(await store.deleteExecutionsBefore(cut), 0);
  });
}
