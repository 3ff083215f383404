/**
 * Sandbox start and invoke latency for the test Python bootstrap, next to
 * the floor measured in the same run: a bare `bwrap ... python3 -I -S -c
 * pass` with the same namespaces, as the same host user (and a bare python
 * spawn for scale). A networked start is measured too: its slirp4netns and
 * route setup run in the sandbox's cgroup, so its CPU column counts them.
 * Samples are interleaved so machine noise hits every row alike. Wall time
 * suffers on a shared, loaded machine, so CPU time (from the cgroup's
 * cpuacct) is shown too: it counts the work a start costs, not the waiting.
 * Usage: node bench/sandbox/cold-start.ts [--n 200] [--warm 2000]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PythonRuntime } from '../../src/runtimes/python/index.ts';
import { rootLayout } from '../../src/sandbox/bwrap/args.ts';
import { BwrapProvider } from '../../src/sandbox/bwrap/provider.ts';
import { sandboxCredentials } from '../../src/sandbox/credentials.ts';
import { whenExited } from '../../src/sandbox/kill.ts';
import { launch } from '../../src/sandbox/launcher.ts';
import { ResourceLimitsEnforcer } from '../../src/sandbox/limits/index.ts';
import { readInt, readKey } from '../../src/sandbox/limits/group.ts';
import { silentLogger } from '../../src/sandbox/logger.ts';
import type { SandboxProvider, SandboxSpec } from '../../src/sandbox/port.ts';
import { ProcessProvider } from '../../src/sandbox/process/provider.ts';
import { makeSpec, PYTHON } from '../../test/integration/sandbox/fixtures/runtime.ts';
import { cgroupDirsOf } from '../../test/integration/sandbox/helpers.ts';
import { fmt, printTable, summarize } from '../support/stats.ts';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '200' }, warm: { type: 'string', default: '2000' } },
});
const N = Number(values.n);
const WARM = Number(values.warm);

// prettier-ignore
const FLOOR_ARGS = [
  '--unshare-user', '--unshare-pid', '--unshare-net', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
  '--uid', '65534', '--gid', '65534', '--die-with-parent', '--new-session', '--cap-drop', 'ALL',
  '--ro-bind', '/usr', '/usr', ...rootLayout(), '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
  PYTHON, '-I', '-S', '-c', 'pass',
];

interface Sample {
  wallMs: number;
  cpuMs: number;
}

/** CPU time charged to a cgroup directory set (v1 cpuacct or v2 cpu.stat). */
function cpuMsOf(dirs: readonly string[]): number {
  for (const dir of dirs) {
    const ns = readInt(path.join(dir, 'cpuacct.usage'));
    if (ns !== undefined) return ns / 1e6;
    const usec = readKey(path.join(dir, 'cpu.stat'), 'usage_usec');
    if (usec !== undefined) return usec / 1000;
  }
  return NaN;
}

const creds = sandboxCredentials();

function timeSpawn(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(cmd, args, {
      stdio: 'ignore',
      env: {},
      ...(creds ? { uid: creds.uid, gid: creds.gid } : {}),
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(performance.now() - t) : reject(new Error(`${cmd} exited ${code}`)),
    );
  });
}

/** CPU time of the floor command, run inside a throwaway cgroup so it can be counted. */
async function floorCpu(enforcer: ResourceLimitsEnforcer): Promise<number> {
  const group = enforcer.cgroup(`bench${Math.random().toString(16).slice(2)}`, {
    memoryMb: 512,
    cpus: 4,
    pids: 64,
  });
  if (!group) return NaN;
  const child = launch(
    {
      argv: ['/usr/bin/bwrap', ...FLOOR_ARGS],
      env: {},
      procsFiles: group.procsFiles,
      rlimits: { cpuSeconds: 60, fileSizeBytes: 1 << 30 },
      credentials: creds,
    },
    [],
  );
  await whenExited(child);
  const ns = group.snapshot().cpuNs;
  await group.remove();
  return ns === undefined ? NaN : ns / 1e6;
}

async function timeStart(provider: SandboxProvider, spec: () => SandboxSpec): Promise<Sample> {
  const t = performance.now();
  const sandbox = await provider.start(spec());
  const wallMs = performance.now() - t;
  const cpuMs = cpuMsOf(cgroupDirsOf(sandbox.id));
  if (!sandbox.reusable) throw new Error('the bench sandbox failed to start');
  await sandbox.destroy();
  return { wallMs, cpuMs };
}

