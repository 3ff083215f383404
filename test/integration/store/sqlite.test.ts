/** The store conformance suite on SQLite: a fresh database file per test. */
import path from 'node:path';
import { createStore, type ControlStore } from '../../../src/store/index.ts';
import { makeTempDir } from '../../support/tmp.ts';
import { runStoreConformance } from './conformance.ts';

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
