/**
 * Provider `process`: the bootstrap runs as a plain child process, with the
 * same protocol, a cleared environment, a private temp dir as cwd, cgroup
 * limits where the kernel allows and rlimits. Functions are NOT isolated
 * from the host, each other or the network; for development machines
 * without bubblewrap only. When Relay is root they still run as host uid
 * 65534 and cannot gain privileges (no_new_privs: a set-uid program on the
 * host would otherwise run as its owner).
 */
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { newId } from '../../domain/index.ts';
import type { LaunchPaths } from '../../runtimes/port.ts';
import type { SandboxProviderOptions } from '../bwrap/provider.ts';
import {
  assertReachable,
  noNewPrivsPrefix,
  sandboxCredentials,
  type HostCredentials,
} from '../credentials.ts';
import { killSandbox } from '../kill.ts';
import { inheritedDescriptors, launch } from '../launcher.ts';
import { ResourceLimitsEnforcer } from '../limits/index.ts';
import type { Sandbox, SandboxProvider, SandboxSpec, StartOptions } from '../port.ts';
import { ProtocolSandbox } from '../session.ts';

export interface ProcessProviderOptions extends SandboxProviderOptions {
  /** Parent of the per-sandbox temp dirs (default: the OS temp dir). */
  tmpRoot?: string;
}

/** Sandboxes as plain child processes (not isolated). */
export class ProcessProvider implements SandboxProvider {
  readonly name = 'process';
  readonly isolated = false;
  private readonly enforcer: ResourceLimitsEnforcer;
  private readonly ownsEnforcer: boolean;
  private readonly tmpRoot: string;
  private readonly startTimeoutMs: number;
  private readonly cpuBackstopSeconds: number;
  private readonly strayFds: number[];
  private readonly credentials: HostCredentials | null;
  /** Argv prefix that sets no_new_privs (only when functions run as another user than Relay). */
  private readonly noNewPrivs: string[];
  private readonly live = new Set<Sandbox>();
  private closed = false;

  constructor(options: ProcessProviderOptions) {
    options.logger.warn(
      {},
      'sandbox provider "process": functions are NOT isolated (they can read host files, reach the network and signal other processes); use bwrap in production',
    );
    this.ownsEnforcer = options.enforcer === undefined;
    this.enforcer = options.enforcer ?? ResourceLimitsEnforcer.create({ logger: options.logger });
    this.tmpRoot = options.tmpRoot ?? tmpdir();
    this.startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.cpuBackstopSeconds = options.cpuBackstopSeconds ?? 3600;
    this.strayFds = inheritedDescriptors();
    this.credentials = sandboxCredentials();
    this.noNewPrivs = noNewPrivsPrefix(this.credentials);
    if (this.credentials && this.noNewPrivs.length === 0)
      options.logger.warn(
        {},
        'setpriv not found: functions may gain privileges through set-uid programs',
      );
  }

  async start(spec: SandboxSpec, options: StartOptions = {}): Promise<Sandbox> {
    if (this.closed) throw new Error('sandbox provider is closed');
    const id = newId('sbx');
    const creds = this.credentials;
    if (creds) {
      for (const p of [
        spec.taskDir,
        spec.runtime.bootstrapDir,
        ...(spec.depsDir ? [spec.depsDir] : []),
      ])
        assertReachable(p, creds);
    }
    const tmpDir = mkdtempSync(path.join(this.tmpRoot, `relay-${id}-`));
    if (creds) chownSync(tmpDir, creds.uid, creds.gid);
    const paths: LaunchPaths = {
      taskDir: spec.taskDir,
      depsDir: spec.depsDir,
      bootstrapDir: spec.runtime.bootstrapDir,
      tmpDir,
    };
    const run = spec.runtime.launch(spec.entrypoint, paths);
    const { limits } = spec;
    let cgroup = null;
    try {
      cgroup = this.enforcer.cgroup(id, {
        memoryMb: limits.memoryMb,
        cpus: limits.cpus,
        pids: Math.max(limits.pids, spec.runtime.minPids),
      });
      const group = cgroup;
      const child = launch(
        {
          argv: [...this.noNewPrivs, ...run.argv],
          env: { ...spec.env, ...run.env },
          cwd: tmpDir,
          procsFiles: group?.procsFiles ?? [],
          rlimits: this.enforcer.rlimits(limits.fileSizeMb, this.cpuBackstopSeconds),
          // Without a cgroup, the process group is the only handle on descendants.
          detached: true,
          credentials: creds,
        },
        this.strayFds,
      );
      const sandbox = await ProtocolSandbox.start(
        {
          id,
          spec,
          child,
          cgroup: group,
          kill: () => killSandbox(child, group, true),
          cleanup: async () => {
            await group?.remove();
            rmSync(tmpDir, { recursive: true, force: true });
            this.live.delete(sandbox);
          },
          retireAfterCpuMs: (this.cpuBackstopSeconds * 1000) / 2,
        },
        { timeoutMs: options.timeoutMs ?? this.startTimeoutMs, signal: options.signal },
      );
      this.live.add(sandbox);
      return sandbox;
    } catch (err) {
      await cgroup?.remove();
      rmSync(tmpDir, { recursive: true, force: true });
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.live].map((s) => s.destroy()));
    if (this.ownsEnforcer) await this.enforcer.close();
  }
}
