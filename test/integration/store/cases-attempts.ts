/** Conformance cases: the attempt history of executions ("every attempt is recorded"). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attempt, execution, iso, tenant, useStore, type MakeStore } from './fixtures.ts';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

export function attemptCases(makeStore: MakeStore): void {
  const ctx = useStore(makeStore);

  test('attempts read back exactly, by ascending attempt number', async () => {
    const { store } = ctx;
    const e = execution(await tenant(store), T0);
    await store.insertExecution(e);
    const second = attempt(2, T0 + 500, { workerId: 'wk_2' });
    const first = attempt(1, T0, {
      status: 'failed',
      error: { type: 'HandlerError', message: 'boom', stack: 'at handler (main.py:3)' },
      finishedAt: iso(T0 + 120),
      durationMs: 119.875,
    });
    await store.recordAttempt(e.id, second);
    await store.recordAttempt(e.id, first);
    assert.deepEqual(await store.listAttempts(e.id), [first, second]);
  });

  test('recording an attempt number again replaces that attempt', async () => {
    const { store } = ctx;
    const e = execution(await tenant(store), T0);
    await store.insertExecution(e);
    await store.recordAttempt(e.id, attempt(1, T0));
    const finished = attempt(1, T0, {
      status: 'timed_out',
      error: { type: 'Timeout', message: 'exceeded 5 s' },
      workerId: 'wk_9',
      finishedAt: iso(T0 + 5000),
      durationMs: 5000,
    });
    await store.recordAttempt(e.id, finished);
    assert.deepEqual(await store.listAttempts(e.id), [finished]);
  });

  test('attempts belong to their execution; one of an unknown execution is a no-op', async () => {
    const { store } = ctx;
    const tenantId = await tenant(store);
    const a = execution(tenantId, T0);
    const b = execution(tenantId, T0 + 1);
    await store.insertExecution(a);
    await store.insertExecution(b);
    await store.recordAttempt(a.id, attempt(1, T0));
    await store.recordAttempt('ex_missing', attempt(1, T0));
    assert.deepEqual(await store.listAttempts('ex_missing'), []);
    assert.deepEqual(await store.listAttempts(b.id), []);
    assert.equal((await store.listAttempts(a.id)).length, 1);
  });

  test('parallel attempts of one execution are all kept', async () => {
    const { store } = ctx;
    const e = execution(await tenant(store), T0);
    await store.insertExecution(e);
    await Promise.all(
      Array.from({ length: 6 }, (_, i) => store.recordAttempt(e.id, attempt(i + 1, T0 + i))),
    );
    assert.deepEqual(
      (await store.listAttempts(e.id)).map((x) => x.attempt),
      [1, 2, 3, 4, 5, 6],
    );
  });
}
