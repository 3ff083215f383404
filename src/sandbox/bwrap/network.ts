/**
 * The network of a sandbox that asks for one: user-mode networking by
 * slirp4netns in the sandbox's own network namespace, never the host's.
 * A function (or an install) reaches the outside world, not the host's
 * loopback, its abstract unix sockets or the services on its addresses.
 *
 * A networked sandbox starts like this:
 *  1. The launcher execs `unshare --user --map-root-user --net` before
 *     bwrap: a user namespace U in which the sandbox's host user is root,
 *     and a network namespace N owned by U. bwrap runs inside them (no
 *     --unshare-net: N is already private), reports its start on its info
 *     fd and waits on its block fd before it runs the command.
 *  2. slirp4netns attaches to the launcher's pid: it joins U and N, makes
 *     tap0 (10.0.2.100/24, default route via 10.0.2.2), and relays from
 *     the host. --disable-host-loopback refuses 10.0.2.2 (else the host's
 *     127.0.0.1); --enable-sandbox and --enable-seccomp confine slirp4netns
 *     itself. It runs as Relay's own user (/dev/net/tun may be root-only),
 *     which --enable-sandbox leaves with no capability but binding low
 *     ports, in an empty mount namespace. It joins the sandbox's cgroup, so
 *     it dies with the sandbox, and exits when Relay's end of its exit fd
 *     closes (Relay died).
 *  3. Meanwhile nsenter (into U and N, where the host user is root) runs
 *     `ip` to make every address of the host unreachable: slirp4netns
 *     connects from the host, where those addresses are local. It runs in
 *     the sandbox's cgroup too, so the cgroup's CPU counts all the setup.
 *  4. Only then is the block fd written: the command never runs without
 *     its network.
 * bwrap's own --unshare-net would not do: bwrap nests two user namespaces
 * and its network namespace belongs to the outer one, which no path names
 * once the sandbox runs, so nothing could obtain the right to set it up.
 *
 * DNS: the sandbox sees the host's /etc/resolv.conf, except that a
 * nameserver on a loopback or host address (systemd-resolved's 127.0.0.53,
 * a local dnsmasq) becomes slirp4netns's forwarder 10.0.2.3.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { HostCredentials } from '../credentials.ts';
import { launch } from '../launcher.ts';
import type { Rlimits } from '../limits/index.ts';

const SLIRP_DNS = '10.0.2.3';
/** Where the helpers are looked for (a sandbox has no PATH to inherit). */
export const BIN_DIRS = [
  '/usr/bin',
  '/usr/sbin',
  '/bin',
  '/sbin',
  '/usr/local/bin',
  '/usr/local/sbin',
];

export interface NetworkTools {
  slirp4netns: string;
  unshare: string;
  nsenter: string;
  /** iproute2's `ip`; only needed when the host has addresses to hide. */
  ip: string | null;
}

function which(name: string, dirs: readonly string[]): string | null {
  for (const dir of dirs) {
    const file = path.join(dir, name);
    if (existsSync(file)) return file;
  }
  return null;
}

const found = new Map<readonly string[], NetworkTools>();

/** The helper programs, or an error naming the package to install (found once, looked for again while missing). */
export function networkTools(dirs: readonly string[] = BIN_DIRS): NetworkTools {
  const known = found.get(dirs);
  if (known) return known;
  const slirp4netns = which('slirp4netns', dirs);
  if (!slirp4netns) {
    throw new Error(
      'this sandbox asks for network access, which needs slirp4netns: it is not installed (Debian/Ubuntu: apt-get install slirp4netns)',
    );
  }
  const unshare = which('unshare', dirs);
  const nsenter = which('nsenter', dirs);
  if (!unshare || !nsenter) {
    throw new Error('sandbox networking needs unshare and nsenter (package util-linux)');
  }
  const tools = { slirp4netns, unshare, nsenter, ip: which('ip', dirs) };
  found.set(dirs, tools);
  return tools;
}

/** The host's own IPv4 addresses (loopback aside): a sandbox must not reach services on them. */
export function hostAddresses(): string[] {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv4' && !a.address.startsWith('127.')) out.add(a.address);
    }
  }
  return [...out];
}

