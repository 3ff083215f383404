/**
 * A fresh Postgres schema per test, on the machine's server
 * (127.0.0.1:5432, trust auth, database `test`, user postgres; override with
 * RELAY_TEST_POSTGRES_URL). Dropping the schema removes everything the test made.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_URL =
  process.env.RELAY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface PgSchema {
  /** Server URL (the schema is not part of it: pass `schema` to whatever connects). */
  url: string;
  /** A new, empty schema, unique to this call. */
  schema: string;
  /** Drop the schema and everything in it; safe to call twice. */
  drop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Run one statement on a short-lived connection. */
async function exec(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Create a uniquely named empty schema (`await using s = await freshPgSchema()` works too). */
export async function freshPgSchema(prefix = 'relay_test'): Promise<PgSchema> {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  await exec(`CREATE SCHEMA ${schema}`);
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  };
  return { url: POSTGRES_URL, schema, drop, [Symbol.asyncDispose]: drop };
}
