/**
 * Hand-written floors: the least a queue on each backend can do, measured
 * in the same run so a ratio still means something on a noisy machine.
 * SQLite: one synchronous loop of single-row UPDATE ... RETURNING claims
 * and UPDATE completes (autocommit). Redis: LPUSH to enqueue, 50 loops of
 * RPOP plus one INCR as the completion. Postgres: five loops that claim 10
 * rows with FOR UPDATE SKIP LOCKED and complete them with one UPDATE.
 * None of them has leases, retries, fairness or limits.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { Redis } from 'ioredis';
import { jobKey, sleep, type ConsumeHooks, type Subject } from './harness.ts';
import type { Services } from './relay.ts';

const tenantOf = (key: string) => key.slice(0, key.lastIndexOf('-'));

function stopper(run: (stopped: () => boolean) => Promise<unknown>[]) {
  let stopped = false;
  const loops = run(() => stopped);
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** Bare SQLite claim loop. */
export function sqliteFloor(): Subject {
  const file = path.join(os.tmpdir(), `relay-floor-${randomBytes(5).toString('hex')}.db`);
  const db = new DatabaseSync(file);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL');
  db.exec(`CREATE TABLE jobs (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, state TEXT NOT NULL,
    payload TEXT NOT NULL, worker TEXT);
    CREATE INDEX jobs_ready ON jobs (seq) WHERE state = 'r'`);
  const insert = db.prepare("INSERT INTO jobs (key, state, payload) VALUES (?, 'r', ?)");
  const claim = db.prepare(`UPDATE jobs SET state = 'l', worker = ? WHERE seq =
    (SELECT seq FROM jobs WHERE state = 'r' ORDER BY seq LIMIT 1) RETURNING seq, key`);
  const complete = db.prepare("UPDATE jobs SET state = 'd' WHERE seq = ?");
  return {
    backend: 'sqlite',
    system: 'floor',
    shape: 'one synchronous loop, one row per statement',
    enqueueOne: async (tenant, i) => {
      insert.run(jobKey(tenant, i), JSON.stringify({ i }));
    },
    enqueueBatch: async (tenant, start, n) => {
      db.exec('BEGIN');
      for (let k = 0; k < n; k++)
        insert.run(jobKey(tenant, start + k), JSON.stringify({ i: start + k }));
      db.exec('COMMIT');
    },
    consume: async (hooks: ConsumeHooks) =>
      stopper((stopped) => [
        (async () => {
          while (!stopped()) {
            for (let k = 0; k < 200; k++) {
              const row = claim.get('w') as { seq: number; key: string } | undefined;
              if (row === undefined) break;
              hooks.onClaim?.(row.key, tenantOf(row.key));
              complete.run(row.seq);
              hooks.onDone(row.key, tenantOf(row.key));
            }
            await sleep(0);
          }
        })(),
      ]),
    reset: async () => {
      db.exec('DELETE FROM jobs');
    },
    close: async () => {
      db.close();
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    },
  };
}

/** Bare Redis LPUSH / RPOP pair. */
export function redisFloor(services: Services): Subject {
  const redis = new Redis(services.redisUrl);
  const key = `{floor:${randomBytes(5).toString('hex')}}:jobs`;
  return {
    backend: 'redis',
    system: 'floor',
    shape: '50 loops, RPOP + INCR per job',
    enqueueOne: async (tenant, i) => {
      await redis.lpush(key, jobKey(tenant, i));
    },
    enqueueBatch: async (tenant, start, n) => {
      await redis.lpush(key, ...Array.from({ length: n }, (_, k) => jobKey(tenant, start + k)));
    },
    consume: async (hooks: ConsumeHooks) =>
      stopper((stopped) =>
        Array.from({ length: 50 }, async () => {
          while (!stopped()) {
            const job = await redis.rpop(key);
            if (job === null) {
              await sleep(5);
              continue;
            }
            hooks.onClaim?.(job, tenantOf(job));
            await redis.incr(`${key}:done`);
            hooks.onDone(job, tenantOf(job));
          }
        }),
      ),
    reset: async () => {
      await redis.del(key, `${key}:done`);
    },
    close: async () => {
      await redis.del(key, `${key}:done`);
      redis.disconnect();
    },
  };
}

/** Bare Postgres SKIP LOCKED batch claim. */
export async function postgresFloor(services: Services): Promise<Subject> {
  const schema = `floor_${randomBytes(5).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: services.postgresUrl, max: 10 });
  await pool.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.jobs (id bigserial PRIMARY KEY,
    key text NOT NULL, state text NOT NULL, payload text NOT NULL);
    CREATE INDEX ON ${schema}.jobs (id) WHERE state = 'r'`);
  const claimSql = `UPDATE ${schema}.jobs SET state = 'l' WHERE id IN (SELECT id FROM ${schema}.jobs
    WHERE state = 'r' ORDER BY id LIMIT 10 FOR UPDATE SKIP LOCKED) RETURNING id, key`;
  return {
    backend: 'postgres',
    system: 'floor',
    shape: '5 loops x SKIP LOCKED claim of 10, one UPDATE completes them',
    enqueueOne: async (tenant, i) => {
      await pool.query(`INSERT INTO ${schema}.jobs (key, state, payload) VALUES ($1, 'r', $2)`, [
        jobKey(tenant, i),
        JSON.stringify({ i }),
      ]);
    },
    enqueueBatch: async (tenant, start, n) => {
      const keys = Array.from({ length: n }, (_, k) => jobKey(tenant, start + k));
      await pool.query(
        `INSERT INTO ${schema}.jobs (key, state, payload) SELECT k, 'r', '{}' FROM unnest($1::text[]) k`,
        [keys],
      );
    },
    consume: async (hooks: ConsumeHooks) =>
      stopper((stopped) =>
        Array.from({ length: 5 }, async () => {
          while (!stopped()) {
            const rows = (await pool.query(claimSql)).rows as { id: string; key: string }[];
            if (rows.length === 0) {
              await sleep(5);
              continue;
            }
            for (const r of rows) hooks.onClaim?.(r.key, tenantOf(r.key));
            await pool.query(`UPDATE ${schema}.jobs SET state = 'd' WHERE id = ANY($1)`, [
              rows.map((r) => r.id),
            ]);
            for (const r of rows) hooks.onDone(r.key, tenantOf(r.key));
          }
        }),
      ),
    reset: async () => {
      await pool.query(`TRUNCATE ${schema}.jobs`);
    },
    close: async () => {
      await pool.query(`DROP SCHEMA ${schema} CASCADE`);
      await pool.end();
    },
  };
}
