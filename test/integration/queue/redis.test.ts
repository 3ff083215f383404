/** The queue conformance suite on Redis (127.0.0.1:6379): a fresh key prefix per test, its keys deleted after. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createQueue, type Queue, type QueueOptions } from '../../../src/queue/index.ts';
import { runQueueConformance } from './conformance.ts';

const REDIS_URL = process.env.RELAY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Delete every key under the prefix's hash tag. */
async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{relay:${prefix}}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

runQueueConformance('redis', async (options?: QueueOptions) => {
  const keyPrefix = `test_${randomBytes(6).toString('hex')}`;
  const open = () => createQueue(REDIS_URL, { ...options, keyPrefix });
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
      await deleteKeys(keyPrefix);
    },
  };
});
