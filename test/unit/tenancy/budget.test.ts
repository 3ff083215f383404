import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ExecutionRecord, Tenant } from '../../../src/domain/index.ts';
import { createStore } from '../../../src/store/index.ts';
import { BudgetGuard, spendPeriod } from '../../../src/tenancy/budget.ts';

const NOW = new Date('2026-11-27T18:00:00.000Z');

function tenantWithBudget(id: string, monthlyBudget: number | null): Tenant {
  return {
    id,
    name: id,
    createdAt: NOW.toISOString(),
    limits: {
      maxTimeoutSeconds: 60,
      maxMemoryMb: 512,
      maxCpus: 1,
      maxConcurrency: 4,
      maxQueued: 100,
      maxPriority: 9,
      monthlyBudget,
    },
  };
}

function finished(tenantId: string, cost: number): ExecutionRecord {
  return { tenantId, cost } as ExecutionRecord;
}

async function setup() {
  const store = await createStore('sqlite::memory:');
  const guard = new BudgetGuard(store, { now: () => NOW, flushMs: 10_000 });
  return { store, guard };
}

test('a tenant under its budget passes; at or over it gets 429 BUDGET_EXCEEDED until next month', async () => {
  const { store, guard } = await setup();
  const tenant = tenantWithBudget('t1', 1);
  await guard.check(tenant);
  guard.executionFinished(finished('t1', 0.6));
  await guard.check(tenant);
  guard.executionFinished(finished('t1', 0.4));
  await assert.rejects(
    guard.check(tenant),
    (err: { code: string; status: number; retryAfterSeconds: number }) => {
      assert.equal(err.code, 'BUDGET_EXCEEDED');
      assert.equal(err.status, 429);
      // From 18:00 on Nov 27 to Dec 1 00:00 UTC.
      assert.equal(err.retryAfterSeconds, (3 * 24 + 6) * 3600);
      return true;
    },
  );
  await guard.close();
  await store.close();
});

test('spend is written to the store on flush and read back by another guard (another process)', async () => {
  const { store, guard } = await setup();
  guard.executionFinished(finished('t2', 0.25));
  guard.executionFinished(finished('t2', 0.25));
  await guard.flush();
  assert.equal(await store.getSpend('t2', spendPeriod(NOW)), 0.5);
  const other = new BudgetGuard(store, { now: () => NOW });
  assert.deepEqual(await other.spend('t2'), { period: '2026-11', spend: 0.5 });
  await assert.rejects(other.check(tenantWithBudget('t2', 0.5)), { code: 'BUDGET_EXCEEDED' });
  await guard.close();
  await store.close();
});

test('a tenant without a budget is never refused', async () => {
  const { store, guard } = await setup();
  guard.executionFinished(finished('t3', 1e9));
  await guard.check(tenantWithBudget('t3', null));
  await guard.close();
  await store.close();
});
