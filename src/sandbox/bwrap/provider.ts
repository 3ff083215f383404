/**
 * Provider `bwrap`: each sandbox is a bubblewrap container (new user, pid,
 * ipc, uts, cgroup and network namespaces; uid 65534 inside, and on the
 * host too when Relay is root; no capabilities; seccomp), inside its own
 * cgroup, speaking the invoke protocol. A sandbox that asks for the
 * network gets a user-mode one (network.ts), never the host's.
 */
import { spawn } from 'node:child_process';
import { newId } from '../../domain/index.ts';
import type { LaunchPaths } from '../../runtimes/port.ts';
import { assertReachable, sandboxCredentials, type HostCredentials } from '../credentials.ts';
import { killSandbox } from '../kill.ts';
import { inheritedDescriptors } from '../launcher.ts';
import { ResourceLimitsEnforcer } from '../limits/index.ts';
import type { SandboxLogger } from '../logger.ts';
import type { Sandbox, SandboxProvider, SandboxSpec, StartOptions } from '../port.ts';
import { ProtocolSandbox } from '../session.ts';
import { rootLayout, SANDBOX_PATHS, type Bind } from './args.ts';
import { BIN_DIRS, networkTools } from './network.ts';
import { compileSeccompFilter, seccompSupported } from './seccomp.ts';
import { spawnBwrap } from './spawn.ts';

export const DEFAULT_BWRAP_PATH = '/usr/bin/bwrap';
/** bwrap itself and its pid-1 reaper live in the sandbox's pids group too. */
const BWRAP_PROCESSES = 2;
/** slirp4netns, its child while it configures the namespace, and nsenter/ip. */
const NETWORK_PROCESSES = 3;

export interface SandboxProviderOptions {
  logger: SandboxLogger;
  /** Shared enforcer; one is created (and closed with the provider) when absent. */
  enforcer?: ResourceLimitsEnforcer;
  /** Default bound on loading a function (StartOptions.timeoutMs overrides it). */
  startTimeoutMs?: number;
  /** RLIMIT_CPU of each sandbox; a warm sandbox retires at half of it. */
  cpuBackstopSeconds?: number;
}

export interface BwrapProviderOptions extends SandboxProviderOptions {
  bwrapPath?: string;
  hostname?: string;
  /** Directories searched for slirp4netns, unshare, nsenter and ip (default: the system's bin dirs). */
  networkBinDirs?: readonly string[];
}

/** Sandboxes as bubblewrap containers; see the module header for what each one gets. */
export class BwrapProvider implements SandboxProvider {
  readonly name = 'bwrap';
  readonly isolated = true;
  private readonly logger: SandboxLogger;
  private readonly enforcer: ResourceLimitsEnforcer;
  private readonly ownsEnforcer: boolean;
  private readonly bwrapPath: string;
  private readonly hostname: string;
  private readonly startTimeoutMs: number;
  private readonly cpuBackstopSeconds: number;
  // Computed once: the start path does no work that does not change per sandbox.
  private readonly seccomp: Buffer | null;
  private readonly layout: string[];
  private readonly strayFds: number[];
  private readonly credentials: HostCredentials | null;
  private readonly networkBinDirs: readonly string[];
  private readonly live = new Map<string, Sandbox>();
  private closed = false;

  constructor(options: BwrapProviderOptions) {
    this.logger = options.logger;
    this.ownsEnforcer = options.enforcer === undefined;
    this.enforcer = options.enforcer ?? ResourceLimitsEnforcer.create({ logger: options.logger });
    this.bwrapPath = options.bwrapPath ?? DEFAULT_BWRAP_PATH;
    this.hostname = options.hostname ?? 'sandbox';
    this.startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.cpuBackstopSeconds = options.cpuBackstopSeconds ?? 3600;
    this.seccomp = seccompSupported() ? compileSeccompFilter() : null;
    if (!this.seccomp)
      this.logger.warn({ arch: process.arch }, 'no seccomp filter for this architecture');
    this.layout = rootLayout();
    this.credentials = sandboxCredentials();
    this.networkBinDirs = options.networkBinDirs ?? BIN_DIRS;
    this.strayFds = inheritedDescriptors();
    if (this.strayFds.length > 0) {
      this.logger.warn(
        { fds: this.strayFds },
        'descriptors inherited without close-on-exec are replaced by /dev/null in sandboxes',
      );
    }
  }

