/**
 * Where this process sits in the cgroup trees: parses /proc/self/cgroup and
 * /proc/self/mountinfo so per-sandbox groups are created under Relay's own
 * cgroup (never at a guessed path), for v1 and v2 alike.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface Hierarchy {
  /** v1 controllers of this hierarchy (empty for v2). */
  controllers: string[];
  /** Directory of this process's own cgroup in the hierarchy. */
  ownDir: string;
}

export interface CgroupLayout {
  /** The unified (v2) hierarchy, when mounted. */
  unified: Hierarchy | null;
  /** v1 hierarchies by controller name (one hierarchy may carry several). */
  v1: Map<string, Hierarchy>;
}

interface Mount {
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

/** Read the current layout; missing files yield an empty layout. */
export function readCgroupLayout(procSelf = '/proc/self'): CgroupLayout {
  const layout: CgroupLayout = { unified: null, v1: new Map() };
  let membership: string;
  let mountinfo: string;
  try {
    membership = readFileSync(`${procSelf}/cgroup`, 'utf8');
    mountinfo = readFileSync(`${procSelf}/mountinfo`, 'utf8');
  } catch {
    return layout;
  }
  const mounts = parseMountinfo(mountinfo);
  for (const line of membership.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, , names, cgPath] = m as unknown as [string, string, string, string];
    if (names === '') {
      const mount =
        mounts.find((x) => x.fsType === 'cgroup2' && x.mountPoint === '/sys/fs/cgroup') ??
        mounts.find((x) => x.fsType === 'cgroup2');
      if (mount) layout.unified = { controllers: [], ownDir: dirIn(mount, cgPath) };
      continue;
    }
    const controllers = names.split(',').filter((c) => c !== '' && !c.startsWith('name='));
    if (controllers.length === 0) continue;
    const mount = mounts.find(
      (x) => x.fsType === 'cgroup' && controllers.every((c) => x.superOptions.includes(c)),
    );
    if (!mount) continue;
    const hierarchy = { controllers, ownDir: dirIn(mount, cgPath) };
    for (const c of controllers) layout.v1.set(c, hierarchy);
  }
  return layout;
}

function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep === -1) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (left.length < 5 || right.length < 3) continue;
    mounts.push({
      root: unescapeMount(left[3]!),
      mountPoint: unescapeMount(left[4]!),
      fsType: right[0]!,
      superOptions: right[2]!.split(','),
    });
  }
  return mounts;
}

/** The mount shows the tree from `root` down; our path is relative to that. */
function dirIn(mount: Mount, cgPath: string): string {
  const rel = path.posix.relative(mount.root, cgPath);
  if (rel.startsWith('..')) return mount.mountPoint;
  return path.posix.join(mount.mountPoint, rel);
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
