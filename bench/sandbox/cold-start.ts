/**
 * Sandbox start and invoke latency for the test Python bootstrap, next to
 * the floor measured in the same run: a bare `bwrap ... python3 -I -S -c
 * pass` with the same namespaces (and a bare python spawn for scale).
 * Samples are interleaved so machine noise hits every row alike.
 * Usage: node bench/sandbox/cold-start.ts [--n 200] [--warm 2000]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { rootLayout } from '../../src/sandbox/bwrap/args.ts';
import { BwrapProvider } from '../../src/sandbox/bwrap/provider.ts';
import { ResourceLimitsEnforcer } from '../../src/sandbox/limits/index.ts';
import { silentLogger } from '../../src/sandbox/logger.ts';
import type { SandboxProvider } from '../../src/sandbox/port.ts';
import { ProcessProvider } from '../../src/sandbox/process/provider.ts';
import { makeSpec, PYTHON } from '../../test/integration/sandbox/fixtures/runtime.ts';
import { fmt, printTable, summarize, type Summary } from '../support/stats.ts';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '200' }, warm: { type: 'string', default: '2000' } },
});
const N = Number(values.n);
const WARM = Number(values.warm);

const FLOOR_ARGS = [
  '--unshare-user',
  '--unshare-pid',
  '--unshare-net',
  '--unshare-ipc',
  '--unshare-uts',
  '--unshare-cgroup-try',
  '--uid',
  '65534',
  '--gid',
  '65534',
  '--die-with-parent',
  '--new-session',
  '--cap-drop',
  'ALL',
  '--ro-bind',
  '/usr',
  '/usr',
  ...rootLayout(),
  '--proc',
  '/proc',
  '--dev',
  '/dev',
  '--tmpfs',
  '/tmp',
  PYTHON,
  '-I',
  '-S',
  '-c',
  'pass',
];

function timeSpawn(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(cmd, args, { stdio: 'ignore', env: {} });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(performance.now() - t) : reject(new Error(`${cmd} exited ${code}`)),
    );
  });
}

async function timeStart(provider: SandboxProvider): Promise<number> {
  const spec = makeSpec({ entrypoint: 'trivial.main' });
  const t = performance.now();
  const sandbox = await provider.start(spec);
  const ms = performance.now() - t;
  if (!sandbox.reusable) throw new Error('the bench sandbox failed to start');
  await sandbox.destroy();
  return ms;
}

async function warmInvokes(provider: SandboxProvider): Promise<number[]> {
  const sandbox = await provider.start(makeSpec({ entrypoint: 'trivial.main' }));
  const samples: number[] = [];
  const context = {
    executionId: 'bench',
    tenantId: 't',
    rufid: 'r',
    functionName: 'f',
    version: 1,
    branch: 'main',
    memoryLimitMb: 128,
    deadlineMs: 0,
  };
  for (let i = 0; i < WARM + 50; i++) {
    const t = performance.now();
    const r = await sandbox.invoke(
      { id: String(i), input: { i }, context },
      { timeoutMs: 5000, onLog: () => undefined },
    );
    if (r.outcome.kind !== 'ok') throw new Error(JSON.stringify(r.outcome));
    if (i >= 50) samples.push(performance.now() - t);
  }
  await sandbox.destroy();
  return samples;
}

const logger = silentLogger();
const enforcer = ResourceLimitsEnforcer.create({ logger });
const bwrap = new BwrapProvider({ logger, enforcer });
const proc = new ProcessProvider({ logger, enforcer });
const rows: Record<string, number[]> = { floor: [], python: [], bwrap: [], process: [] };
for (let i = 0; i < 5; i++) await timeStart(bwrap); // warm the page cache and the JIT
for (let i = 0; i < N; i++) {
  rows.floor!.push(await timeSpawn('/usr/bin/bwrap', FLOOR_ARGS));
  rows.python!.push(await timeSpawn(PYTHON, ['-I', '-S', '-c', 'pass']));
  rows.bwrap!.push(await timeStart(bwrap));
  rows.process!.push(await timeStart(proc));
}
const warmBwrap = await warmInvokes(bwrap);
const warmProcess = await warmInvokes(proc);
await bwrap.close();
await proc.close();
await enforcer.close();

interface Row {
  name: string;
  summary: Summary;
  min: number;
  vsFloor: boolean;
}
const row = (name: string, samples: number[], vsFloor = false): Row => ({
  name,
  summary: summarize(samples),
  min: Math.min(...samples),
  vsFloor,
});
const table: Row[] = [
  row('floor: bare bwrap + python3 -I -S -c pass', rows.floor!),
  row('bare python3 -I -S -c pass (no bwrap)', rows.python!),
  row('cold start, bwrap (cgroups + seccomp + ready)', rows.bwrap!, true),
  row('cold start, process (cgroups + ready)', rows.process!, true),
  row('warm invoke, bwrap', warmBwrap),
  row('warm invoke, process', warmProcess),
];
const floor = table[0]!;
printTable(
  `sandbox start and invoke (ms), cgroup ${enforcer.mode}, n=${N}, warm n=${WARM}`,
  ['what', 'min', 'p50', 'p99', 'p50 / floor p50', 'min / floor min'],
  table.map((r) => [
    r.name,
    fmt(r.min),
    fmt(r.summary.p50),
    fmt(r.summary.p99),
    r.vsFloor ? fmt(r.summary.p50 / floor.summary.p50) : '',
    r.vsFloor ? fmt(r.min / floor.min) : '',
  ]),
);
const out = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(
  path.join(out, 'sandbox-cold-start.json'),
  `${JSON.stringify(Object.fromEntries(table.map((r) => [r.name, { ...r.summary, min: r.min }])), null, 2)}\n`,
);