  async start(spec: SandboxSpec, options: StartOptions = {}): Promise<Sandbox> {
    if (this.closed) throw new Error('sandbox provider is closed');
    const id = newId('sbx');
    const paths: LaunchPaths = {
      taskDir: SANDBOX_PATHS.taskDir,
      depsDir: spec.depsDir === undefined ? undefined : SANDBOX_PATHS.depsDir,
      bootstrapDir: SANDBOX_PATHS.bootstrapDir,
      tmpDir: SANDBOX_PATHS.tmpDir,
    };
    const launch = spec.runtime.launch(spec.entrypoint, paths);
    const binds: Bind[] = [
      { host: spec.taskDir, sandbox: paths.taskDir, writable: false },
      { host: spec.runtime.bootstrapDir, sandbox: paths.bootstrapDir, writable: false },
    ];
    if (spec.depsDir !== undefined)
      binds.push({ host: spec.depsDir, sandbox: SANDBOX_PATHS.depsDir, writable: false });
    // Checked before anything starts: these are host problems, reported as such.
    const tools = spec.network ? networkTools(this.networkBinDirs) : null;
    if (this.credentials) {
      for (const p of [...binds.map((b) => b.host), ...spec.runtime.hostPaths])
        assertReachable(p, this.credentials);
    }
    const { limits } = spec;
    const cgroup = this.enforcer.cgroup(id, {
      memoryMb: limits.memoryMb,
      cpus: limits.cpus,
      pids:
        Math.max(limits.pids, spec.runtime.minPids) +
        BWRAP_PROCESSES +
        (tools ? NETWORK_PROCESSES : 0),
    });
    try {
      const { child, network } = spawnBwrap({
        bwrapPath: this.bwrapPath,
        argv: launch.argv,
        // The runtime's keys win: a function must not redirect its own bootstrap.
        env: { ...spec.env, ...launch.env },
        network: tools,
        hostPaths: spec.runtime.hostPaths,
        binds,
        tmpBytes: limits.tmpMb * 1024 * 1024,
        cwd: paths.taskDir,
        hostname: this.hostname,
        seccomp: this.seccomp,
        procsFiles: cgroup?.procsFiles ?? [],
        rlimits: this.enforcer.rlimits(limits.fileSizeMb, this.cpuBackstopSeconds),
        credentials: this.credentials,
        layout: this.layout,
        strayFds: this.strayFds,
      });
      const sandbox = await ProtocolSandbox.start(
        {
          id,
          spec,
          child,
          cgroup,
          kill: async () => {
            await killSandbox(child, cgroup, true);
            network?.close();
          },
          cleanup: async () => {
            network?.close();
            await cgroup?.remove();
            this.live.delete(id);
          },
          retireAfterCpuMs: (this.cpuBackstopSeconds * 1000) / 2,
          ...(network ? { setup: network.ready } : {}),
        },
        { timeoutMs: options.timeoutMs ?? this.startTimeoutMs, signal: options.signal },
      );
      this.live.set(id, sandbox);
      return sandbox;
    } catch (err) {
      await cgroup?.remove();
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.live.values()].map((s) => s.destroy()));
    if (this.ownsEnforcer) await this.enforcer.close();
  }
}

/** True when bwrap runs here, as the sandboxes' host user, with the namespaces Relay asks for. */
export function probeBwrap(bwrapPath = DEFAULT_BWRAP_PATH): Promise<boolean> {
  const args = [
    '--unshare-user',
    '--unshare-pid',
    '--unshare-net',
    '--unshare-ipc',
    '--unshare-uts',
    '--die-with-parent',
    '--ro-bind',
    '/usr',
    '/usr',
    ...rootLayout(),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '/usr/bin/true',
  ];
  return new Promise((resolve) => {
    const creds = sandboxCredentials();
    const child = spawn(bwrapPath, args, {
      stdio: 'ignore',
      env: {},
      ...(creds ? { uid: creds.uid, gid: creds.gid } : {}),
    });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}
