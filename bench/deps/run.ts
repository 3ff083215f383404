/**
 * `npm run bench -- deps`: what declared dependencies cost.
 * 1. First install of a set (fresh cache each time, through the install
 *    sandbox): an npm package from the registry, a one-module wheel, and a
 *    200-module wheel with and without install-time bytecode compilation.
 * 2. The lookup a cached set costs: `ensure` on a hit, first in a process
 *    (the entry's tree is checked against its marker once) and steady;
 *    `acquire` + `release` as the engine uses it.
 * 3. The time a cached set adds to a cold start: bwrap sandbox start plus
 *    the first invocation, with the set looked up, mounted and imported,
 *    against the same function without dependencies.
 * Usage: node bench/deps/run.ts [--installs 3] [--hits 2000] [--cold 15]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { specFor } from '../../src/deps/index.ts';
import type { DependencyCache, DependencySpec } from '../../src/deps/index.ts';
import { NodeRuntime, PythonRuntime } from '../../src/runtimes/index.ts';
import type { RuntimeAdapter } from '../../src/runtimes/index.ts';
import { BwrapProvider } from '../../src/sandbox/bwrap/provider.ts';
import { silentLogger } from '../../src/sandbox/index.ts';
import type { SandboxProvider } from '../../src/sandbox/index.ts';
import { fmt, printTable, summarize } from '../support/stats.ts';
import { benchCache, makeWheel, PYTHON, scratch, taskDir } from './fixtures.ts';

const { values } = parseArgs({
  options: {
    installs: { type: 'string', default: '3' },
    hits: { type: 'string', default: '2000' },
    cold: { type: 'string', default: '15' },
  },
});
const INSTALLS = Number(values.installs);
const HITS = Number(values.hits);
const COLD = Number(values.cold);

const py = (deps: string[]): DependencySpec =>
  specFor({ runtime: 'python3.11', entrypoint: 'main.handler', dependencies: deps }, {})!;
const npmSpec = specFor(
  { runtime: 'node24', entrypoint: 'index.handler', dependencies: { 'is-number': '7.0.0' } },
  {},
)!;

const work = await scratch('relay-bench-deps-');
const wheelhouse = path.join(work.dir, 'wheelhouse');
mkdirSync(wheelhouse, { recursive: true });
await makeWheel(wheelhouse, 'onemod', 1);
await makeWheel(wheelhouse, 'manymods', 200);

type Row = { name: string; samples: number[] };
const rows: Record<string, Row[]> = { install: [], lookup: [], cold: [] };
let dirs = 0;
const freshDir = (): string => path.join(work.dir, `data-${(dirs += 1)}`);

/** First install of `spec` into an empty cache, `INSTALLS` times. */
async function firstInstalls(
  name: string,
  spec: DependencySpec,
  options: { pipCompile?: boolean } = {},
): Promise<void> {
  const samples: number[] = [];
  for (let i = 0; i < INSTALLS; i++) {
    const cache = benchCache(freshDir(), wheelhouse, options);
    const t = performance.now();
    const result = await cache.ensure(spec);
    samples.push(performance.now() - t);
    if (result.cached) throw new Error('expected an install');
  }
  rows.install!.push({ name, samples });
}

await firstInstalls('npm: is-number@7.0.0 from the registry', npmSpec);
await firstInstalls('pip: 1-module wheel from a wheelhouse', py(['onemod==1.0.0']));
await firstInstalls('pip: 200-module wheel, bytecode compiled (default)', py(['manymods==1.0.0']));
await firstInstalls('pip: 200-module wheel, --no-compile', py(['manymods==1.0.0']), {
  pipCompile: false,
});

// One shared data dir for the lookup and cold-start parts, with every set installed.
const dataDir = freshDir();
const cache = benchCache(dataDir, wheelhouse);
const noCompileDir = freshDir();
const noCompile = benchCache(noCompileDir, wheelhouse, { pipCompile: false });
for (const spec of [npmSpec, py(['onemod==1.0.0']), py(['manymods==1.0.0'])])
  await cache.ensure(spec);
await noCompile.ensure(py(['manymods==1.0.0']));

async function timed(n: number, step: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await step();
    samples.push(performance.now() - t);
  }
  return samples;
}

for (const [label, spec] of [
  ['npm set', npmSpec],
  ['200-module set', py(['manymods==1.0.0'])],
] as const) {
  rows.lookup!.push({
    name: `ensure hit, new cache object (installer probe + tree check), ${label}`,
    samples: await timed(20, () => benchCache(dataDir, wheelhouse).ensure(spec)),
  });
  rows.lookup!.push({
    name: `ensure hit, steady, ${label}`,
    samples: await timed(HITS, () => cache.ensure(spec)),
  });
  rows.lookup!.push({
    name: `acquire + release hit, ${label}`,
    samples: await timed(HITS, async () => (await cache.acquire(spec)).release()),
  });
}

// Cold starts: a fresh bwrap sandbox and its first invocation, per sample.
const logger = silentLogger();
const provider: SandboxProvider = new BwrapProvider({ logger });
const python = new PythonRuntime({ pythonPath: PYTHON });
const node = new NodeRuntime();
const limits = {
  memoryMb: 256,
  cpus: 1,
  pids: 64,
  tmpMb: 16,
  fileSizeMb: 8,
  maxResultBytes: 1 << 20,
};
const context = {
  executionId: 'b',
  tenantId: 't',
  rufid: 'r',
  functionName: 'f',
  version: 1,
  branch: 'main',
  memoryLimitMb: 256,
  deadlineMs: 0,
};
let pool = 0;

