/**
 * Conformance cases: idempotency keys. A key names one execution of its
 * tenant for IDEMPOTENCY_WINDOW_MS; the store itself refuses a second one,
 * so API processes racing with one key cannot both create an execution.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  IDEMPOTENCY_KEY_TAKEN,
  IDEMPOTENCY_WINDOW_MS,
  isIdempotencyKeyTaken,
} from '../../../src/store/index.ts';
import { execution, iso, tenant, useStore, type MakeStore } from './fixtures.ts';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const DAY = IDEMPOTENCY_WINDOW_MS;

export function idempotencyCases(makeStore: MakeStore): void {
  const ctx = useStore(makeStore);

  test('the idempotency lookup honours since, the key and the tenant', async () => {
    const { store } = ctx;
    const tenantId = await tenant(store);
    const other = await tenant(store);
    const old = execution(tenantId, T0, { idempotencyKey: 'k1' });
    const recent = execution(tenantId, T0 + DAY + 60_000, { idempotencyKey: 'k1' });
    await store.insertExecution(old);
    await store.insertExecution(recent);
    await store.insertExecution(execution(tenantId, T0 + 1, { idempotencyKey: 'k2' }));
    const find = async (t: string, key: string, since: number) =>
      (await store.findExecutionByIdempotencyKey(t, key, iso(since)))?.id ?? null;
    assert.equal(await find(tenantId, 'k1', T0 - 1), recent.id);
    assert.equal(await find(tenantId, 'k1', T0 + DAY), recent.id);
    assert.equal(await find(tenantId, 'k1', T0 + DAY + 60_001), null);
    assert.equal(await find(other, 'k1', T0 - 1), null);
    assert.equal(await find(tenantId, 'k3', T0 - 1), null);
    assert.equal(await find(tenantId, 'k2', T0 + 2), null);
  });

  test('a key taken within 24 hours is a CONFLICT that says so, and nothing is written', async () => {
    const { store } = ctx;
    const tenantId = await tenant(store);
    const first = execution(tenantId, T0, { idempotencyKey: 'order-42' });
    await store.insertExecution(first);
    // Exactly one window later the first still holds the key (the window is inclusive).
    for (const at of [T0 + 1, T0 + DAY]) {
      const second = execution(tenantId, at, { idempotencyKey: 'order-42' });
      await assert.rejects(store.insertExecution(second), (err: Error) => {
        assert.ok(isIdempotencyKeyTaken(err));
        assert.equal((err as { code?: string }).code, 'CONFLICT');
        assert.ok(err.message.startsWith(`${IDEMPOTENCY_KEY_TAKEN}: "order-42"`), err.message);
        return true;
      });
      assert.equal(await store.getExecution(null, second.id), null);
    }
    assert.equal((await store.getExecution(tenantId, first.id))?.idempotencyKey, 'order-42');
  });

  test('the same key in another tenant, or no key at all, never conflicts', async () => {
    const { store } = ctx;
    const a = await tenant(store);
    const b = await tenant(store);
    await store.insertExecution(execution(a, T0, { idempotencyKey: 'k' }));
    await store.insertExecution(execution(b, T0 + 1, { idempotencyKey: 'k' }));
    await store.insertExecution(execution(a, T0 + 2));
    await store.insertExecution(execution(a, T0 + 3));
    assert.equal((await store.listExecutions({ tenantId: a, limit: 10 })).length, 3);
  });

  test('an execution older than 24 hours gives its key up to a new one', async () => {
    const { store } = ctx;
    const tenantId = await tenant(store);
    const old = execution(tenantId, T0, { idempotencyKey: 'k', status: 'succeeded' });
    const fresh = execution(tenantId, T0 + DAY + 1, { idempotencyKey: 'k' });
    await store.insertExecution(old);
    await store.insertExecution(fresh);
    assert.deepEqual(await store.getExecution(tenantId, fresh.id), fresh);
    assert.deepEqual(await store.getExecution(tenantId, old.id), { ...old, idempotencyKey: null });
    // The new holder is inside its own window: a third one conflicts with it.
    const third = execution(tenantId, T0 + DAY + 2, { idempotencyKey: 'k' });
    await assert.rejects(store.insertExecution(third), isIdempotencyKeyTaken);
  });

  test('of parallel inserts with one key exactly one wins, with or without an expired holder', async () => {
    const { store } = ctx;
    const tenantId = await tenant(store);
    for (const [key, start] of [
      ['fresh-key', T0],
      ['expired-key', T0 + 10],
    ] as const) {
      if (key === 'expired-key') {
        await store.insertExecution(execution(tenantId, start - DAY - 1, { idempotencyKey: key }));
      }
      const racers = Array.from({ length: 10 }, (_, i) =>
        execution(tenantId, start + i, { idempotencyKey: key }),
      );
      const results = await Promise.allSettled(racers.map((e) => store.insertExecution(e)));
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      assert.equal(won.length, 1, key);
      for (const r of lost) assert.ok(isIdempotencyKeyTaken(r.reason), String(r.reason));
      const holder = await store.findExecutionByIdempotencyKey(tenantId, key, iso(start - 1));
      assert.equal(holder?.id, racers[results.indexOf(won[0]!)]!.id);
    }
  });
}
