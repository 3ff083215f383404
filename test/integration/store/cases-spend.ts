/** Conformance cases: tenant spend per month (budget guardrails). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tenant, useStore, type MakeStore } from './fixtures.ts';

export function spendCases(makeStore: MakeStore): void {
  const ctx = useStore(makeStore);

  test('spend starts at 0 and adds up per tenant and month', async () => {
    const { store } = ctx;
    const a = await tenant(store);
    const b = await tenant(store);
    assert.equal(await store.getSpend(a, '2026-11'), 0);
    await store.addSpend(a, '2026-11', 0.25);
    await store.addSpend(a, '2026-11', 0.5);
    await store.addSpend(a, '2026-12', 2);
    await store.addSpend(b, '2026-11', 1);
    assert.equal(await store.getSpend(a, '2026-11'), 0.75);
    assert.equal(await store.getSpend(a, '2026-12'), 2);
    assert.equal(await store.getSpend(b, '2026-11'), 1);
  });

  test('concurrent additions are all counted', async () => {
    const { store } = ctx;
    const a = await tenant(store);
    await Promise.all(Array.from({ length: 20 }, () => store.addSpend(a, '2026-11', 0.125)));
    assert.equal(await store.getSpend(a, '2026-11'), 2.5);
  });
}
