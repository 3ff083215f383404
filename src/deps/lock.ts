/**
 * Cross-process coordination on one machine: an exclusive lock file per
 * cache key (O_CREAT|O_EXCL) and owner tokens that say which process made
 * a file. A token is `pid.starttime` (start time from /proc), so a pid
 * recycled by an unrelated process is not mistaken for the owner and a
 * dead owner's lock is recognised as stale and broken.
 */
import { readFileSync } from 'node:fs';
import { open, readFile, rm, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** `<pid>.<starttime>` of a process, or `<pid>` where /proc is unavailable. */
export function processToken(pid: number = process.pid): string {
  const start = startTimeOf(pid);
  return start === null ? String(pid) : `${pid}.${start}`;
}

function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at field 3; starttime is 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/** False only when the process that wrote `token` is certainly gone. */
export function tokenAlive(token: string): boolean {
  const [pidText, start] = token.trim().split('.');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: exists but belongs to someone else, so alive.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (start === undefined) return true;
  const now = startTimeOf(pid);
  return now === null || now === start;
}

export interface LockOptions {
  /** Give up (throw) after this long; an install holds the lock for its whole run. */
  timeoutMs: number;
  /** Called once when we start waiting for another holder. */
  onWait?: () => void;
}

export type Unlock = () => Promise<void>;

async function tryCreate(file: string): Promise<Unlock | null> {
  try {
    const handle = await open(file, 'wx', 0o600);
    try {
      await handle.writeFile(processToken());
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return null;
    throw err;
  }
  return () => unlink(file).catch(() => undefined);
}

/**
 * Removes the lock when its owner is dead. A second exclusive file guards the
 * check-and-remove, so two waiters cannot both break it and one of them
 * delete a lock the other just took.
 */
async function breakIfStale(file: string): Promise<void> {
  const breaker = `${file}.break`;
  const unlockBreaker = await tryCreate(breaker);
  if (!unlockBreaker) {
    // A breaker left by a process that died mid-check: old ones are removed.
    const info = await stat(breaker).catch(() => null);
    if (info && Date.now() - info.mtimeMs > 10_000) await rm(breaker, { force: true });
    return;
  }
  try {
    const owner = await readFile(file, 'utf8').catch(() => null);
    // An empty lock is one being written right now; leave it to its owner.
    if (owner !== null && owner !== '' && !tokenAlive(owner)) await rm(file, { force: true });
  } finally {
    await unlockBreaker();
  }
}

/** Takes the lock now or returns null (for eviction, which skips busy keys). */
export async function tryLock(file: string): Promise<Unlock | null> {
  const unlock = await tryCreate(file);
  if (unlock) return unlock;
  await breakIfStale(file);
  return tryCreate(file);
}

/** Waits for the lock, breaking it if its owner died. */
export async function lock(file: string, options: LockOptions): Promise<Unlock> {
  const deadline = Date.now() + options.timeoutMs;
  let delay = 20;
  let waited = false;
  for (;;) {
    const unlock = await tryLock(file);
    if (unlock) return unlock;
    if (!waited) options.onWait?.();
    waited = true;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${file}`);
    await sleep(delay);
    delay = Math.min(delay * 2, 250);
  }
}
