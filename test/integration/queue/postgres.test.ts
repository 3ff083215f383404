/** The queue conformance suite on Postgres (127.0.0.1:5432): a fresh schema per test, dropped after. */
import { createQueue, type Queue, type QueueOptions } from '../../../src/queue/index.ts';
import { freshPgSchema } from '../../support/postgres.ts';
import { runQueueConformance } from './conformance.ts';

runQueueConformance('postgres', async (options?: QueueOptions) => {
  const pg = await freshPgSchema('relay_queue_test');
  const open = () => createQueue(pg.url, { ...options, schema: pg.schema, poolSize: 4 });
  const opened: Queue[] = [await open()];
  return {
    queue: opened[0]!,
    open: async () => {
      const q = await open();
      opened.push(q);
      return q;
    },
    cleanup: async () => {
      for (const q of opened.splice(0)) await q.close();
      await pg.drop();
    },
  };
});
