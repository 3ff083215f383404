/**
 * bench/execute: what a call costs, next to the floor measured in the same
 * run so the ratio holds on a noisy machine.
 *
 * - cold start over HTTP (warm pool off: every call starts a sandbox) per
 *   runtime, beside a bare spawn of the same interpreter and beside the
 *   same interpreter under full isolation (bwrap + cgroups + seccomp);
 * - warm invoke over HTTP per runtime, beside a Fastify route that does
 *   nothing, with the same keep-alive client;
 * - warm executions per second with 32 calls in flight.
 *
 * Run: npm run bench -- execute   (or node bench/execute/run.ts)
 * Writes bench/results/execute.json.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createIsolatedRunner, type IsolatedRunner } from '../../src/sandbox/index.ts';
import { BenchClient } from '../support/http.ts';
import { fmt, printTable, summarize, type Summary } from '../support/stats.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const KEY = 'rk_bench_0123456789abcdef0123456789abcdef';
const PYTHON = '/usr/bin/python3';
const WARM_CALLS = Number(process.env.BENCH_WARM_CALLS ?? 2000);
const COLD_CALLS = Number(process.env.BENCH_COLD_CALLS ?? 40);
const THROUGHPUT_SECONDS = Number(process.env.BENCH_THROUGHPUT_SECONDS ?? 5);
const RUNTIMES = [
  { name: 'python3.11', example: 'python-echo' },
  { name: 'node24', example: 'node-echo' },
  { name: 'wasm', example: 'wasm-echo' },
] as const;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

interface Started {
  url: string;
  stop(): Promise<void>;
}

/** Starts a Node script as a server process and waits for `readyPath` to answer 200. */
async function startProcess(
  args: string[],
  env: Record<string, string>,
  port: number,
  readyPath: string,
): Promise<Started> {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: os.tmpdir(),
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const client = new BenchClient(url);
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
    const ok = await client.request('GET', readyPath).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  client.close();
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

async function startRelay(env: Record<string, string>): Promise<Started & { dataDir: string }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'relay-bench-'));
  const started = await startProcess(
    ['bin/relay.ts', 'serve'],
    { RELAY_DATA_DIR: dataDir, RELAY_BOOTSTRAP_API_KEY: KEY, RELAY_LOG_LEVEL: 'warn', ...env },
    await freePort(),
    '/readyz',
  );
  return {
    ...started,
    dataDir,
    stop: async () => {
      await started.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function deployExample(client: BenchClient, example: string): Promise<string> {
  const dir = path.join(ROOT, 'examples', example);
  const manifest: unknown = JSON.parse(await readFile(path.join(dir, 'relay.json'), 'utf8'));
  const files: Record<string, string | { base64: string }> = {};
  for (const name of await readdir(dir)) {
    if (name === 'relay.json') continue;
    const bytes = await readFile(path.join(dir, name));
    files[name] = name.endsWith('.wasm')
      ? { base64: bytes.toString('base64') }
      : bytes.toString('utf8');
  }
  const res = await client.request('POST', '/api/v1/functions', {
    name: `bench-${example}`,
    manifest,
    files,
  });
  if (res.status !== 201 && res.status !== 200)
    throw new Error(`deploy ${example}: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { rufid: string }).rufid;
}

async function timeCalls(n: number, call: () => Promise<void>): Promise<Summary> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await call();
    samples.push(performance.now() - t);
  }
  return summarize(samples);
}

async function execute(client: BenchClient, rufid: string, input: unknown): Promise<void> {
  const res = await client.request('POST', `/api/v1/functions/${rufid}/execute`, { input });
  if (res.status !== 200)
    throw new Error(`execute ${rufid}: ${res.status} ${JSON.stringify(res.body)}`);
}

function spawnFloor(argv: string[]): () => Promise<void> {
  return () =>
    new Promise((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { env: {}, stdio: 'ignore' });
      child.once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`${argv[0]} exited ${code}`)),
      );
      child.once('error', reject);
    });
}

function isolatedFloor(runner: IsolatedRunner, argv: string[]): () => Promise<void> {
  // Only /usr is visible by default; an interpreter elsewhere (Relay's Node) is bound read-only.
  const binds = argv[0]!.startsWith('/usr/')
    ? []
    : [{ host: argv[0]!, sandbox: argv[0]!, writable: false }];
  return async () => {
    const r = await runner.run({
      argv,
      env: {},
      binds,
      network: false,
      timeoutMs: 10_000,
      memoryMb: 256,
      cwd: '/tmp',
      pids: 64,
    });
    if (r.code !== 0) throw new Error(`isolated ${argv.join(' ')}: ${r.code} ${r.stderr}`);
  };
}

async function throughput(
  client: BenchClient,
  rufid: string,
  seconds: number,
  inFlight: number,
): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < until) {
        await execute(client, rufid, { n: done });
        done++;
      }
    }),
  );
  return done / seconds;
}

async function main(): Promise<void> {
  const nodeBin = process.execPath;
  const report: Record<string, unknown> = {
    machine: { cpus: os.availableParallelism(), node: process.version },
    at: new Date().toISOString(),
  };

  // Floors for cold starts; the runner probes bwrap and makes its cgroup parent once, as Relay does.
  const runner = await createIsolatedRunner({ mode: 'bwrap' });
  const floors = {
    python: await timeCalls(COLD_CALLS, spawnFloor([PYTHON, '-I', '-S', '-c', 'pass'])),
    node: await timeCalls(COLD_CALLS, spawnFloor([nodeBin, '-e', '0'])),
    pythonIsolated: await timeCalls(
      COLD_CALLS,
      isolatedFloor(runner, [PYTHON, '-I', '-S', '-c', 'pass']),
    ),
    nodeIsolated: await timeCalls(COLD_CALLS, isolatedFloor(runner, [nodeBin, '-e', '0'])),
  };

  // Floor for warm calls: a Fastify route that does nothing, same client.
  const bare = await startProcess(['bench/execute/bare-server.ts'], {}, await freePort(), '/noop');
  const bareClient = new BenchClient(bare.url);
  await timeCalls(200, async () => void (await bareClient.request('POST', '/noop', { input: {} })));
  const bareWarm = await timeCalls(
    WARM_CALLS,
    async () => void (await bareClient.request('POST', '/noop', { input: { n: 1 } })),
  );
  bareClient.close();
  await bare.stop();

  const warm: Record<string, Summary> = {};
  const perSecond: Record<string, number> = {};
  const relay = await startRelay({});
  const client = new BenchClient(relay.url, { authorization: `Bearer ${KEY}` });
  try {
    for (const rt of RUNTIMES) {
      const rufid = await deployExample(client, rt.example);
      await timeCalls(200, () => execute(client, rufid, { warm: true }));
      warm[rt.name] = await timeCalls(WARM_CALLS, () => execute(client, rufid, { ping: 'pong' }));
      perSecond[rt.name] = await throughput(client, rufid, THROUGHPUT_SECONDS, 32);
    }
  } finally {
    client.close();
    await relay.stop();
  }

  const cold: Record<string, Summary> = {};
  const coldRelay = await startRelay({ SANDBOX_WARM_MAX: '0' });
  const coldClient = new BenchClient(coldRelay.url, { authorization: `Bearer ${KEY}` });
  try {
    for (const rt of RUNTIMES) {
      const rufid = await deployExample(coldClient, rt.example);
      await execute(coldClient, rufid, {});
      cold[rt.name] = await timeCalls(COLD_CALLS, () => execute(coldClient, rufid, { cold: true }));
    }
  } finally {
    coldClient.close();
    await coldRelay.stop();
  }

  printTable(
    `Cold start over HTTP (new sandbox each call), ms, n=${COLD_CALLS}`,
    ['what', 'p50', 'p99', 'floor (isolated) p50', 'ratio p50', 'bare spawn p50'],
    RUNTIMES.map((rt) => {
      const isolated = rt.name === 'python3.11' ? floors.pythonIsolated : floors.nodeIsolated;
      const bareSpawn = rt.name === 'python3.11' ? floors.python : floors.node;
      const c = cold[rt.name]!;
      return [
        rt.name,
        fmt(c.p50),
        fmt(c.p99),
        fmt(isolated.p50),
        `${(c.p50 / isolated.p50).toFixed(2)}x`,
        fmt(bareSpawn.p50),
      ];
    }),
  );
  printTable(
    `Warm invoke over HTTP, ms, n=${WARM_CALLS} sequential (keep-alive)`,
    ['what', 'p50', 'p99', 'mean', 'per second (32 in flight)'],
    [
      [
        'bare Fastify route (floor)',
        fmt(bareWarm.p50, 3),
        fmt(bareWarm.p99, 3),
        fmt(bareWarm.mean, 3),
        '-',
      ],
      ...RUNTIMES.map((rt) => {
        const w = warm[rt.name]!;
        return [
          rt.name,
          fmt(w.p50, 3),
          fmt(w.p99, 3),
          fmt(w.mean, 3),
          perSecond[rt.name]!.toFixed(0),
        ];
      }),
    ],
  );
  Object.assign(report, { floors, bareWarm, warm, perSecond, cold });
  await mkdir(path.join(ROOT, 'bench/results'), { recursive: true });
  await writeFile(
    path.join(ROOT, 'bench/results/execute.json'),
    `${JSON.stringify(report, null, 2)}\n`,
  );
  console.log('\nwrote bench/results/execute.json');
}

await main();