async function warmInvokes(provider: SandboxProvider, spec: SandboxSpec): Promise<number[]> {
  const sandbox = await provider.start(spec);
  const samples: number[] = [];
  // prettier-ignore
  const context = { executionId: 'bench', tenantId: 't', rufid: 'r', functionName: 'f', version: 1, branch: 'main', memoryLimitMb: 128, deadlineMs: 0 };
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
const python = new PythonRuntime({ pythonPath: PYTHON });
const fixture = (): SandboxSpec => makeSpec({ entrypoint: 'trivial.main' });
const networked = (): SandboxSpec => makeSpec({ entrypoint: 'trivial.main', network: true });
const product = (): SandboxSpec => makeSpec({ runtime: python, entrypoint: 'trivial.main' });

const wall: Record<string, number[]> = {};
const cpu: Record<string, number[]> = {};
const add = (name: string, s: Sample): void => {
  (wall[name] ??= []).push(s.wallMs);
  (cpu[name] ??= []).push(s.cpuMs);
};
const load = loadavg()[0]!;
for (let i = 0; i < 5; i++) await timeStart(bwrap, product); // page cache, JIT, the runtime's own probe
for (let i = 0; i < N; i++) {
  add('floor', {
    wallMs: await timeSpawn('/usr/bin/bwrap', FLOOR_ARGS),
    cpuMs: await floorCpu(enforcer),
  });
  add('python', { wallMs: await timeSpawn(PYTHON, ['-I', '-S', '-c', 'pass']), cpuMs: NaN });
  add('bwrap', await timeStart(bwrap, fixture));
  add('bwrap-product', await timeStart(bwrap, product));
  add('process', await timeStart(proc, fixture));
  // Last: tearing a networked sandbox down leaves the kernel work (its namespace, its tap) that delays the next start.
  add('bwrap-network', await timeStart(bwrap, networked));
}
const warmBwrap = await warmInvokes(bwrap, fixture());
const warmProcess = await warmInvokes(proc, fixture());
await bwrap.close();
await proc.close();
await enforcer.close();

const rows: Array<[string, string, number[], number[]]> = [
  ['floor: bare bwrap + python3 -I -S -c pass', 'floor', wall.floor!, cpu.floor!],
  ['bare python3 -I -S -c pass (no bwrap)', '', wall.python!, []],
  ['cold start to ready, bwrap, test bootstrap', 'vs', wall.bwrap!, cpu.bwrap!],
  [
    'cold start to ready, bwrap, test bootstrap, network',
    'vs',
    wall['bwrap-network']!,
    cpu['bwrap-network']!,
  ],
  [
    'cold start to ready, bwrap, src/runtimes python',
    'vs',
    wall['bwrap-product']!,
    cpu['bwrap-product']!,
  ],
  ['cold start to ready, process, test bootstrap', '', wall.process!, cpu.process!],
  ['warm invoke, bwrap', '', warmBwrap, []],
  ['warm invoke, process', '', warmProcess, []],
];
const floorWall = summarize(wall.floor!);
const floorCpuP50 = summarize(cpu.floor!).p50;
printTable(
  `sandbox start and invoke (ms), cgroup ${enforcer.mode}, n=${N}, warm n=${WARM}, load average ${load.toFixed(1)}`,
  [
    'what',
    'wall min',
    'wall p50',
    'wall p99',
    'cpu min',
    'cpu p50',
    'wall p50 / floor',
    'cpu p50 / floor',
  ],
  rows.map(([name, tag, w, c]) => {
    const ws = summarize(w);
    const cs = summarize(c);
    return [
      name,
      fmt(Math.min(...w)),
      fmt(ws.p50),
      fmt(ws.p99),
      c.length ? fmt(Math.min(...c)) : '',
      c.length ? fmt(cs.p50) : '',
      tag === 'vs' ? fmt(ws.p50 / floorWall.p50) : '',
      tag === 'vs' ? fmt(cs.p50 / floorCpuP50) : '',
    ];
  }),
);
const out = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(
  path.join(out, 'sandbox-cold-start.json'),
  `${JSON.stringify(
    {
      loadAverage: load,
      cgroup: enforcer.mode,
      rows: rows.map(([name, , w, c]) => ({
        name,
        wall: { ...summarize(w), min: Math.min(...w) },
        cpu: c.length ? summarize(c) : null,
      })),
    },
    null,
    2,
  )}\n`,
);
