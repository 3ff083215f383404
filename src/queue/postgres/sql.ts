/**
 * The Postgres queue's schema and statements, built once per schema name.
 * The ready index (grp, priority DESC, seq) WHERE state = 'ready' matches
 * the claim's ORDER BY exactly, so a group's next job is one index probe,
 * and a skip scan over its leading column lists the groups with ready work
 * in O(active groups). Claimers never wait on each other: group and job
 * rows are taken with SKIP LOCKED (a group another claimer is stamping
 * keeps that claimer's stamp), and the only rows anyone waits for, the
 * counters, are always locked in key order within one statement. Queued counts are spread over shards so concurrent
 * enqueues do not queue up behind one hot counter row; the empty tenant id
 * ('') carries the queue-wide total.
 */

/** Counter rows per tenant; a writer picks one at random. */
export const COUNT_SHARDS = 16;

const JOB_COLUMNS = `j.id, j.tenant_id, j.grp, j.priority, j.attempt, j.max_attempts, j.payload,
  j.enqueued_at, j.run_after, j.traceparent, j.seq`;

/** Statements of one schema (`s` is the quoted schema name). */
export function statements(s: string) {
  // The rotation's next groups with ready work and headroom (a skip scan over
  // the ready index lists the active groups), with each group's ready count
  // up to the claim size, computed after the LIMIT.
  const candidates = `WITH RECURSIVE act(grp) AS (
      (SELECT grp FROM ${s}.queue_jobs WHERE state = 'ready' ORDER BY grp LIMIT 1)
      UNION ALL
      SELECT (SELECT j.grp FROM ${s}.queue_jobs j WHERE j.state = 'ready' AND j.grp > act.grp
              ORDER BY j.grp LIMIT 1)
      FROM act WHERE act.grp IS NOT NULL)
    SELECT c.grp, c.concurrency, c.leased,
      (SELECT count(*) FROM (SELECT 1 FROM ${s}.queue_jobs r WHERE r.grp = c.grp AND r.state = 'ready'
        ORDER BY r.priority DESC, r.seq LIMIT $2) x)::int AS ready
    FROM (SELECT * FROM (SELECT g.grp, g.concurrency, g.last_served,
          CASE WHEN g.concurrency > 0 THEN (SELECT count(*) FROM ${s}.queue_jobs l
            WHERE l.grp = g.grp AND l.state = 'running' AND l.lease_until >= $1) ELSE 0 END::int AS leased
        FROM ${s}.queue_groups g JOIN act ON act.grp = g.grp) h
      WHERE h.concurrency = 0 OR h.leased < h.concurrency
      ORDER BY h.last_served, h.grp LIMIT $2) c
    ORDER BY c.last_served, c.grp`;
  const addCounts = (
    source: string,
    sign: string,
    shard: string,
  ) => `INSERT INTO ${s}.queue_counts (tenant_id, shard, queued)
      SELECT t, ${shard}, ${sign}c FROM (SELECT tenant_id AS t, count(*) AS c FROM ${source} GROUP BY tenant_id
        UNION ALL SELECT '', count(*) FROM ${source}) x WHERE c > 0 ORDER BY t
      ON CONFLICT (tenant_id, shard) DO UPDATE SET queued = ${s}.queue_counts.queued + excluded.queued`;

  // The enqueue of many calls (see statements().enqueue). A plain INSERT is
  // the fast path; the variant that replaces a finished job with the same id
  // (ON CONFLICT ... WHERE state = 'done') runs only when the plain one meets
  // an existing id.
  const enqueue = (redrive: boolean) => `WITH input AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::smallint[], $5::text[], $6::int[],
          $7::text[], $8::bigint[], $9::text[], $10::int[], $11::bigint[])
          WITH ORDINALITY AS i(id, tenant_id, grp, priority, state, max_attempts, payload, run_after,
            traceparent, call, enqueued_at, ord)),
      counts AS (SELECT tenant_id, sum(queued) AS queued FROM ${s}.queue_counts
        WHERE tenant_id = ANY($12::text[]) GROUP BY tenant_id),
      demand AS (SELECT d.call, d.tenant_id, coalesce(c.queued, 0)
          + sum(d.adding) OVER (PARTITION BY d.tenant_id ORDER BY d.call) > d.lim AS over
        FROM unnest($12::text[], $13::int[], $14::bigint[], $15::int[]) AS d(tenant_id, adding, lim, call)
        LEFT JOIN counts c USING (tenant_id)),
      refused AS (SELECT call, min(tenant_id) AS tenant_id FROM demand WHERE over GROUP BY call),
      busy AS (SELECT DISTINCT i.call FROM input i CROSS JOIN LATERAL (SELECT 1 FROM ${s}.queue_jobs q
        WHERE q.id = i.id AND q.state <> 'done' LIMIT 1) x),
      ins AS (INSERT INTO ${s}.queue_jobs AS j (id, tenant_id, grp, priority, state, attempt, max_attempts,
          payload, enqueued_at, run_after, traceparent)
        SELECT id, tenant_id, grp, priority, state, 1, max_attempts, payload, enqueued_at, run_after, traceparent
        FROM input WHERE call NOT IN (SELECT call FROM refused) AND call NOT IN (SELECT call FROM busy)
        ORDER BY ord${
          redrive
            ? `
        ON CONFLICT (id) DO UPDATE SET seq = nextval('${s}.queue_job_seq'), tenant_id = excluded.tenant_id,
          grp = excluded.grp, priority = excluded.priority, state = excluded.state, attempt = 1,
          max_attempts = excluded.max_attempts, payload = excluded.payload, enqueued_at = excluded.enqueued_at,
          run_after = excluded.run_after, traceparent = excluded.traceparent, worker_id = NULL,
          lease_until = NULL, cancel_requested = false, outcome = NULL, finished_at = NULL
        WHERE j.state = 'done'`
            : ''
        }
        RETURNING j.id, j.tenant_id),
      counted AS (${addCounts('ins', '', '$16::smallint')}),
      admitted AS (SELECT count(*) AS n FROM input
        WHERE call NOT IN (SELECT call FROM refused) AND call NOT IN (SELECT call FROM busy))
      SELECT c.call, (SELECT r.tenant_id FROM refused r WHERE r.call = c.call) AS refused,
        EXISTS (SELECT 1 FROM busy b WHERE b.call = c.call) AS busy
      FROM (SELECT DISTINCT call FROM input) c
      WHERE ${s}.queue_assert((SELECT count(*) FROM ins) = (SELECT n FROM admitted),
        'enqueue call half inserted')`;

  return {
    schema: `
      CREATE SCHEMA IF NOT EXISTS ${s};
      CREATE SEQUENCE IF NOT EXISTS ${s}.queue_job_seq;
      CREATE SEQUENCE IF NOT EXISTS ${s}.queue_served_seq;
      CREATE TABLE IF NOT EXISTS ${s}.queue_jobs (
        id text PRIMARY KEY,
        seq bigint NOT NULL DEFAULT nextval('${s}.queue_job_seq'),
        tenant_id text NOT NULL,
        grp text NOT NULL,
        priority smallint NOT NULL,
        state text NOT NULL,
        attempt int NOT NULL,
        max_attempts int NOT NULL,
        payload text NOT NULL,
        enqueued_at bigint NOT NULL,
        run_after bigint NOT NULL,
        traceparent text,
        worker_id text,
        lease_until bigint,
        cancel_requested boolean NOT NULL DEFAULT false,
        outcome text,
        finished_at bigint);
      CREATE INDEX IF NOT EXISTS queue_jobs_ready ON ${s}.queue_jobs (grp, priority DESC, seq) WHERE state = 'ready';
      CREATE INDEX IF NOT EXISTS queue_jobs_delayed ON ${s}.queue_jobs (run_after) WHERE state = 'delayed';
      CREATE INDEX IF NOT EXISTS queue_jobs_leased ON ${s}.queue_jobs (grp, lease_until) WHERE state = 'running';
      CREATE INDEX IF NOT EXISTS queue_jobs_finished ON ${s}.queue_jobs (finished_at) WHERE state = 'done';
      CREATE TABLE IF NOT EXISTS ${s}.queue_groups (
        grp text PRIMARY KEY,
        last_served bigint NOT NULL DEFAULT 0,
        concurrency int NOT NULL DEFAULT 0);
      CREATE OR REPLACE FUNCTION ${s}.queue_assert(ok boolean, message text) RETURNS boolean
        LANGUAGE plpgsql AS $fn$
        BEGIN
          IF NOT ok THEN RAISE EXCEPTION '%', message USING ERRCODE = 'unique_violation'; END IF;
          RETURN true;
        END $fn$;
      CREATE TABLE IF NOT EXISTS ${s}.queue_counts (
        tenant_id text NOT NULL,
        shard smallint NOT NULL,
        queued bigint NOT NULL,
        PRIMARY KEY (tenant_id, shard));`,

    /** Several enqueue calls in one statement; each call is admitted or refused whole.
     * $1 ids, $2 tenants, $3 groups, $4 priorities, $5 states, $6 max attempts, $7 payloads,
     * $8 run-after, $9 traceparents, $10 call of each job, $11 enqueued-at; demand rows per call and
     * tenant ('' = the whole queue): $12 tenants, $13 adding, $14 limits, $15 calls; $16 shard.
     * A call is refused when the counts plus the demand of the calls up to it exceed a limit,
     * and skipped when one of its ids is still unfinished. Returns one row per call. One
     * statement, so it commits whole or not at all: should a call end up half inserted (an
     * id inserted concurrently since the check), queue_assert aborts the statement. */
    enqueue: enqueue(false),
    /** The same, replacing finished jobs of the same ids (a re-drive). */
    enqueueRedrive: enqueue(true),

    /** $1 groups, $2 their limits. Its own statement so an enqueue never holds a counter row
     * while waiting for a group row a claim holds (claims lock groups, then counters). */
    registerGroups: `INSERT INTO ${s}.queue_groups (grp, concurrency)
      SELECT * FROM unnest($1::text[], $2::int[]) ORDER BY 1
      ON CONFLICT (grp) DO UPDATE SET concurrency = excluded.concurrency
      WHERE ${s}.queue_groups.concurrency IS DISTINCT FROM excluded.concurrency`,

    /** Due retries become ready; in a claim's transaction, SKIP LOCKED keeps claimers apart. */
    promoteDue: (now: number) => `UPDATE ${s}.queue_jobs SET state = 'ready' WHERE id IN (
        SELECT id FROM ${s}.queue_jobs WHERE state = 'delayed' AND run_after <= ${now}
        ORDER BY run_after LIMIT 1000 FOR UPDATE SKIP LOCKED)`,

    /** $1 now, $2 claim size: see candidates above. Reads only; takes no lock. */
    candidates,
    /** $1 groups with a concurrency limit: lock those no other claimer is serving right now. */
    lockCapped: `SELECT grp FROM ${s}.queue_groups WHERE grp = ANY($1::text[]) ORDER BY grp
      FOR UPDATE SKIP LOCKED`,
    /** $1 now, $2 groups: live leases, read after the lock so the count is exact. */
    leases: `SELECT grp, count(*)::int AS leased FROM ${s}.queue_jobs
      WHERE grp = ANY($2::text[]) AND state = 'running' AND lease_until >= $1 GROUP BY grp`,

    /** $1 groups, $2 jobs each, $3 worker, $4 lease until, $5 groups in rotation order, $6 shard. */
    claim: `WITH plan AS (SELECT * FROM unnest($1::text[], $2::int[]) AS p(grp, k)),
      picked AS (SELECT c.id FROM plan p CROSS JOIN LATERAL (
        SELECT q.id FROM ${s}.queue_jobs q WHERE q.grp = p.grp AND q.state = 'ready'
        ORDER BY q.priority DESC, q.seq LIMIT p.k FOR UPDATE SKIP LOCKED) c),
      claimed AS (UPDATE ${s}.queue_jobs j SET state = 'running', worker_id = $3, lease_until = $4,
          cancel_requested = false
        WHERE j.id = ANY (ARRAY(SELECT id FROM picked)) RETURNING ${JOB_COLUMNS}),
      served AS (UPDATE ${s}.queue_groups g SET last_served = b.base * 1024 + v.ord
        FROM (SELECT nextval('${s}.queue_served_seq') AS base) b,
          unnest($5::text[]) WITH ORDINALITY AS v(grp, ord)
        WHERE g.grp = v.grp AND g.grp IN (SELECT grp FROM ${s}.queue_groups WHERE grp = ANY($5::text[])
          FOR UPDATE SKIP LOCKED)),
      counted AS (${addCounts('claimed', '-', '$6::smallint')})
      SELECT * FROM claimed`,

    /** $1 ids, $2 workers, $3 outcomes, $4 now, $5 channel. */
    complete: `WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS i(id, worker_id, outcome)),
      done AS (UPDATE ${s}.queue_jobs j SET state = 'done', outcome = i.outcome, finished_at = $4,
          lease_until = NULL
        FROM input i WHERE j.id = ANY ($1::text[]) AND j.id = i.id AND j.state = 'running' AND j.worker_id = i.worker_id
          AND j.lease_until >= $4
        RETURNING j.id)
      SELECT id, pg_notify($5, 'd:' || id) FROM done`,

    /** $1 lease until, $2 ids, $3 worker, $4 now. */
    heartbeat: `UPDATE ${s}.queue_jobs SET lease_until = $1 WHERE id = ANY($2::text[]) AND state = 'running'
        AND worker_id = $3 AND lease_until >= $4 RETURNING id, cancel_requested`,

    held: `SELECT id, tenant_id, grp, attempt, max_attempts, cancel_requested FROM ${s}.queue_jobs
      WHERE id = $1 AND state = 'running' AND worker_id = $2 AND lease_until >= $3 FOR UPDATE`,
    lookup: `SELECT id, tenant_id, state FROM ${s}.queue_jobs WHERE id = $1 FOR UPDATE`,
    /** $1 id, $2 outcome, $3 now, $4 channel. One job per statement: a primary-key probe
     * whatever the table's statistics say (an id list was planned as a sequential scan
     * on a table not yet analyzed). */
    finish: `WITH done AS (UPDATE ${s}.queue_jobs SET state = 'done', outcome = $2, finished_at = $3,
          lease_until = NULL
        WHERE id = $1 RETURNING id)
      SELECT pg_notify($4, 'd:' || id) FROM done`,
    /** $1 id, $2 run-after, $3 now, $4 shard: back to waiting with attempt + 1 (and counted). */
    requeue: `WITH back AS (UPDATE ${s}.queue_jobs SET attempt = attempt + 1, run_after = $2::bigint,
          state = CASE WHEN $2::bigint <= $3::bigint THEN 'ready' ELSE 'delayed' END,
          worker_id = NULL, lease_until = NULL, cancel_requested = false
        WHERE id = $1 RETURNING tenant_id),
      counted AS (${addCounts('back', '', '$4::smallint')})
      SELECT nextval('${s}.queue_job_seq')`,
    /** $1 tenant, $2 shard: one waiting job less. */
    uncount: `INSERT INTO ${s}.queue_counts (tenant_id, shard, queued) VALUES ('', $2::smallint, -1), ($1, $2::smallint, -1)
      ON CONFLICT (tenant_id, shard) DO UPDATE SET queued = ${s}.queue_counts.queued + excluded.queued`,
    flagCancel: `UPDATE ${s}.queue_jobs SET cancel_requested = true WHERE id = $1`,
    expired: `SELECT id, tenant_id, attempt, max_attempts, cancel_requested FROM ${s}.queue_jobs
      WHERE state = 'running' AND lease_until < $1 ORDER BY lease_until LIMIT 500 FOR UPDATE SKIP LOCKED`,
    purge: `DELETE FROM ${s}.queue_jobs WHERE id IN (SELECT id FROM ${s}.queue_jobs
      WHERE state = 'done' AND finished_at < $1 ORDER BY finished_at LIMIT 5000)`,
    completion: `SELECT outcome, finished_at FROM ${s}.queue_jobs WHERE id = $1 AND state = 'done'`,
    depth: `SELECT tenant_id, state, count(*)::int AS n, min(run_after) AS oldest FROM ${s}.queue_jobs
      WHERE state <> 'done' GROUP BY tenant_id, state`,
    bumpStamp: `SELECT nextval('${s}.queue_job_seq')`,
    workStamp: `SELECT (SELECT last_value FROM ${s}.queue_job_seq) AS stamp,
      EXISTS (SELECT 1 FROM ${s}.queue_jobs WHERE state = 'delayed' AND run_after <= $1) AS due`,
  };
}

export type Statements = ReturnType<typeof statements>;
