/** The store conformance suite on SQLite: a fresh database file per test. */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { createStore, type ControlStore } from '../../../src/store/index.ts';
import { makeTempDir } from '../../support/tmp.ts';
import { runStoreConformance } from './conformance.ts';
import { LIMITS } from './fixtures.ts';

runStoreConformance('sqlite', async () => {
  const dir = await makeTempDir('relay-store-');
  // A nested path also checks that createStore makes the parent directory.
  const url = `sqlite:${path.join(dir.path, 'data', 'relay.db')}`;
  let store: ControlStore = await createStore(url);
  return {
    get store() {
      return store;
    },
    reopen: async () => {
      await store.close();
      store = await createStore(url);
      return store;
    },
    cleanup: async () => {
      await store.close();
      await dir.cleanup();
    },
  };
});

test('the database and the WAL files beside it are readable by their owner only', async () => {
  const dir = await makeTempDir('relay-store-');
  const file = path.join(dir.path, 'relay.db');
  const store = await createStore(`sqlite:${file}`);
  try {
    await store.createTenant({ id: 't1', name: 't1', limits: LIMITS });
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      assert.equal((await stat(f)).mode & 0o777, 0o600, f);
    }
  } finally {
    await store.close();
    await dir.cleanup();
  }
});
