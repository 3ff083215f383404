/**
 * The libraries Relay is measured against, on the same services in the
 * same run: BullMQ on Redis (its Worker with concurrency 50) and pg-boss on
 * Postgres (five loops fetching 10 and completing them, the most direct use
 * of its API; when idle they poll every 0.5 s, pg-boss's minimum).
 */
import { randomBytes } from 'node:crypto';
import { Queue as BullQueue, Worker as BullWorker, type Job as BullJob } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { jobKey, sleep, type ConsumeHooks, type Subject } from './harness.ts';
import type { Services } from './relay.ts';

interface Data {
  key: string;
  tenant: string;
  i: number;
}

/** BullMQ on the machine's Redis, under its own key prefix. */
export async function bullmqSubject(services: Services): Promise<Subject> {
  const prefix = `bullbench_${randomBytes(5).toString('hex')}`;
  const connection = new Redis(services.redisUrl, { maxRetriesPerRequest: null });
  const name = 'bench';
  const queue = new BullQueue<Data>(name, { connection, prefix });
  await queue.waitUntilReady();
  // Completed jobs are kept for an hour, as Relay keeps completions.
  const opts = { removeOnComplete: { age: 3600 } };
  const data = (tenant: string, i: number): Data => ({ key: jobKey(tenant, i), tenant, i });
  return {
    backend: 'redis',
    system: 'bullmq',
    shape: 'Worker with concurrency 50',
    enqueueOne: async (tenant, i) => {
      await queue.add('job', data(tenant, i), { ...opts, jobId: jobKey(tenant, i) });
    },
    enqueueBatch: async (tenant, start, n) => {
      await queue.addBulk(
        Array.from({ length: n }, (_, k) => ({
          name: 'job',
          data: data(tenant, start + k),
          opts: { ...opts, jobId: jobKey(tenant, start + k) },
        })),
      );
    },
    consume: async (hooks: ConsumeHooks) => {
      const worker = new BullWorker<Data>(
        name,
        async (job: BullJob<Data>) => {
          hooks.onClaim?.(job.data.key, job.data.tenant);
        },
        {
          connection: new Redis(services.redisUrl, { maxRetriesPerRequest: null }),
          prefix,
          concurrency: 50,
        },
      );
      worker.on('completed', (job: BullJob<Data>) => hooks.onDone(job.data.key, job.data.tenant));
      await worker.waitUntilReady();
      return {
        stop: async () => {
          await worker.close();
          await worker.disconnect();
        },
      };
    },
    reset: async () => {
      await queue.obliterate({ force: true });
    },
    close: async () => {
      await queue.obliterate({ force: true });
      await queue.close();
      connection.disconnect();
    },
  };
}

/** pg-boss on the machine's Postgres, in its own schema. */
export async function pgBossSubject(services: Services): Promise<Subject> {
  const schema = `pgboss_bench_${randomBytes(5).toString('hex')}`;
  const boss = new PgBoss({
    connectionString: services.postgresUrl,
    schema,
    max: 10,
    supervise: false,
    schedule: false,
  });
  boss.on('error', () => undefined);
  await boss.start();
  let name = 'bench_0';
  let generation = 0;
  await boss.createQueue(name);
  return {
    backend: 'postgres',
    system: 'pg-boss',
    shape: '5 loops x fetch 10, complete them (idle poll 0.5 s)',
    enqueueOne: async (tenant, i) => {
      await boss.send(name, { key: jobKey(tenant, i), tenant, i });
    },
    enqueueBatch: async (tenant, start, n) => {
      await boss.insert(
        Array.from({ length: n }, (_, k) => ({
          name,
          data: { key: jobKey(tenant, start + k), tenant, i: start + k },
        })),
      );
    },
    consume: async (hooks: ConsumeHooks) => {
      let stopped = false;
      const loops = Array.from({ length: 5 }, async () => {
        while (!stopped) {
          const jobs = await boss.fetch<Data>(name, { batchSize: 10 });
          if (jobs.length === 0) {
            await sleep(500);
            continue;
          }
          for (const j of jobs) hooks.onClaim?.(j.data.key, j.data.tenant);
          await boss.complete(
            name,
            jobs.map((j) => j.id),
          );
          for (const j of jobs) hooks.onDone(j.data.key, j.data.tenant);
        }
      });
      return {
        stop: async () => {
          stopped = true;
          await Promise.all(loops);
        },
      };
    },
    reset: async () => {
      // A fresh queue (its own partition) per section; the schema goes at close.
      name = `bench_${++generation}`;
      await boss.createQueue(name);
    },
    close: async () => {
      await boss.stop({ graceful: false, wait: true });
      const client = new pg.Client({ connectionString: services.postgresUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}