/** /etc/resolv.conf for a networked sandbox: nameservers it cannot reach point at the forwarder. */
export function sandboxResolvConf(
  hostText: string | null = readOrNull('/etc/resolv.conf'),
  hidden: readonly string[] = hostAddresses(),
): string {
  const lines: string[] = [];
  let forwarder = false;
  for (const line of (hostText ?? '').split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    const server = m?.[1];
    if (server && (server.startsWith('127.') || server === '::1' || hidden.includes(server))) {
      if (!forwarder) lines.push(`nameserver ${SLIRP_DNS}`);
      forwarder = true;
    } else if (line !== '') {
      lines.push(line);
    }
  }
  // No nameserver at all means 127.0.0.1 to the resolver: unreachable here too.
  if (!lines.some((l) => /^\s*nameserver\s/.test(l))) lines.push(`nameserver ${SLIRP_DNS}`);
  return `${lines.join('\n')}\n`;
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

export interface NetworkSetup {
  tools: NetworkTools;
  /** The sandbox's cgroup.procs files (slirp4netns joins them) and rlimits. */
  procsFiles: readonly string[];
  rlimits: Rlimits;
  /** The sandbox's host user (null: Relay's own): root in U, so `ip` may set routes there. */
  credentials: HostCredentials | null;
  strayFds: readonly number[];
  /** Host addresses made unreachable (default: all of them). */
  hide?: readonly string[];
}

export interface SandboxNetwork {
  /**
   * Resolves once the command may run (or once bwrap died before that: its
   * own exit then tells why); rejects when the network could not be made.
   */
  ready: Promise<void>;
  /**
   * Stop slirp4netns; idempotent, and setup still under way gives up. Call
   * it again once bwrap is dead to release the pipes to it.
   */
  close(): void;
}

/** Give the launched bwrap (see the module header) its network, then let it run the command. */
export function attachNetwork(
  child: ChildProcess,
  fds: { info: number; block: number },
  setup: NetworkSetup,
): SandboxNetwork {
  let closed = false;
  let slirp: ChildProcess | undefined;
  const info = child.stdio[fds.info] as Readable;
  const block = child.stdio[fds.block] as Writable;
  block.on('error', () => undefined);
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const close = (): void => {
    closed = true;
    if (slirp && slirp.exitCode === null && slirp.signalCode === null) slirp.kill('SIGKILL');
    (slirp?.stdio[3] as Writable | undefined)?.destroy();
    // Only once bwrap is gone: closing the block pipe earlier would let the command start.
    if (exited()) {
      info.destroy();
      block.destroy();
    }
  };
  const ready = (async () => {
    // bwrap writes its report in several writes: read it to the end, or it dies of SIGPIPE.
    info.resume();
    if (!(await bwrapStarted(info, child)) || closed) return;
    const pid = child.pid!;
    const results = await Promise.allSettled([
      startSlirp(pid, setup, (c) => (slirp = c)),
      hideHost(pid, setup),
    ]);
    if (closed || exited()) return;
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      close();
      throw new Error(`sandbox network setup failed: ${(failed.reason as Error).message}`);
    }
    block.end('x');
  })();
  // Whoever awaits `ready` still sees a failure; this only keeps an abandoned one from crashing Relay.
  ready.catch(() => undefined);
  return { ready, close };
}

/** True once bwrap reports its start, false when it ended first. */
function bwrapStarted(info: Readable, child: ChildProcess): Promise<boolean> {
  return new Promise((resolve) => {
    info.on('error', () => resolve(false));
    info.once('data', () => resolve(true));
    info.once('end', () => resolve(false));
    info.once('close', () => resolve(false));
    child.once('error', () => resolve(false));
    child.once('exit', () => resolve(false));
  });
}

async function startSlirp(
  pid: number,
  setup: NetworkSetup,
  started: (c: ChildProcess) => void,
): Promise<void> {
  const argv = [
    setup.tools.slirp4netns,
    '--configure',
    '--disable-host-loopback',
    '--enable-sandbox',
    '--enable-seccomp',
    '--exit-fd=3',
    '--ready-fd=4',
    String(pid),
    'tap0',
  ];
  // Relay's own user: an unprivileged one cannot open a root-only /dev/net/tun; --enable-sandbox drops its capabilities.
  const c = launch(
    { argv, env: {}, procsFiles: setup.procsFiles, rlimits: setup.rlimits, credentials: null },
    setup.strayFds,
  );
  started(c);
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    c.stdout?.resume();
    c.stderr?.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-1000)));
    (c.stdio[3] as Writable).on('error', () => undefined);
    const readyFd = c.stdio[4] as Readable;
    readyFd.on('error', () => undefined);
    readyFd.once('data', () => resolve());
    c.once('error', (err) => reject(new Error(`slirp4netns: ${err.message}`)));
    c.once('exit', (code, signal) =>
      reject(new Error(`slirp4netns exited (${signal ?? `code ${code}`}): ${stderr.trim()}`)),
    );
  });
}

async function hideHost(pid: number, setup: NetworkSetup): Promise<void> {
  const hide = setup.hide ?? hostAddresses();
  if (hide.length === 0) return;
  const ip = setup.tools.ip;
  if (!ip) {
    throw new Error(
      'hiding the host addresses from a networked sandbox needs `ip` (Debian/Ubuntu: apt-get install iproute2)',
    );
  }
  // In the sandbox's cgroup and as its host user (root in U, where the routes are set).
  const c = launch(
    {
      argv: [
        setup.tools.nsenter,
        `--target=${pid}`,
        '--user',
        '--net',
        '--preserve-credentials',
        '--',
        ip,
        '-batch',
        '-',
      ],
      env: {},
      procsFiles: setup.procsFiles,
      rlimits: setup.rlimits,
      credentials: setup.credentials,
      input: hide.map((a) => `route add unreachable ${a}/32\n`).join(''),
    },
    setup.strayFds,
  );
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    c.stdout?.resume();
    c.stderr?.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-1000)));
    c.once('error', (err) => reject(new Error(`nsenter: ${err.message}`)));
    c.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`ip route (code ${code}): ${stderr.trim()}`)),
    );
  });
}
