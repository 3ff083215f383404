/**
 * Which host user sandboxes run as. When Relay runs as root, every sandbox
 * process (bwrap and all it starts, the process provider's functions,
 * install commands, the network helper) runs as the unprivileged host
 * uid/gid 65534: a user namespace alone would leave them host root to the
 * kernel outside it (file ownership, signals, anything a namespace escape
 * reaches). Otherwise they run as Relay's own, already unprivileged, user.
 *
 * Running as another user has two consequences handled here: host
 * directories a sandbox reads by path must be reachable by that user, and
 * directories it may write are lent to it for the run and taken back after.
 */
import { existsSync, statSync } from 'node:fs';
import { chmod, lchown, lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

export const SANDBOX_UID = 65534;
export const SANDBOX_GID = 65534;

export interface HostCredentials {
  uid: number;
  gid: number;
}

/** The host user sandboxes run as, or null when they run as Relay's own user. */
export function sandboxCredentials(): HostCredentials | null {
  return process.getuid?.() === 0 ? { uid: SANDBOX_UID, gid: SANDBOX_GID } : null;
}

const SETPRIV = '/usr/bin/setpriv';

/**
 * Argv prefix setting no_new_privs for a command that runs as `creds`
 * without bwrap (which sets it itself): a set-uid program on the host
 * would otherwise run as its owner. Empty when there is nobody to drop to
 * or setpriv (util-linux) is missing.
 */
export function noNewPrivsPrefix(creds: HostCredentials | null): string[] {
  return creds && existsSync(SETPRIV) ? [SETPRIV, '--no-new-privs', '--'] : [];
}

/** Directories already found reachable; package and dependency dirs are immutable once made. */
const reachable = new Set<string>();

/**
 * Throws, naming the directory to fix, unless `creds` may search every
 * component of `dir` (bwrap resolves its bind sources as that user, and the
 * process provider's functions open them by path).
 */
export function assertReachable(dir: string, creds: HostCredentials): void {
  const target = path.resolve(dir);
  if (reachable.has(target)) return;
  let current = target;
  const chain: string[] = [];
  for (;;) {
    chain.unshift(current);
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const p of chain) {
    const st = statSync(p);
    const bit = st.uid === creds.uid ? 0o100 : st.gid === creds.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) {
      throw new Error(
        `${target} is not reachable by uid ${creds.uid}, which sandboxes run as when Relay runs as root: ` +
          `${p} (mode ${(st.mode & 0o777).toString(8)}) needs search permission for others (chmod o+x ${p})`,
      );
    }
  }
  reachable.add(target);
}

/**
 * Lets the sandbox user search (not list) these directories, so the
 * package and dependency trees below Relay's data dir can be bound into
 * sandboxes. Other files there stay out of its reach only by their own
 * modes (keys and databases must be owner-only). Nothing to do when
 * sandboxes run as Relay's own user.
 */
export async function grantSandboxTraversal(dirs: readonly string[]): Promise<void> {
  if (!sandboxCredentials()) return;
  for (const dir of dirs) {
    const st = await stat(dir);
    if ((st.mode & 0o001) === 0) await chmod(dir, (st.mode & 0o7777) | 0o001);
  }
}

/**
 * Hands a writable directory tree to `creds` for one run and returns the
 * function that gives it back: every entry (the command's new files
 * included) is owned by the directory's original owner again afterwards.
 * Changing the owner also clears any set-id bit the command left, so
 * nothing it wrote can later run with the owner's rights.
 */
export async function lendTree(dir: string, creds: HostCredentials): Promise<() => Promise<void>> {
  const original = await lstat(dir);
  await chownTree(dir, creds.uid, creds.gid);
  return () => chownTree(dir, original.uid, original.gid);
}

async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const paths = [dir, ...entries.map((e) => path.join(e.parentPath, e.name))];
  // Bounded batches: an install tree holds thousands of files and the event loop serves the API too.
  for (let i = 0; i < paths.length; i += 64) {
    await Promise.all(
      paths.slice(i, i + 64).map((p) =>
        lchown(p, uid, gid).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        }),
      ),
    );
  }
}
