/**
 * The one fairness policy of every queue backend: round-robin over the
 * groups (tenants) that have ready work, least recently served first, one
 * job per turn. A tenant with a backlog of thousands therefore delays
 * another tenant's first job by at most one turn per active group, and a
 * group coming back from idle gets exactly one turn in the rotation (no
 * credit is saved up while it was away). Within a group the backend hands
 * out its most urgent job, oldest first.
 *
 * The SQL adapters drive these functions directly; the Redis claim script
 * (redis/scripts.ts) runs the same loop inside Redis, and the conformance
 * suite holds both to the same behaviour.
 */

export interface FairCandidate {
  group: string;
  /** Most jobs this group can take in this claim: min(ready jobs, concurrency headroom); Infinity when unknown. */
  supply: number;
}

/**
 * Round-robin `n` slots over `candidates` (given least recently served first).
 * `take` hands out one job of a group and returns false when the group turned out
 * to have none; without it the plan trusts `supply`. Returns the group of each
 * slot served, in serve order.
 */
export function serveRoundRobin(
  candidates: readonly FairCandidate[],
  n: number,
  take?: (group: string) => boolean,
): string[] {
  const served: string[] = [];
  const left = candidates.map((c) => c.supply);
  let open = candidates.length;
  while (served.length < n && open > 0) {
    for (let i = 0; i < candidates.length && served.length < n; i++) {
      if ((left[i] as number) <= 0) continue;
      const group = (candidates[i] as FairCandidate).group;
      if (take !== undefined && !take(group)) {
        left[i] = 0;
        open--;
        continue;
      }
      served.push(group);
      left[i] = (left[i] as number) - 1;
      if (left[i] === 0) open--;
    }
  }
  return served;
}

/**
 * The served groups ordered by their last turn in this claim: give them
 * increasing last-served stamps in this order and the next claim continues
 * the rotation where this one stopped.
 */
export function rotationOrder(served: readonly string[]): string[] {
  const last = new Map<string, number>();
  served.forEach((group, i) => last.set(group, i));
  return [...last.entries()].sort((a, b) => a[1] - b[1]).map(([group]) => group);
}

/** How many slots each group got in a plan. */
export function countByGroup(served: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const group of served) counts.set(group, (counts.get(group) ?? 0) + 1);
  return counts;
}
