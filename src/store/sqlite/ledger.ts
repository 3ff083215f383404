/**
 * Functions, the version ledger (function_version_ledger) and branch heads
 * (function_branch_heads) on SQLite. functions.latest_version is the
 * ledger's counter: bumping it inside the write transaction is what makes
 * version numbers gap-free and never reused.
 */
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
import { conflictOnDuplicate, type SqliteDb } from './db.ts';
import * as rows from './rows.ts';

export class SqliteLedger {
  private readonly db: SqliteDb;

  constructor(db: SqliteDb) {
    this.db = db;
  }

  createFunction(
    f: { rufid: string; tenantId: string; name: string },
    first: NewVersion,
  ): { function: FunctionRecord; version: FunctionVersion } {
    const createdAt = nowIso();
    return conflictOnDuplicate(`function ${f.rufid} already exists`, () =>
      this.db.forTenant(f.tenantId, () =>
        this.db.tx(() => {
          this.db
            .q(
              'INSERT INTO functions (rufid, tenant_id, name, latest_version, created_at) VALUES (?, ?, ?, 1, ?)',
            )
            .run(f.rufid, f.tenantId, f.name, createdAt);
          const version = this.insertVersion(f.rufid, 1, first, createdAt);
          this.upsertHead(f.rufid, first.branch, 1, createdAt);
          if (first.branch !== MAIN_BRANCH) this.upsertHead(f.rufid, MAIN_BRANCH, 1, createdAt);
          const fn = { rufid: f.rufid, tenantId: f.tenantId, name: f.name, createdAt };
          return { function: fn, version };
        }),
      ),
    );
  }

  private insertVersion(
    rufid: string,
    n: number,
    d: NewVersion,
    createdAt: string,
  ): FunctionVersion {
    const message = safeText(d.message);
    const build = { ...d.build, log: safeText(d.build.log) };
    this.db
      .q(
        `INSERT INTO function_version_ledger (${rows.VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
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
      );
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

  private upsertHead(rufid: string, branch: string, version: number, at: string): void {
    this.db
      .q(
        `INSERT INTO function_branch_heads (rufid, branch, version, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (rufid, branch) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`,
      )
      .run(rufid, branch, version, at);
  }

  getFunction(tenantId: string, rufid: string): FunctionRecord | null {
    const r = this.db
      .q(`SELECT ${rows.FUNCTION_COLUMNS} FROM functions WHERE rufid = ? AND tenant_id = ?`)
      .get(rufid, tenantId);
    return r === undefined ? null : rows.fn(r);
  }

  getFunctionById(rufid: string): FunctionRecord | null {
    const r = this.db
      .q(`SELECT ${rows.FUNCTION_COLUMNS} FROM functions WHERE rufid = ?`)
      .get(rufid);
    return r === undefined ? null : rows.fn(r);
  }

  listFunctions(tenantId: string): FunctionRecord[] {
    return this.db
      .q(
        `SELECT ${rows.FUNCTION_COLUMNS} FROM functions WHERE tenant_id = ? ORDER BY created_at, rufid`,
      )
      .all(tenantId)
      .map(rows.fn);
  }

  appendVersion(rufid: string, draft: NewVersion): FunctionVersion {
    return this.db.tx(() => {
      const r = this.db
        .q(
          'UPDATE functions SET latest_version = latest_version + 1 WHERE rufid = ? RETURNING latest_version',
        )
        .get(rufid);
      if (r === undefined)
        throw new RelayError('FUNCTION_NOT_FOUND', `function ${rufid} not found`);
      const createdAt = nowIso();
      const version = this.insertVersion(rufid, r.latest_version as number, draft, createdAt);
      this.upsertHead(rufid, draft.branch, version.version, createdAt);
      return version;
    });
  }

  getVersion(rufid: string, version: number): FunctionVersion | null {
    const r = this.db
      .q(
        `SELECT ${rows.VERSION_COLUMNS} FROM function_version_ledger WHERE rufid = ? AND version = ?`,
      )
      .get(rufid, version);
    return r === undefined ? null : rows.version(r);
  }

  listVersions(rufid: string): FunctionVersion[] {
    return this.db
      .q(
        `SELECT ${rows.VERSION_COLUMNS} FROM function_version_ledger WHERE rufid = ? ORDER BY version DESC`,
      )
      .all(rufid)
      .map(rows.version);
  }

  setBuildState(rufid: string, version: number, build: BuildState): void {
    this.db
      .q(
        'UPDATE function_version_ledger SET build_status = ?, build_log = ?, build_updated_at = ? WHERE rufid = ? AND version = ?',
      )
      .run(build.status, safeText(build.log), build.updatedAt, rufid, version);
  }

  listBranchHeads(rufid: string): BranchHead[] {
    return this.db
      .q(`SELECT ${rows.HEAD_COLUMNS} FROM function_branch_heads WHERE rufid = ? ORDER BY branch`)
      .all(rufid)
      .map(rows.head);
  }

  getBranchHead(rufid: string, branch: string): BranchHead | null {
    const r = this.db
      .q(`SELECT ${rows.HEAD_COLUMNS} FROM function_branch_heads WHERE rufid = ? AND branch = ?`)
      .get(rufid, branch);
    return r === undefined ? null : rows.head(r);
  }

  setBranchHead(rufid: string, branch: string, version: number): BranchHead {
    // Selecting from the ledger makes "the version exists" and "move the head" one statement.
    const r = this.db
      .q(
        `INSERT INTO function_branch_heads (rufid, branch, version, updated_at)
         SELECT rufid, ?, version, ? FROM function_version_ledger WHERE rufid = ? AND version = ?
         ON CONFLICT (rufid, branch) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at
         RETURNING ${rows.HEAD_COLUMNS}`,
      )
      .get(branch, nowIso(), rufid, version);
    if (r !== undefined) return rows.head(r);
    if (this.getFunctionById(rufid) === null) {
      throw new RelayError('FUNCTION_NOT_FOUND', `function ${rufid} not found`);
    }
    throw new RelayError('VERSION_NOT_FOUND', `version ${version} of ${rufid} not found`);
  }

  deleteBranch(rufid: string, branch: string): boolean {
    const res = this.db
      .q('DELETE FROM function_branch_heads WHERE rufid = ? AND branch = ?')
      .run(rufid, branch);
    return Number(res.changes) > 0;
  }
}
