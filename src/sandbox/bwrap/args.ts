/**
 * bubblewrap options: the namespaces, the read-only view of the host (only
 * /usr, the lib symlinks, the interpreter's own paths and a handful of /etc
 * files) and the writable size-capped /tmp. They travel, with the
 * environment, through `--args FD`: neither the host's process list nor
 * the sandbox's /proc/1/cmdline shows secrets or host paths.
 *
 * The network namespace is always private. Without network bwrap makes it
 * (loopback only); with network it was made before bwrap ran (see
 * network.ts), and bwrap reports its start on an info fd and waits on a
 * block fd until that namespace has its user-mode network.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { SANDBOX_GID, SANDBOX_UID } from '../credentials.ts';

/** Paths as the sandboxed process sees them. */
export const SANDBOX_PATHS = {
  taskDir: '/var/task',
  depsDir: '/opt/deps',
  bootstrapDir: '/opt/relay',
  tmpDir: '/tmp',
} as const;

const ROOT_LINKS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/** Resolver and CA files a networked sandbox needs; nothing else of /etc is shown. */
const NETWORK_ETC = [
  '/etc/hosts',
  '/etc/nsswitch.conf',
  '/etc/gai.conf',
  '/etc/services',
  '/etc/protocols',
  '/etc/ssl',
  '/etc/pki',
  '/etc/ca-certificates',
];

export interface Bind {
  host: string;
  sandbox: string;
  writable: boolean;
}

export interface BwrapPlan {
  /** Extra host paths the command needs, bound read-only at the same place. */
  hostPaths: readonly string[];
  binds: readonly Bind[];
  tmpBytes: number;
  cwd: string;
  hostname: string;
  /** Descriptor numbers (in the child) of the pipes bwrap reads or writes at start. */
  fds: BwrapFds;
}

export interface BwrapFds {
  seccomp: number | null;
  passwd: number;
  group: number;
  /** Network only: bwrap writes its start here, waits on `block`, reads /etc/resolv.conf from `resolv`. */
  network: { info: number; block: number; resolv: number } | null;
}

/** How the host's root-level directories map into the sandbox (merged-/usr symlinks or real dirs). */
export function rootLayout(): string[] {
  const args: string[] = [];
  for (const p of ROOT_LINKS) {
    try {
      const st = lstatSync(p);
      if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(p), p);
      else if (st.isDirectory()) args.push('--ro-bind', p, p);
    } catch {
      // absent on this host
    }
  }
  return args;
}

/** The bwrap options (everything before the command). */
export function bwrapArgs(plan: BwrapPlan, layout: readonly string[]): string[] {
  const args = [
    '--unshare-user',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    ...(plan.fds.network ? [] : ['--unshare-net']),
    '--uid',
    String(SANDBOX_UID),
    '--gid',
    String(SANDBOX_GID),
    '--hostname',
    plan.hostname,
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--ro-bind',
    '/usr',
    '/usr',
    ...layout,
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--size',
    String(plan.tmpBytes),
    '--perms',
    '1777',
    '--tmpfs',
    '/tmp',
    '--ro-bind-data',
    String(plan.fds.passwd),
    '/etc/passwd',
    '--ro-bind-data',
    String(plan.fds.group),
    '/etc/group',
    '--ro-bind-try',
    '/etc/ssl/certs',
    '/etc/ssl/certs',
  ];
  const net = plan.fds.network;
  if (net) {
    for (const p of NETWORK_ETC) args.push('--ro-bind-try', p, p);
    args.push('--ro-bind-data', String(net.resolv), '/etc/resolv.conf');
    args.push('--info-fd', String(net.info), '--block-fd', String(net.block));
  }
  for (const p of extraHostPaths(plan.hostPaths)) args.push('--ro-bind', p, p);
  for (const b of plan.binds) args.push(b.writable ? '--bind' : '--ro-bind', b.host, b.sandbox);
  // bwrap's root and /dev are writable tmpfs mounts; /tmp (and writable binds) stay the only writable places.
  args.push('--remount-ro', '/dev', '--remount-ro', '/');
  if (plan.fds.seccomp !== null) args.push('--seccomp', String(plan.fds.seccomp));
  args.push('--chdir', plan.cwd);
  return args;
}

/** Host paths not already visible through /usr or a parent in the list, parents first. */
function extraHostPaths(paths: readonly string[]): string[] {
  const sorted = [...new Set(paths.map((p) => path.resolve(p)))].sort(
    (a, b) => a.length - b.length,
  );
  const kept: string[] = [];
  for (const p of sorted) {
    if (p === '/usr' || p.startsWith('/usr/')) continue;
    if (kept.some((k) => p === k || p.startsWith(`${k}/`))) continue;
    kept.push(p);
  }
  return kept;
}

/** The `--args` payload: the options, then the command's environment, NUL-separated. */
export function argsPayload(options: readonly string[], env: Record<string, string>): Buffer {
  const parts = [...options, '--clearenv'];
  for (const [k, v] of Object.entries(env)) {
    if (k === '' || k.includes('=') || k.includes('\0') || v.includes('\0')) continue;
    parts.push('--setenv', k, v);
  }
  return Buffer.from(`${parts.join('\0')}\0`);
}

export const PASSWD = `nobody:x:${SANDBOX_UID}:${SANDBOX_GID}:nobody:/tmp:/usr/sbin/nologin\n`;
export const GROUP = `nogroup:x:${SANDBOX_GID}:\n`;
