/** The queue conformance suite on SQLite: a fresh database file per test. */
import path from 'node:path';
import { createQueue, type Queue, type QueueOptions } from '../../../src/queue/index.ts';
import { makeTempDir } from '../../support/tmp.ts';
import { runQueueConformance } from './conformance.ts';

runQueueConformance('sqlite', async (options?: QueueOptions) => {
  const dir = await makeTempDir('relay-queue-');
  const url = `sqlite:${path.join(dir.path, 'queue.db')}`;
  const opened: Queue[] = [await createQueue(url, options)];
  return {
    queue: opened[0]!,
    open: async () => {
      const q = await createQueue(url, options);
      opened.push(q);
      return q;
    },
    cleanup: async () => {
      for (const q of opened.splice(0)) await q.close();
      await dir.cleanup();
    },
  };
});
