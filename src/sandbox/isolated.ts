/**
 * runIsolated: one command (a dependency installer, say) under the same
 * isolation as a function sandbox (bwrap namespaces, seccomp, cgroup,
 * rlimits, the same host user, the same user-mode network) but with
 * caller-chosen binds and no invoke protocol: it runs to completion and
 * its output is captured. When sandboxes run as another host user than
 * Relay (Relay is root), writable binds are lent to that user for the run.
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { newId } from '../domain/index.ts';
import { rootLayout, type Bind } from './bwrap/args.ts';
import { networkTools, type NetworkTools } from './bwrap/network.ts';
import { DEFAULT_BWRAP_PATH, probeBwrap } from './bwrap/provider.ts';
import { compileSeccompFilter, seccompSupported } from './bwrap/seccomp.ts';
import { spawnBwrap } from './bwrap/spawn.ts';
import {
  assertReachable,
  lendTree,
  noNewPrivsPrefix,
  sandboxCredentials,
  type HostCredentials,
} from './credentials.ts';
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

/** Run one command to completion with bwrap isolation, seccomp, cgroup limits and a wall clock. */
export async function runIsolated(
  command: IsolatedCommand,
  options: IsolationOptions = {},
): Promise<IsolatedResult> {
  const runner = await createIsolatedRunner(options);
  try {
    return await runner.run(command);
  } finally {
    await runner.close();
  }
}

/** A runner for many commands: bwrap is probed, cgroups detected and the filter compiled once. */
export async function createIsolatedRunner(
  options: IsolationOptions = {},
): Promise<IsolatedRunner> {
  const bwrapPath = options.bwrapPath ?? DEFAULT_BWRAP_PATH;
  let mode = options.mode ?? 'auto';
  if (mode === 'auto') mode = (await probeBwrap(bwrapPath)) ? 'bwrap' : 'process';
  return new IsolatedRunner(mode, bwrapPath, options);
}

/** Runs commands isolated; holds what is worth computing once (probe, cgroup parent, filter). */
export class IsolatedRunner {
  readonly mode: 'bwrap' | 'process';
  private readonly bwrapPath: string;
  private readonly enforcer: ResourceLimitsEnforcer;
  private readonly ownsEnforcer: boolean;
  private readonly seccomp: Buffer | null;
  private readonly layout: string[];
  private readonly strayFds: number[];
  private readonly credentials: HostCredentials | null;

  constructor(mode: 'bwrap' | 'process', bwrapPath: string, options: IsolationOptions) {
    this.mode = mode;
    this.bwrapPath = bwrapPath;
    this.ownsEnforcer = options.enforcer === undefined;
    this.enforcer =
      options.enforcer ??
      ResourceLimitsEnforcer.create({ logger: options.logger ?? silentLogger() });
    this.seccomp = mode === 'bwrap' && seccompSupported() ? compileSeccompFilter() : null;
    this.layout = mode === 'bwrap' ? rootLayout() : [];
    this.strayFds = inheritedDescriptors();
    this.credentials = sandboxCredentials();
  }

  /** Run one command to completion; its cgroup is removed before this resolves. */
  async run(command: IsolatedCommand): Promise<IsolatedResult> {
    const { mode } = this;
    if (mode === 'process' && command.binds.some((b) => b.host !== b.sandbox)) {
      throw new Error(
        'runIsolated without bwrap cannot remap paths: bind each host path to itself',
      );
    }
    const tools = mode === 'bwrap' && command.network ? networkTools() : null;
    const creds = this.credentials;
    const restore: Array<() => Promise<void>> = [];
    try {
      if (creds) {
        for (const b of command.binds) {
          if (!b.writable) assertReachable(b.host, creds);
          else {
            assertReachable(path.dirname(b.host), creds);
            restore.push(await lendTree(b.host, creds));
          }
        }
      }
      return await this.execute(command, tools);
    } finally {
      // The command and all it started are gone by now: nothing writes while ownership returns.
      for (const r of restore) await r();
    }
  }

  private async execute(
    command: IsolatedCommand,
    tools: NetworkTools | null,
  ): Promise<IsolatedResult> {
    const { mode } = this;
    const cgroup = this.enforcer.cgroup(newId('iso'), {
      memoryMb: command.memoryMb,
      cpus: command.cpus ?? availableParallelism(),
      pids: command.pids ?? 512,
    });
    const rlimits = this.enforcer.rlimits(
      command.fileSizeMb ?? 1024,
      Math.ceil(command.timeoutMs / 1000) + 5,
    );
    const started = performance.now();
    try {
      const { child, network } =
        mode === 'bwrap'
          ? spawnBwrap({
              bwrapPath: this.bwrapPath,
              argv: command.argv,
              env: command.env,
              network: tools,
              hostPaths: [],
              binds: command.binds,
              tmpBytes: (command.tmpMb ?? 512) * 1024 * 1024,
              cwd: command.cwd,
              hostname: 'sandbox',
              seccomp: this.seccomp,
              procsFiles: cgroup?.procsFiles ?? [],
              rlimits,
              credentials: this.credentials,
              layout: this.layout,
              strayFds: this.strayFds,
            })
          : {
              child: launch(
                {
                  argv: [...noNewPrivsPrefix(this.credentials), ...command.argv],
                  env: command.env,
                  cwd: command.cwd,
                  procsFiles: cgroup?.procsFiles ?? [],
                  rlimits,
                  detached: true,
                  credentials: this.credentials,
                },
                this.strayFds,
              ),
              network: null,
            };
      const max = command.maxOutputBytes ?? 1024 * 1024;
      const stdout = collect(child.stdout!, max);
      const stderr = collect(child.stderr!, max);
      let timedOut = false;
      let cancelled = false;
      const kill = async (): Promise<void> => {
        await killSandbox(child, cgroup, true);
        network?.close();
      };
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
        await network?.ready;
        await whenExited(child);
      } catch (err) {
        await kill();
        throw err;
      } finally {
        clearTimeout(timer);
        command.signal?.removeEventListener('abort', onAbort);
      }
      // Background processes the command left behind do not outlive it.
      await kill();
      return {
        code: child.exitCode,
        signal: child.signalCode,
        stdout: await stdout,
        stderr: await stderr,
        timedOut,
        memoryExceeded: (cgroup?.snapshot().oomKills ?? 0) > 0,
        cancelled,
        durationMs: performance.now() - started,
      };
    } finally {
      await cgroup?.remove();
    }
  }

  /** Remove the runner's parent cgroup when it made its own enforcer. */
  async close(): Promise<void> {
    if (this.ownsEnforcer) await this.enforcer.close();
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
