/**
 * The Postgres claim. Candidates come from one read (the rotation's next
 * groups with ready work and headroom); without concurrency limits the
 * claim itself is then a single statement: no transaction and no group
 * lock, so claimers never wait on each other. Groups with a limit are
 * locked (SKIP LOCKED) in a transaction and their live leases counted
 * after the lock, which makes the limit exact across workers.
 */
import type { Pool, PoolClient } from 'pg';
import { countByGroup, rotationOrder, serveRoundRobin } from '../fairness.ts';
import type { LeasedJob } from '../port.ts';
import { COUNT_SHARDS, type Statements } from './sql.ts';
import { toLeased, withTx, type Row } from './tx.ts';

/** A counter shard for one write. */
export function shard(): number {
  return Math.floor(Math.random() * COUNT_SHARDS);
}

/** Lease up to `n` jobs to `workerId` until `leaseUntil`, in fairness order. */
export async function claimJobs(
  pool: Pool,
  sql: Statements,
  workerId: string,
  n: number,
  now: number,
  leaseUntil: number,
): Promise<LeasedJob[]> {
  const found = (
    await pool.query({ name: 'relay_q_candidates', text: sql.candidates, values: [now, n] })
  ).rows as Row[];
  if (found.length === 0) return [];
  const capped = found.filter((g) => (g.concurrency as number) > 0).map((g) => g.grp as string);
  if (capped.length === 0) return take(pool, sql, workerId, found, n, leaseUntil);
  return withTx(pool, async (c) => {
    const locked = new Set(
      ((await c.query(sql.lockCapped, [capped])).rows as Row[]).map((r) => r.grp as string),
    );
    const leases = new Map(
      ((await c.query(sql.leases, [now, [...locked]])).rows as Row[]).map((r) => [
        r.grp as string,
        r.leased as number,
      ]),
    );
    // A limited group another claimer is serving right now waits for the next claim.
    const usable = found
      .filter((g) => (g.concurrency as number) === 0 || locked.has(g.grp as string))
      .map((g) => ({ ...g, leased: leases.get(g.grp as string) ?? 0 }));
    return take(c, sql, workerId, usable, n, leaseUntil);
  });
}

/** Plan the round-robin over `groups` and take the jobs in one statement. */
async function take(
  db: Pool | PoolClient,
  sql: Statements,
  workerId: string,
  groups: Row[],
  n: number,
  leaseUntil: number,
): Promise<LeasedJob[]> {
  const served = serveRoundRobin(
    groups.map((g) => {
      const limit = g.concurrency as number;
      const headroom = limit > 0 ? limit - (g.leased as number) : Infinity;
      return { group: g.grp as string, supply: Math.min(g.ready as number, headroom) };
    }),
    n,
  );
  if (served.length === 0) return [];
  const counts = countByGroup(served);
  const values = [
    [...counts.keys()],
    [...counts.values()],
    workerId,
    leaseUntil,
    rotationOrder(served),
    shard(),
  ];
  const rows = (await db.query({ name: 'relay_q_claim', text: sql.claim, values })).rows as Row[];
  return inSlotOrder(rows, served).map((r) => toLeased(r, leaseUntil));
}

/** Claimed rows in the order of the plan: slot i goes to the next job of group served[i]. */
function inSlotOrder(rows: Row[], served: string[]): Row[] {
  const byGroup = new Map<string, Row[]>();
  for (const r of rows) {
    const list = byGroup.get(r.grp as string) ?? [];
    list.push(r);
    byGroup.set(r.grp as string, list);
  }
  for (const list of byGroup.values()) {
    list.sort(
      (a, b) => (b.priority as number) - (a.priority as number) || Number(a.seq) - Number(b.seq),
    );
  }
  const out: Row[] = [];
  for (const group of served) {
    const next = byGroup.get(group)?.shift();
    if (next !== undefined) out.push(next);
  }
  return out;
}
