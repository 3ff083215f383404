/** The store conformance suite on Postgres: a fresh schema per test, dropped after it. */
import { createStore, type ControlStore } from '../../../src/store/index.ts';
import { freshPgSchema } from '../../support/postgres.ts';
import { runStoreConformance } from './conformance.ts';

runStoreConformance('postgres', async () => {
  const pg = await freshPgSchema('relay_store');
  let store: ControlStore = await createStore(pg.url, { schema: pg.schema });
  return {
    get store() {
      return store;
    },
    reopen: async () => {
      await store.close();
      store = await createStore(pg.url, { schema: pg.schema });
      return store;
    },
    cleanup: async () => {
      await store.close();
      await pg.drop();
    },
  };
});
