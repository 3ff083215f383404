/**
 * Functions, the version ledger (function_version_ledger) and branch heads
 * (function_branch_heads) on Postgres. Bumping functions.latest_version
 * takes the function's row lock for the rest of the transaction, so
 * concurrent deploys of one function queue up and get consecutive numbers.
 */
import type { PoolClient } from 'pg';
import {
  MAIN_BRANCH,
  RelayError,
  type BranchHead,
  type BuildState,
  type FunctionRecord,
  type FunctionVersion,
} from '../../domain/index.ts';
import type { NewVersion } from '../port.ts';
import { nowIso, safeText } from '../shared.ts';
import { conflictOnDuplicate, type PgDb } from './db.ts';
import * as rows from './rows.ts';

const INSERT_VERSION = `INSERT INTO function_version_ledger (${rows.VERSION_COLUMNS})
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`;
const UPSERT_HEAD = `INSERT INTO function_branch_heads (rufid, branch, version, updated_at)
  VALUES ($1, $2, $3, $4)
  ON CONFLICT (rufid, branch) DO UPDATE SET version = EXCLUDED.version, updated_at = EXCLUDED.updated_at`;

export class PgLedger {
  private readonly db: PgDb;

  constructor(db: PgDb) {
    this.db = db;
  }

  async createFunction(
    f: { rufid: string; tenantId: string; name: string },
    first: NewVersion,
  ): Promise<{ function: FunctionRecord; version: FunctionVersion }> {
    const createdAt = nowIso();
    return conflictOnDuplicate(`function ${f.rufid} already exists`, () =>
      this.db.forTenant(f.tenantId, () =>
        this.db.tx(async (c) => {
          await c.query(
            'INSERT INTO functions (rufid, tenant_id, name, latest_version, created_at) VALUES ($1, $2, $3, 1, $4)',
            [f.rufid, f.tenantId, f.name, createdAt],
          );
          const version = await insertVersion(c, f.rufid, 1, first, createdAt);
          await c.query(UPSERT_HEAD, [f.rufid, first.branch, 1, createdAt]);
          if (first.branch !== MAIN_BRANCH) {
            await c.query(UPSERT_HEAD, [f.rufid, MAIN_BRANCH, 1, createdAt]);
          }
          const fn = { rufid: f.rufid, tenantId: f.tenantId, name: f.name, createdAt };
          return { function: fn, version };
        }),
      ),
    );
  }

  async getFunction(tenantId: string, rufid: string): Promise<FunctionRecord | null> {
    const [r] = await this.db.query<rows.FunctionRow>(
      'relay_function_get',
      `SELECT ${rows.FUNCTION_COLUMNS} FROM functions WHERE rufid = $1 AND tenant_id = $2`,
      [rufid, tenantId],
    );
    return r === undefined ? null : rows.fn(r);
  }

  async getFunctionById(rufid: string): Promise<FunctionRecord | null> {
    const [r] = await this.db.query<rows.FunctionRow>(
      'relay_function_by_id',
      `SELECT ${rows.FUNCTION_COLUMNS} FROM functions WHERE rufid = $1`,
      [rufid],
    );
    return r === undefined ? null : rows.fn(r);
  }

  async listFunctions(tenantId: string): Promise<FunctionRecord[]> {
    const rs = await this.db.query<rows.FunctionRow>(
      undefined,
      `SELECT ${rows.FUNCTION_COLUMNS} FROM functions WHERE tenant_id = $1 ORDER BY created_at, rufid`,
      [tenantId],
    );
    return rs.map(rows.fn);
  }

  async appendVersion(rufid: string, draft: NewVersion): Promise<FunctionVersion> {
    return this.db.tx(async (c) => {
      const { rows: bumped } = await c.query<{ latest_version: number }>(
        'UPDATE functions SET latest_version = latest_version + 1 WHERE rufid = $1 RETURNING latest_version',
        [rufid],
      );
      const n = bumped[0]?.latest_version;
      if (n === undefined)
        throw new RelayError('FUNCTION_NOT_FOUND', `function ${rufid} not found`);
      const createdAt = nowIso();
      const version = await insertVersion(c, rufid, n, draft, createdAt);
      await c.query(UPSERT_HEAD, [rufid, draft.branch, n, createdAt]);
      return version;
    });
  }

