/** Conformance cases: functions, the version ledger and branch heads. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newRufid } from '../../../src/domain/index.ts';
import { deployed, draft, hasCode, tenant, uid, useStore, type MakeStore } from './fixtures.ts';

export function ledgerCases(makeStore: MakeStore): void {
  const ctx = useStore(makeStore);

  test('createFunction writes version 1 and the main head', async () => {
    const { store } = ctx;
    const tenantId = await tenant(store);
    const rufid = newRufid();
    const first = draft({ message: 'first' });
    const { function: fn, version } = await store.createFunction(
      { rufid, tenantId, name: 'hello' },
      first,
    );
    assert.deepEqual(fn, { rufid, tenantId, name: 'hello', createdAt: fn.createdAt });
    assert.equal(version.version, 1);
    assert.equal(version.digest, first.digest);
    assert.deepEqual(await store.getVersion(rufid, 1), version);
    assert.deepEqual(await store.getFunction(tenantId, rufid), fn);
    assert.deepEqual(await store.getFunctionById(rufid), fn);
    const heads = await store.listBranchHeads(rufid);
    assert.deepEqual(
      heads.map((h) => [h.branch, h.version]),
      [['main', 1]],
    );
  });

  test('a first deploy to another branch creates that head and main', async () => {
    const { store } = ctx;
    const tenantId = await tenant(store);
    const rufid = newRufid();
    await store.createFunction({ rufid, tenantId, name: 'f' }, draft({ branch: 'dev' }));
    assert.deepEqual(
      (await store.listBranchHeads(rufid)).map((h) => [h.branch, h.version]),
      [
        ['dev', 1],
        ['main', 1],
      ],
    );
  });

  test('appendVersion numbers 2, 3 and moves only the named branch', async () => {
    const { store } = ctx;
    const rufid = await deployed(store, await tenant(store));
    assert.equal((await store.appendVersion(rufid, draft())).version, 2);
    const v3 = await store.appendVersion(rufid, draft({ branch: 'dev' }));
    assert.equal(v3.version, 3);
    assert.equal((await store.getBranchHead(rufid, 'main'))?.version, 2);
    assert.equal((await store.getBranchHead(rufid, 'dev'))?.version, 3);
    assert.deepEqual(
      (await store.listVersions(rufid)).map((v) => v.version),
      [3, 2, 1],
    );
  });

  test('ten parallel appends get versions 2..11 with no gaps or repeats', async () => {
    const { store } = ctx;
    const rufid = await deployed(store, await tenant(store));
    const made = await Promise.all(
      Array.from({ length: 10 }, () => store.appendVersion(rufid, draft())),
    );
    const numbers = made.map((v) => v.version).sort((a, b) => a - b);
    assert.deepEqual(numbers, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assert.deepEqual(
      (await store.listVersions(rufid)).map((v) => v.version),
      [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1],
    );
    // Appends serialize on the function, so the last to commit holds the highest number.
    assert.equal((await store.getBranchHead(rufid, 'main'))?.version, 11);
  });

  test('createFunction for a tenant that does not exist is TENANT_NOT_FOUND and writes nothing', async () => {
    const { store } = ctx;
    const rufid = newRufid();
    await assert.rejects(
      store.createFunction({ rufid, tenantId: 'tn_missing', name: 'f' }, draft()),
      hasCode('TENANT_NOT_FOUND'),
    );
    assert.equal(await store.getFunctionById(rufid), null);
    assert.deepEqual(await store.listVersions(rufid), []);
    // A duplicate RUFID in an existing tenant is still a CONFLICT, not a missing tenant.
    const tenantId = await tenant(store);
    const taken = await deployed(store, tenantId);
    await assert.rejects(
      store.createFunction({ rufid: taken, tenantId, name: 'f' }, draft()),
      hasCode('CONFLICT'),
    );
  });

  test('appendVersion to an unknown function is FUNCTION_NOT_FOUND', async () => {
    await assert.rejects(
      ctx.store.appendVersion(newRufid(), draft()),
      hasCode('FUNCTION_NOT_FOUND'),
    );
  });

  test('a ledger entry never changes after later appends; only its build state can', async () => {
    const { store } = ctx;
    const rufid = await deployed(store, await tenant(store));
    const v1 = await store.getVersion(rufid, 1);
    await store.appendVersion(rufid, draft());
    await store.appendVersion(rufid, draft({ branch: 'dev' }));
    await store.setBranchHead(rufid, 'main', 3);
    assert.deepEqual(await store.getVersion(rufid, 1), v1);

    const build = {
      status: 'failed' as const,
      log: 'pip: no such package',
      updatedAt: new Date().toISOString(),
    };
    await store.setBuildState(rufid, 1, build);
    assert.deepEqual(await store.getVersion(rufid, 1), { ...v1, build });
  });

  test('setBranchHead rolls main back to an older version and promotes a branch', async () => {
    const { store } = ctx;
    const rufid = await deployed(store, await tenant(store));
    await store.appendVersion(rufid, draft());
    await store.appendVersion(rufid, draft({ branch: 'dev' }));
    const rolled = await store.setBranchHead(rufid, 'main', 1);
    assert.equal(rolled.version, 1);
    assert.equal(rolled.branch, 'main');
    assert.equal((await store.getBranchHead(rufid, 'main'))?.version, 1);
    await store.setBranchHead(rufid, 'main', 3);
    assert.equal((await store.getBranchHead(rufid, 'main'))?.version, 3);
    const created = await store.setBranchHead(rufid, 'staging', 2);
    assert.deepEqual(await store.getBranchHead(rufid, 'staging'), created);
  });

  test('setBranchHead to a version not in the ledger is VERSION_NOT_FOUND and moves nothing', async () => {
    const { store } = ctx;
    const rufid = await deployed(store, await tenant(store));
    await assert.rejects(store.setBranchHead(rufid, 'main', 7), hasCode('VERSION_NOT_FOUND'));
    await assert.rejects(store.setBranchHead(rufid, 'dev', 2), hasCode('VERSION_NOT_FOUND'));
    assert.equal((await store.getBranchHead(rufid, 'main'))?.version, 1);
    assert.equal(await store.getBranchHead(rufid, 'dev'), null);
    await assert.rejects(store.setBranchHead(newRufid(), 'main', 1), hasCode('FUNCTION_NOT_FOUND'));
  });

  test('deleteBranch removes a head once; the store does not protect main (the registry does)', async () => {
    const { store } = ctx;
    const rufid = await deployed(store, await tenant(store));
    await store.appendVersion(rufid, draft({ branch: 'dev' }));
    assert.equal(await store.deleteBranch(rufid, 'dev'), true);
    assert.equal(await store.deleteBranch(rufid, 'dev'), false);
    assert.equal(await store.getBranchHead(rufid, 'dev'), null);
    assert.equal(await store.deleteBranch(rufid, 'main'), true);
    assert.deepEqual(await store.listBranchHeads(rufid), []);
    assert.equal((await store.listVersions(rufid)).length, 2);
  });

  test("another tenant's function is not there", async () => {
    const { store } = ctx;
    const owner = await tenant(store);
    const other = await tenant(store);
    const rufid = await deployed(store, owner);
    assert.equal(await store.getFunction(other, rufid), null);
    assert.deepEqual(await store.listFunctions(other), []);
    assert.deepEqual(
      (await store.listFunctions(owner)).map((f) => f.rufid),
      [rufid],
    );
  });

  test('a duplicate RUFID is a CONFLICT and leaves the existing function untouched', async () => {
    const { store } = ctx;
    const tenantId = await tenant(store);
    const rufid = await deployed(store, tenantId);
    const before = await store.getVersion(rufid, 1);
    await assert.rejects(
      store.createFunction({ rufid, tenantId, name: uid('fn') }, draft({ branch: 'dev' })),
      hasCode('CONFLICT'),
    );
    assert.deepEqual(await store.getVersion(rufid, 1), before);
    assert.deepEqual(
      (await store.listBranchHeads(rufid)).map((h) => h.branch),
      ['main'],
    );
    assert.equal((await store.listFunctions(tenantId)).length, 1);
  });

  test('a createFunction whose version cannot be written leaves no function behind', async () => {
    const { store } = ctx;
    const tenantId = await tenant(store);
    const rufid = newRufid();
    // A null digest violates NOT NULL after the function row was written.
    const broken = draft({ digest: null as unknown as string });
    await assert.rejects(store.createFunction({ rufid, tenantId, name: 'f' }, broken));
    assert.equal(await store.getFunctionById(rufid), null);
    assert.deepEqual(await store.listBranchHeads(rufid), []);
    assert.deepEqual(await store.listVersions(rufid), []);
    await store.createFunction({ rufid, tenantId, name: 'f' }, draft());
    assert.equal((await store.getVersion(rufid, 1))?.version, 1);
  });

  test('a failed appendVersion uses up no version number', async () => {
    const { store } = ctx;
    const rufid = await deployed(store, await tenant(store));
    await assert.rejects(store.appendVersion(rufid, draft({ digest: null as unknown as string })));
    assert.equal((await store.getBranchHead(rufid, 'main'))?.version, 1);
    assert.equal((await store.appendVersion(rufid, draft())).version, 2);
  });
}
