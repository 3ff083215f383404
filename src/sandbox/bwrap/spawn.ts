/**
 * One bubblewrap launch: the wrapper (user, rlimits, cgroup) execs bwrap,
 * which reads its environment, /etc/passwd, /etc/group and the seccomp
 * filter from pipes (fds 5-8) and closes them before the command runs. A
 * networked launch goes through `unshare` first and gets its network from
 * network.ts before the command may start.
 */
import type { ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { HostCredentials } from '../credentials.ts';
import { launch } from '../launcher.ts';
import type { Rlimits } from '../limits/index.ts';
import { argsPayload, bwrapArgs, GROUP, PASSWD, type Bind, type BwrapFds } from './args.ts';
import {
  attachNetwork,
  sandboxResolvConf,
  type NetworkTools,
  type SandboxNetwork,
} from './network.ts';

export interface BwrapLaunch {
  bwrapPath: string;
  argv: readonly string[];
  env: Record<string, string>;
  /** The helpers of a networked sandbox; null: loopback only. */
  network: NetworkTools | null;
  hostPaths: readonly string[];
  binds: readonly Bind[];
  tmpBytes: number;
  cwd: string;
  hostname: string;
  seccomp: Buffer | null;
  procsFiles: readonly string[];
  rlimits: Rlimits;
  credentials: HostCredentials | null;
  /** Output of rootLayout(), computed once per provider. */
  layout: readonly string[];
  strayFds: readonly number[];
}

export interface BwrapChild {
  child: ChildProcess;
  /** Present for a networked launch: the command starts once `ready` resolves. */
  network: SandboxNetwork | null;
}

/** Spawn bwrap with the given view of the host; stdio 1-4 are the protocol's pipes. */
export function spawnBwrap(l: BwrapLaunch): BwrapChild {
  let next = 5;
  const args = next++;
  const fds: BwrapFds = { passwd: next++, group: next++, seccomp: null, network: null };
  if (l.seccomp) fds.seccomp = next++;
  if (l.network) fds.network = { info: next++, block: next++, resolv: next++ };
  const options = bwrapArgs(
    {
      hostPaths: l.hostPaths,
      binds: l.binds,
      tmpBytes: l.tmpBytes,
      cwd: l.cwd,
      hostname: l.hostname,
      fds,
    },
    l.layout,
  );
  const bwrap = [l.bwrapPath, '--args', String(args), '--', ...l.argv];
  const child = launch(
    {
      argv: l.network
        ? [l.network.unshare, '--user', '--map-root-user', '--net', '--', ...bwrap]
        : bwrap,
      env: {},
      procsFiles: l.procsFiles,
      rlimits: l.rlimits,
      credentials: l.credentials,
      extraFds: new Array<'pipe'>(next - 5).fill('pipe'),
      // bwrap's pid 1 has no parent-death signal while it sets up: without a cgroup, only a kill of the group reaches it.
      detached: true,
    },
    l.strayFds,
  );
  const feed = (fd: number, data: Buffer | string): void => {
    const s = child.stdio[fd] as Writable | null;
    if (!s) return;
    s.on('error', () => undefined);
    s.end(data);
  };
  feed(args, argsPayload(options, l.env));
  feed(fds.passwd, PASSWD);
  feed(fds.group, GROUP);
  if (l.seccomp && fds.seccomp !== null) feed(fds.seccomp, l.seccomp);
  let network: SandboxNetwork | null = null;
  if (l.network && fds.network) {
    feed(fds.network.resolv, sandboxResolvConf());
    network = attachNetwork(child, fds.network, {
      tools: l.network,
      procsFiles: l.procsFiles,
      rlimits: l.rlimits,
      credentials: l.credentials,
      strayFds: l.strayFds,
    });
  }
  return { child, network };
}