  async getVersion(rufid: string, version: number): Promise<FunctionVersion | null> {
    const [r] = await this.db.query<rows.VersionRow>(
      'relay_version_get',
      `SELECT ${rows.VERSION_COLUMNS} FROM function_version_ledger WHERE rufid = $1 AND version = $2`,
      [rufid, version],
    );
    return r === undefined ? null : rows.version(r);
  }

  async listVersions(rufid: string): Promise<FunctionVersion[]> {
    const rs = await this.db.query<rows.VersionRow>(
      undefined,
      `SELECT ${rows.VERSION_COLUMNS} FROM function_version_ledger WHERE rufid = $1 ORDER BY version DESC`,
      [rufid],
    );
    return rs.map(rows.version);
  }

  async setBuildState(rufid: string, version: number, build: BuildState): Promise<void> {
    await this.db.query(
      undefined,
      'UPDATE function_version_ledger SET build_status = $1, build_log = $2, build_updated_at = $3 WHERE rufid = $4 AND version = $5',
      [build.status, safeText(build.log), build.updatedAt, rufid, version],
    );
  }

  async listBranchHeads(rufid: string): Promise<BranchHead[]> {
    const rs = await this.db.query<rows.HeadRow>(
      undefined,
      `SELECT ${rows.HEAD_COLUMNS} FROM function_branch_heads WHERE rufid = $1 ORDER BY branch COLLATE "C"`,
      [rufid],
    );
    return rs.map(rows.head);
  }

  async getBranchHead(rufid: string, branch: string): Promise<BranchHead | null> {
    const [r] = await this.db.query<rows.HeadRow>(
      'relay_head_get',
      `SELECT ${rows.HEAD_COLUMNS} FROM function_branch_heads WHERE rufid = $1 AND branch = $2`,
      [rufid, branch],
    );
    return r === undefined ? null : rows.head(r);
  }

  async setBranchHead(rufid: string, branch: string, version: number): Promise<BranchHead> {
    // Selecting from the ledger makes "the version exists" and "move the head" one statement.
    const [r] = await this.db.query<rows.HeadRow>(
      undefined,
      `INSERT INTO function_branch_heads (rufid, branch, version, updated_at)
       SELECT rufid, $2, version, $4 FROM function_version_ledger WHERE rufid = $1 AND version = $3
       ON CONFLICT (rufid, branch) DO UPDATE SET version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
       RETURNING ${rows.HEAD_COLUMNS}`,
      [rufid, branch, version, nowIso()],
    );
    if (r !== undefined) return rows.head(r);
    if ((await this.getFunctionById(rufid)) === null) {
      throw new RelayError('FUNCTION_NOT_FOUND', `function ${rufid} not found`);
    }
    throw new RelayError('VERSION_NOT_FOUND', `version ${version} of ${rufid} not found`);
  }

  async deleteBranch(rufid: string, branch: string): Promise<boolean> {
    const n = await this.db.run(
      undefined,
      'DELETE FROM function_branch_heads WHERE rufid = $1 AND branch = $2',
      [rufid, branch],
    );
    return n > 0;
  }
}

async function insertVersion(
  c: PoolClient,
  rufid: string,
  n: number,
  d: NewVersion,
  createdAt: string,
): Promise<FunctionVersion> {
  const message = safeText(d.message);
  const build = { ...d.build, log: safeText(d.build.log) };
  await c.query(INSERT_VERSION, [
    rufid,
    n,
    d.digest,
    JSON.stringify(d.manifest),
    JSON.stringify(d.files),
    d.size,
    d.deployedBy,
    message,
    d.branch,
    createdAt,
    build.status,
    build.log,
    build.updatedAt,
  ]);
  return {
    rufid,
    version: n,
    digest: d.digest,
    manifest: d.manifest,
    files: d.files,
    size: d.size,
    deployedBy: d.deployedBy,
    message,
    branch: d.branch,
    createdAt,
    build,
  };
}
