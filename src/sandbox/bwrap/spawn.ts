/**
 * One bubblewrap launch: the wrapper (rlimits, cgroup) execs bwrap, which
 * reads its environment, /etc/passwd, /etc/group and the seccomp filter
 * from pipes (fds 5-8) and closes them before the command runs.
 */
import type { ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { launch } from '../launcher.ts';
import type { Rlimits } from '../limits/index.ts';
import { argsPayload, bwrapArgs, GROUP, PASSWD, type Bind } from './args.ts';

export interface BwrapLaunch {
  bwrapPath: string;
  argv: readonly string[];
  env: Record<string, string>;
  network: boolean;
  hostPaths: readonly string[];
  binds: readonly Bind[];
  tmpBytes: number;
  cwd: string;
  hostname: string;
  seccomp: Buffer | null;
  procsFiles: readonly string[];
  rlimits: Rlimits;
  /** Output of rootLayout(), computed once per provider. */
  layout: readonly string[];
  strayFds: readonly number[];
}

/** Spawn bwrap with the given view of the host; stdio 1-4 are the protocol's pipes. */
export function spawnBwrap(l: BwrapLaunch): ChildProcess {
  const fds = { args: 5, passwd: 6, group: 7, seccomp: l.seccomp ? 8 : null };
  const options = bwrapArgs(
    {
      network: l.network,
      hostPaths: l.hostPaths,
      binds: l.binds,
      tmpBytes: l.tmpBytes,
      cwd: l.cwd,
      hostname: l.hostname,
      fds,
    },
    l.layout,
  );
  const child = launch(
    {
      argv: [l.bwrapPath, '--args', String(fds.args), '--', ...l.argv],
      env: {},
      procsFiles: l.procsFiles,
      rlimits: l.rlimits,
      extraFds: l.seccomp ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'],
    },
    l.strayFds,
  );
  const feed = (fd: number, data: Buffer | string): void => {
    const s = child.stdio[fd] as Writable | null;
    if (!s) return;
    s.on('error', () => undefined);
    s.end(data);
  };
  feed(fds.args, argsPayload(options, l.env));
  feed(fds.passwd, PASSWD);
  feed(fds.group, GROUP);
  if (l.seccomp && fds.seccomp !== null) feed(fds.seccomp, l.seccomp);
  return child;
}
