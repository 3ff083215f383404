/**
 * runIsolated: one command (a dependency installer, say) under the same
 * isolation as a function sandbox (bwrap namespaces, seccomp, cgroup,
 * rlimits) but with caller-chosen binds and no invoke protocol: it runs to
 * completion and its output is captured.
 */
import { availableParallelism } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { newId } from '../domain/index.ts';
import { rootLayout, type Bind } from './bwrap/args.ts';
import { DEFAULT_BWRAP_PATH, probeBwrap } from './bwrap/provider.ts';
import { compileSeccompFilter, seccompSupported } from './bwrap/seccomp.ts';
import { spawnBwrap } from './bwrap/spawn.ts';
import { killSandbox, whenExited } from './kill.ts';
import { inheritedDescriptors, launch } from './launcher.ts';
import { ResourceLimitsEnforcer } from './limits/index.ts';
import { silentLogger, type SandboxLogger } from './logger.ts';

export type { Bind } from './bwrap/args.ts';

export interface IsolatedCommand {
  /** argv[0] must be an absolute path visible in the sandbox (under /usr or bound). */
  argv: string[];
  /** The complete environment (nothing is inherited). */
  env: Record<string, string>;
  /** Host directories to show; everything but /usr, the lib links and /tmp is otherwise invisible. */
  binds: Bind[];
  network: boolean;
  timeoutMs: number;
  memoryMb: number;
  /** Working directory inside the sandbox. */
  cwd: string;
  /** Defaults: 512 processes/threads, all cores, 512 MB /tmp, 1 GiB files, 1 MiB kept per stream. */
  pids?: number;
  cpus?: number;
  tmpMb?: number;
  fileSizeMb?: number;
  /** Bytes kept of each of stdout and stderr (the tail is kept). */
  maxOutputBytes?: number;
  signal?: AbortSignal;
}

export interface IsolatedResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** The cgroup counted an OOM kill. */
  memoryExceeded: boolean;
  cancelled: boolean;
  durationMs: number;
}

export interface IsolationOptions {
  logger?: SandboxLogger;
  /** `auto` uses bwrap when it works here, else a plain process (binds then must map a path to itself). */
  mode?: 'auto' | 'bwrap' | 'process';
  bwrapPath?: string;
  /** Reuse an enforcer (and its parent cgroup); one is made per call otherwise. */
  enforcer?: ResourceLimitsEnforcer;
}

/** Run a command to completion with bwrap isolation, seccomp, cgroup limits and a wall clock. */
export async function runIsolated(
  command: IsolatedCommand,
  options: IsolationOptions = {},
): Promise<IsolatedResult> {
  const logger = options.logger ?? silentLogger();
  const bwrapPath = options.bwrapPath ?? DEFAULT_BWRAP_PATH;
  let mode = options.mode ?? 'auto';
  if (mode === 'auto') mode = (await probeBwrap(bwrapPath)) ? 'bwrap' : 'process';
  if (mode === 'process' && command.binds.some((b) => b.host !== b.sandbox)) {
    throw new Error('runIsolated without bwrap cannot remap paths: bind each host path to itself');
  }
  const enforcer = options.enforcer ?? ResourceLimitsEnforcer.create({ logger });
  const id = newId('iso');
  const cgroup = enforcer.cgroup(id, {
    memoryMb: command.memoryMb,
    cpus: command.cpus ?? availableParallelism(),
    pids: command.pids ?? 512,
  });
  const rlimits = enforcer.rlimits(
    command.fileSizeMb ?? 1024,
    Math.ceil(command.timeoutMs / 1000) + 5,
  );
  const started = performance.now();
  try {
    const child =
      mode === 'bwrap'
        ? spawnBwrap({
            bwrapPath,
            argv: command.argv,
            env: command.env,
            network: command.network,
            hostPaths: [],
            binds: command.binds,
            tmpBytes: (command.tmpMb ?? 512) * 1024 * 1024,
            cwd: command.cwd,
            hostname: 'sandbox',
            seccomp: seccompSupported() ? compileSeccompFilter() : null,
            procsFiles: cgroup?.procsFiles ?? [],
            rlimits,
            layout: rootLayout(),
            strayFds: inheritedDescriptors(),
          })
        : launch(
            {
              argv: command.argv,
              env: command.env,
              cwd: command.cwd,
              procsFiles: cgroup?.procsFiles ?? [],
              rlimits,
              detached: true,
            },
            inheritedDescriptors(),
          );
    const max = command.maxOutputBytes ?? 1024 * 1024;
    const stdout = collect(child.stdout!, max);
    const stderr = collect(child.stderr!, max);
    let timedOut = false;
    let cancelled = false;
    const kill = (): Promise<void> => killSandbox(child, cgroup, mode === 'process');
    const timer = setTimeout(() => {
      timedOut = true;
      void kill();
    }, command.timeoutMs);
    const onAbort = (): void => {
      cancelled = true;
      void kill();
    };
    command.signal?.addEventListener('abort', onAbort, { once: true });
    if (command.signal?.aborted) onAbort();
    try {
      await spawnedOrThrow(child);
      await whenExited(child);
    } finally {
      clearTimeout(timer);
      command.signal?.removeEventListener('abort', onAbort);
    }
    // Background processes the command left behind do not outlive it.
    await kill();
    const memoryExceeded = (cgroup?.snapshot().oomKills ?? 0) > 0;
    return {
      code: child.exitCode,
      signal: child.signalCode,
      stdout: await stdout,
      stderr: await stderr,
      timedOut,
      memoryExceeded,
      cancelled,
      durationMs: performance.now() - started,
    };
  } finally {
    await cgroup?.remove();
    if (!options.enforcer) await enforcer.close();
  }
}

function spawnedOrThrow(child: ChildProcess): Promise<void> {
  if (child.pid !== undefined) return Promise.resolve();
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
}

/** The stream's text, keeping only the last `max` bytes; resolves at end (or soon after the process dies). */
function collect(stream: Readable, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    while (size - chunks[0]!.length >= max) size -= chunks.shift()!.length;
  });
  return new Promise((resolve) => {
    const done = (): void => {
      const all = Buffer.concat(chunks);
      resolve(all.subarray(Math.max(0, all.length - max)).toString('utf8'));
    };
    stream.once('close', done);
    stream.once('error', done);
  });
}
