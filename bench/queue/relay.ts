/**
 * Relay's queue as a benchmark subject, on a fresh namespace (SQLite file,
 * Postgres schema, Redis key prefix) per section. The consumer runs like a
 * worker with 50 slots: five claimers take up to 10 jobs each and complete
 * every job on its own (the adapters coalesce those calls). On Postgres and
 * Redis it uses a second queue instance, as a worker process would; on
 * SQLite (one host, one process) it shares the producer's instance.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { createQueue, type Queue } from '../../src/queue/index.ts';
import { jobKey, type ConsumeHooks, type Subject } from './harness.ts';

export interface Services {
  postgresUrl: string;
  redisUrl: string;
}

interface Namespace {
  url: string;
  options: Record<string, string>;
  drop(): Promise<void>;
}

async function namespace(backend: Subject['backend'], services: Services): Promise<Namespace> {
  const tag = randomBytes(5).toString('hex');
  if (backend === 'sqlite') {
    const file = path.join(os.tmpdir(), `relay-bench-${tag}.db`);
    const drop = async () => {
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    };
    return { url: `sqlite:${file}`, options: {}, drop };
  }
  if (backend === 'postgres') {
    const schema = `relay_bench_${tag}`;
    const drop = async () => {
      const client = new pg.Client({ connectionString: services.postgresUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    };
    return { url: services.postgresUrl, options: { schema }, drop };
  }
  const keyPrefix = `bench_${tag}`;
  const drop = async () => {
    const redis = new Redis(services.redisUrl);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(
        cursor,
        'MATCH',
        `{relay:${keyPrefix}}:*`,
        'COUNT',
        1000,
      );
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
  };
  return { url: services.redisUrl, options: { keyPrefix }, drop };
}

/** Relay's queue on `backend`. */
export async function relaySubject(
  backend: Subject['backend'],
  services: Services,
): Promise<Subject> {
  let ns!: Namespace;
  let producer!: Queue;
  let consumer!: Queue;
  const open = async () => {
    ns = await namespace(backend, services);
    const options = { ...ns.options, maxQueuedPerTenant: 10_000_000, maxQueuedTotal: 10_000_000 };
    producer = await createQueue(ns.url, options);
    consumer = backend === 'sqlite' ? producer : await createQueue(ns.url, options);
  };
  const shut = async () => {
    if (consumer !== producer) await consumer.close();
    await producer.close();
    await ns.drop();
  };
  await open();
  return {
    backend,
    system: 'relay',
    shape: '5 claimers x up to 10, each job completed on its own',
    enqueueOne: async (tenant, i) => {
      await producer.enqueue({ id: jobKey(tenant, i), tenantId: tenant, payload: { i } });
    },
    enqueueBatch: async (tenant, start, n) => {
      const jobs = Array.from({ length: n }, (_, k) => ({
        id: jobKey(tenant, start + k),
        tenantId: tenant,
        payload: { i: start + k },
      }));
      await producer.enqueueMany(jobs);
    },
    consume: async (hooks: ConsumeHooks) => {
      const abort = new AbortController();
      const loops = Array.from({ length: 5 }, async () => {
        while (!abort.signal.aborted) {
          const jobs = await consumer.claim('bench-worker', 10, 60_000);
          if (jobs.length === 0) {
            await consumer.waitForWork(abort.signal, 250);
            continue;
          }
          for (const j of jobs) hooks.onClaim?.(j.id, j.tenantId);
          await Promise.all(
            jobs.map(async (j) => {
              await consumer.complete('bench-worker', j.id, { status: 'succeeded' });
              hooks.onDone(j.id, j.tenantId);
            }),
          );
        }
      });
      return {
        stop: async () => {
          abort.abort();
          await Promise.all(loops);
        },
      };
    },
    reset: async () => {
      await shut();
      await open();
    },
    close: shut,
  };
}
