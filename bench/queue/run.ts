/**
 * Queue benchmark (never part of npm test). Per backend it measures Relay's
 * queue, a hand-written floor and the library Relay would otherwise use
 * (BullMQ on Redis, pg-boss on Postgres), in the same run on the same
 * services: enqueue/s one at a time (50 callers) and in batches of 100,
 * claim+complete/s with 50 jobs in flight (medians of rounds in which the
 * systems of a backend take turns), enqueue-to-completion latency
 * at 1,000 jobs/s offered, and a fairness run (one tenant floods 18,000
 * jobs, then 100 tenants send 20 each). Prints tables and writes
 * bench/results/queue.json.
 *
 *   node --disable-warning=ExperimentalWarning bench/queue/run.ts
 *   BENCH_QUEUE_BACKENDS=sqlite,redis BENCH_QUEUE_SCALE=0.2 BENCH_QUEUE_ROUNDS=1 node ... bench/queue/run.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { postgresFloor, redisFloor, sqliteFloor } from './floors.ts';
import {
  claimCompleteRate,
  enqueueBatchRate,
  enqueueSingleRate,
  fairnessRun,
  latencyAtRate,
  type FairnessResult,
  type Subject,
} from './harness.ts';
import { bullmqSubject, pgBossSubject } from './libraries.ts';
import { relaySubject, type Services } from './relay.ts';

const env = process.env;
const services: Services = {
  postgresUrl: env.RELAY_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  redisUrl: env.RELAY_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
};
const scale = Number(env.BENCH_QUEUE_SCALE ?? 1);
const backends = (env.BENCH_QUEUE_BACKENDS ?? 'sqlite,redis,postgres').split(',');
const params = {
  /** Throughput is measured in rounds, the systems of a backend taking turns; the median counts. */
  rounds: Number(env.BENCH_QUEUE_ROUNDS ?? 3),
  singleJobs: Math.round(3_000 * scale),
  batchJobs: Math.round(10_000 * scale),
  latencyRate: 1_000,
  latencySeconds: Math.max(2, Math.round(5 * scale)),
  flood: Math.round(18_000 * scale),
  smallTenants: 100,
  smallJobs: 20,
};

interface Row {
  backend: string;
  system: string;
  shape: string;
  enqueueSingle: number;
  enqueueBatch: number;
  claimComplete: number;
  p50?: number;
  p99?: number;
  fairness?: FairnessResult;
}

type Factory = () => Promise<Subject> | Subject;

const subjects: Record<string, Factory[]> = {
  sqlite: [() => relaySubject('sqlite', services), () => sqliteFloor()],
  redis: [
    () => relaySubject('redis', services),
    () => redisFloor(services),
    () => bullmqSubject(services),
  ],
  postgres: [
    () => relaySubject('postgres', services),
    () => postgresFloor(services),
    () => pgBossSubject(services),
  ],
};

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;

/** One round of throughput for one subject; ids of each round are distinct (`round` offsets them). */
async function throughputRound(s: Subject, round: number) {
  const base = (round + 1) * 10_000_000;
  console.error(`${s.backend}/${s.system}: round ${round + 1}`);
  const single = await enqueueSingleRate(s, params.singleJobs, base);
  const batch = await enqueueBatchRate(s, params.batchJobs, base + 1_000_000);
  const claim = await claimCompleteRate(s, params.singleJobs + params.batchJobs);
  return { single, batch, claim };
}

/** Latency and fairness, once per subject (floors have neither a wake-up nor fairness). */
async function behaviour(s: Subject, row: Row): Promise<void> {
  if (s.system === 'floor') return;
  const label = `${s.backend}/${s.system}`;
  console.error(`${label}: latency`);
  await s.reset();
  const lat = await latencyAtRate(s, params.latencyRate, params.latencySeconds, 2_000_000);
  if (lat.timedOut) console.error(`${label}: only ${lat.completed} jobs completed in time`);
  row.p50 = lat.p50;
  row.p99 = lat.p99;
  console.error(`${label}: fairness`);
  await s.reset();
  row.fairness = await fairnessRun(
    s,
    3_000_000,
    params.flood,
    params.smallTenants,
    params.smallJobs,
  );
}

/** Every system of one backend: throughput in alternating rounds (so load swings hit all alike), then behaviour. */
async function measureBackend(factories: Factory[]): Promise<Row[]> {
  const opened: Subject[] = [];
  try {
    for (const make of factories) opened.push(await make());
    const samples = opened.map(() => ({
      single: [] as number[],
      batch: [] as number[],
      claim: [] as number[],
    }));
    for (let round = 0; round < params.rounds; round++) {
      for (const [i, s] of opened.entries()) {
        const r = await throughputRound(s, round);
        const acc = samples[i]!;
        acc.single.push(r.single);
        acc.batch.push(r.batch);
        acc.claim.push(r.claim);
      }
    }
    const rows: Row[] = opened.map((s, i) => ({
      backend: s.backend,
      system: s.system,
      shape: s.shape,
      enqueueSingle: median(samples[i]!.single),
      enqueueBatch: median(samples[i]!.batch),
      claimComplete: median(samples[i]!.claim),
    }));
    for (const [i, s] of opened.entries()) await behaviour(s, rows[i]!);
    return rows;
  } finally {
    for (const s of opened) await s.close();
  }
}

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n)
    ? '-'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits });

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  return [
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

const rows: Row[] = [];
for (const backend of backends) rows.push(...(await measureBackend(subjects[backend] ?? [])));

const floorOf = (backend: string) =>
  rows.find((r) => r.backend === backend && r.system === 'floor');
const throughput = table(
  [
    'backend',
    'system',
    'enqueue/s (1)',
    'enqueue/s (100)',
    'claim+complete/s',
    'x floor',
    'p50 ms',
    'p99 ms',
  ],
  rows.map((r) => {
    const floor = floorOf(r.backend);
    return [
      r.backend,
      r.system,
      fmt(r.enqueueSingle),
      fmt(r.enqueueBatch),
      fmt(r.claimComplete),
      floor === undefined ? '-' : fmt(r.claimComplete / floor.claimComplete, 2),
      fmt(r.p50, 1),
      fmt(r.p99, 1),
    ];
  }),
);
const fairness = table(
  ['backend', 'system', 'small tenants done (ms)', 'last small claim #', 'median first claim #'],
  rows
    .filter((r) => r.fairness !== undefined)
    .map((r) => [
      r.backend,
      r.system,
      fmt(r.fairness?.smallDoneMs),
      fmt(r.fairness?.lastSmallClaim),
      fmt(r.fairness?.medianFirstClaim),
    ]),
);
console.log(
  `\nQueue throughput (median of ${params.rounds} rounds, 50 jobs in flight) and latency (at ${params.latencyRate} jobs/s offered)\n`,
);
console.log(throughput);
console.log(
  `\nFairness: one tenant floods ${params.flood} jobs, then ${params.smallTenants} tenants send ${params.smallJobs} each\n`,
);
console.log(fairness);

const out = path.join(import.meta.dirname, '..', 'results', 'queue.json');
mkdirSync(path.dirname(out), { recursive: true });
const machine = { node: process.version, cpus: os.cpus().length, loadavg: os.loadavg() };
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), machine, params, rows }, null, 2)}\n`,
);
console.log(`\nwrote ${path.relative(process.cwd(), out)}`);
