/**
 * The one conformance suite of the ControlStore port. Every adapter runs it
 * (sqlite.test.ts, postgres.test.ts), so "works on SQLite" and "works on
 * Postgres" mean the same thing. Each test gets a fresh store.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { attemptCases } from './cases-attempts.ts';
import { executionCases } from './cases-executions.ts';
import { idempotencyCases } from './cases-idempotency.ts';
import { ledgerCases } from './cases-ledger.ts';
import { spendCases } from './cases-spend.ts';
import { tenancyCases } from './cases-tenancy.ts';
import { valueCases } from './cases-values.ts';
import { deployed, draft, execution, tenant, useStore, type MakeStore } from './fixtures.ts';

export type { MakeStore, StoreHandle } from './fixtures.ts';

/** Register the whole suite under `name`, with a fresh store from `makeStore` for every test. */
export function runStoreConformance(name: string, makeStore: MakeStore): void {
  describe(`${name} store conformance`, () => {
    describe('tenants, keys, blobs, secrets', () => tenancyCases(makeStore));
    describe('functions, ledger, branches', () => ledgerCases(makeStore));
    describe('executions and logs', () => executionCases(makeStore));
    describe('idempotency keys', () => idempotencyCases(makeStore));
    describe('attempts', () => attemptCases(makeStore));
    describe('values round-trip', () => valueCases(makeStore));
    describe('spend', () => spendCases(makeStore));
    describe('durability', () => durabilityCases(makeStore));
  });
}

function durabilityCases(makeStore: MakeStore): void {
  const ctx = useStore(makeStore);

  test('data survives closing and reopening the store', async (t) => {
    const { handle } = ctx;
    if (handle.reopen === undefined) {
      t.skip('this adapter keeps no data across a reopen (in-memory)');
      return;
    }
    const store = handle.store;
    const tenantId = await tenant(store);
    const rufid = await deployed(store, tenantId);
    await store.appendVersion(rufid, draft({ branch: 'dev' }));
    await store.putBlob('blob1', Buffer.from('bytes'));
    const e = execution(tenantId, Date.now());
    await store.insertExecution(e);
    await store.appendLogs(e.id, [{ stream: 'stdout', time: e.createdAt, line: 'hello' }]);
    const before = {
      tenant: await store.getTenant(tenantId),
      versions: await store.listVersions(rufid),
      heads: await store.listBranchHeads(rufid),
    };

    const reopened = await handle.reopen();
    assert.deepEqual(await reopened.getTenant(tenantId), before.tenant);
    assert.deepEqual(await reopened.listVersions(rufid), before.versions);
    assert.deepEqual(await reopened.listBranchHeads(rufid), before.heads);
    assert.deepEqual(await reopened.getBlob('blob1'), Buffer.from('bytes'));
    assert.deepEqual(await reopened.getExecution(tenantId, e.id), e);
    assert.deepEqual(
      (await reopened.getLogs(e.id)).map((l) => l.line),
      ['hello'],
    );
    // The counters continue where they were.
    assert.equal((await reopened.appendVersion(rufid, draft())).version, 3);
  });
}