async function coldStart(
  runtime: RuntimeAdapter,
  entrypoint: string,
  task: string,
  deps: { cache: DependencyCache; spec: DependencySpec } | null,
): Promise<number> {
  const t = performance.now();
  const lease = deps ? await deps.cache.acquire(deps.spec) : null;
  const sandbox = await provider.start({
    poolKey: `bench-${(pool += 1)}`,
    tenantId: 't',
    rufid: 'r',
    version: 1,
    branch: 'main',
    runtime,
    entrypoint,
    taskDir: task,
    ...(lease ? { depsDir: lease.dir } : {}),
    env: {},
    network: false,
    limits,
  });
  const reply = await sandbox.invoke(
    { id: '1', input: {}, context },
    { timeoutMs: 30_000, onLog: () => undefined },
  );
  const ms = performance.now() - t;
  await sandbox.destroy();
  lease?.release();
  if (reply.outcome.kind !== 'ok')
    throw new Error(`cold start failed: ${JSON.stringify(reply.outcome)}`);
  return ms;
}

const plain = await taskDir(
  work.dir,
  'py-plain',
  'main.py',
  'def handler(event, context):\n    return {"ok": True}\n',
);
const one = await taskDir(
  work.dir,
  'py-one',
  'main.py',
  'import onemod\n\ndef handler(event, context):\n    return {"ok": True}\n',
);
const many = await taskDir(
  work.dir,
  'py-many',
  'main.py',
  'import manymods\n\ndef handler(event, context):\n    return {"ok": True}\n',
);
const nodePlain = await taskDir(
  work.dir,
  'node-plain',
  'index.mjs',
  'export async function handler() {\n  return { ok: true };\n}\n',
);
const nodeDeps = await taskDir(
  work.dir,
  'node-deps',
  'index.mjs',
  "import isNumber from 'is-number';\nexport async function handler() {\n  return { ok: isNumber(5) };\n}\n",
);
const cases: Array<[string, () => Promise<number>]> = [
  ['python, no dependencies', () => coldStart(python, 'main.handler', plain, null)],
  [
    'python, 1-module set (lookup + mount + import)',
    () => coldStart(python, 'main.handler', one, { cache, spec: py(['onemod==1.0.0']) }),
  ],
  [
    'python, 200-module set, compiled',
    () => coldStart(python, 'main.handler', many, { cache, spec: py(['manymods==1.0.0']) }),
  ],
  [
    'python, 200-module set, not compiled',
    () =>
      coldStart(python, 'main.handler', many, { cache: noCompile, spec: py(['manymods==1.0.0']) }),
  ],
  ['node, no dependencies', () => coldStart(node, 'index.handler', nodePlain, null)],
  [
    'node, is-number set (lookup + mount + import)',
    () => coldStart(node, 'index.handler', nodeDeps, { cache, spec: npmSpec }),
  ],
];
// Warm-up (page cache, the adapters' one-time probes); a case that cannot run is reported, not timed.
const failed = new Map<string, string>();
for (const [name, step] of cases) {
  try {
    await step();
  } catch (err) {
    failed.set(name, (err as Error).message.slice(0, 160).replace(/\s+/g, ' '));
  }
}
const runnable = cases.filter(([name]) => !failed.has(name));
const cold: Record<string, number[]> = {};
// Interleaved, so machine noise hits every case alike.
for (let i = 0; i < COLD; i++)
  for (const [name, step] of runnable) (cold[name] ??= []).push(await step());
for (const [name] of runnable) rows.cold!.push({ name, samples: cold[name]! });
await provider.close();
await work.cleanup();

const load = loadavg()[0]!;
const table = (title: string, list: Row[], base?: (row: Row) => Row | undefined): void =>
  printTable(
    title,
    ['what', 'n', 'min', 'p50', 'p99', ...(base ? ['p50 added'] : [])],
    list.map((row) => {
      const s = summarize(row.samples);
      const b = base?.(row);
      return [
        row.name,
        String(s.n),
        fmt(Math.min(...row.samples)),
        fmt(s.p50),
        fmt(s.p99),
        ...(base ? [b && b !== row ? fmt(s.p50 - summarize(b.samples).p50) : ''] : []),
      ];
    }),
  );
table(
  `first install (ms), through the install sandbox, load average ${load.toFixed(1)}`,
  rows.install!,
);
table('cached set lookup (ms)', rows.lookup!);
table('cold start: sandbox start + first invocation (ms), bwrap', rows.cold!, (row) =>
  rows.cold!.find(
    (r) =>
      r.name ===
      (row.name.startsWith('node') ? 'node, no dependencies' : 'python, no dependencies'),
  ),
);

for (const [name, reason] of failed) console.log(`cold start case "${name}" failed: ${reason}`);

const out = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(
  path.join(out, 'deps.json'),
  `${JSON.stringify(
    {
      loadAverage: load,
      failed: Object.fromEntries(failed),
      sections: Object.fromEntries(
        Object.entries(rows).map(([k, list]) => [
          k,
          list.map((r) => ({ name: r.name, ...summarize(r.samples), min: Math.min(...r.samples) })),
        ]),
      ),
    },
    null,
    2,
  )}\n`,
);
