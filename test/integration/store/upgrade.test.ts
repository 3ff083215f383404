/**
 * Upgrading a store written by schema version 1: rows that shared an
 * idempotency key before keys became unique keep it only on the newest,
 * and on Postgres the JSON columns change type with the ledger's
 * immutability trigger still in force afterwards.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import pg from 'pg';
import { MIGRATIONS as PG_V } from '../../../src/store/postgres/migrations.ts';
import { MIGRATIONS as SQLITE_V } from '../../../src/store/sqlite/migrations.ts';
import { createStore, type ControlStore } from '../../../src/store/index.ts';
import { freshPgSchema } from '../../support/postgres.ts';
import { makeTempDir } from '../../support/tmp.ts';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:00:01.000Z';

/** Version-1 rows: tenant a holds key k on two executions, tenant b on one. */
const V1_ROWS = [
  `INSERT INTO tenants (id, name, limits, created_at) VALUES ('tn_a', 'a', '{}', '${T0}'), ('tn_b', 'b', '{}', '${T0}')`,
  `INSERT INTO functions (rufid, tenant_id, name, latest_version, created_at) VALUES ('abcdef123456', 'tn_a', 'f', 1, '${T0}')`,
  `INSERT INTO function_version_ledger (rufid, version, digest, manifest, files, size, deployed_by, message, branch, created_at, build_status, build_log, build_updated_at)
   VALUES ('abcdef123456', 1, 'd', '{"runtime":"node24","entrypoint":"index.handler"}', '[]', 0, 'key', '', 'main', '${T0}', 'ready', '', '${T0}')`,
  ...[
    ['ex_1', 'tn_a', T0],
    ['ex_2', 'tn_a', T1],
    ['ex_3', 'tn_b', T0],
  ].map(
    ([id, tenant, at]) =>
      `INSERT INTO executions (id, tenant_id, rufid, version, branch, status, input, cost, attempt, max_attempts, priority, async, idempotency_key, created_at)
       VALUES ('${id}', '${tenant}', 'abcdef123456', 1, 'main', 'succeeded', '{"n":1}', 0, 1, 1, 5, ${
         tenant === 'tn_a' ? 'true' : 'false'
       }, 'k', '${at}')`,
  ),
];

async function checkUpgraded(store: ControlStore): Promise<void> {
  const key = async (id: string) => (await store.getExecution(null, id))?.idempotencyKey;
  assert.equal(await key('ex_1'), null);
  assert.equal(await key('ex_2'), 'k');
  assert.equal(await key('ex_3'), 'k');
  assert.deepEqual((await store.getExecution(null, 'ex_1'))?.input, { n: 1 });
  assert.equal((await store.getVersion('abcdef123456', 1))?.manifest.runtime, 'node24');
  await store.recordAttempt('ex_2', {
    attempt: 1,
    status: 'succeeded',
    error: null,
    workerId: null,
    startedAt: T1,
    finishedAt: T1,
    durationMs: 0,
  });
  assert.equal((await store.listAttempts('ex_2')).length, 1);
}

describe('store upgrade from schema version 1', () => {
  test('sqlite', async () => {
    await using dir = await makeTempDir('relay-upgrade-');
    const file = path.join(dir.path, 'relay.db');
    const db = new DatabaseSync(file);
    db.exec(SQLITE_V[0]!.sql);
    db.exec(
      'CREATE TABLE relay_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT',
    );
    db.prepare('INSERT INTO relay_migrations VALUES (1, ?, ?)').run(SQLITE_V[0]!.name, T0);
    for (const sql of V1_ROWS) db.exec(sql);
    db.close();
    const store = await createStore(`sqlite:${file}`);
    try {
      await checkUpgraded(store);
    } finally {
      await store.close();
    }
  });

  test('postgres', async () => {
    await using schema = await freshPgSchema('relay_upgrade');
    const client = new pg.Client({
      connectionString: schema.url,
      options: `-c search_path=${schema.schema}`,
    });
    await client.connect();
    try {
      await client.query(PG_V[0]!.sql);
      await client.query(
        'CREATE TABLE relay_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)',
      );
      await client.query('INSERT INTO relay_migrations VALUES (1, $1, $2)', [PG_V[0]!.name, T0]);
      for (const sql of V1_ROWS) await client.query(sql);
    } finally {
      await client.end();
    }
    const store = await createStore(schema.url, { schema: schema.schema });
    try {
      await checkUpgraded(store);
    } finally {
      await store.close();
    }
    const check = new pg.Client({
      connectionString: schema.url,
      options: `-c search_path=${schema.schema}`,
    });
    await check.connect();
    try {
      await assert.rejects(
        check.query(`UPDATE function_version_ledger SET manifest = '{}'`),
        /immutable/,
      );
    } finally {
      await check.end();
    }
  });
});
