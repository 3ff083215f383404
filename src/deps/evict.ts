/**
 * LRU eviction for the dependency cache. Sizes come from the markers (no
 * tree walk); last use is the mtime of `.last-used`. An entry is never
 * removed while held: by a lease in this process (the caller's `keep`) or
 * by a live process's holder file under `.in-use/`. Check and removal
 * happen under the key's lock, the same lock `acquire` takes to register a
 * holder, so the two cannot interleave. Also sweeps installs left in `.tmp`
 * by dead processes and entries without a marker.
 */
import { readdir, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { CacheLayout } from './entry.ts';
import { lastUsedAt, readMarker } from './entry.ts';
import { tokenAlive, tryLock } from './lock.ts';

export interface EvictResult {
  removed: string[];
  freedBytes: number;
  /** Size of the complete sets left, in bytes on disk. */
  totalBytes: number;
}

export interface EvictOptions {
  layout: CacheLayout;
  limitBytes: number;
  /** Keys held or being installed by this process. */
  keep: ReadonlySet<string>;
  /** This process's holder token: its holds are in `keep`, so its files are not consulted. */
  selfToken: string;
  /** Age after which a dead process's temporary install is removed. */
  staleTmpMs: number;
  logger?: { warn(obj: object, msg: string): void } | undefined;
}

interface Candidate {
  key: string;
  bytes: number;
  lastUsed: number;
}

async function liveHolders(layout: CacheLayout, key: string, self: string): Promise<number> {
  const names = await readdir(layout.inUse(key)).catch(() => [] as string[]);
  let live = 0;
  for (const name of names) {
    // Our own file may lag a release by a moment; our holds are known exactly from memory.
    if (name === self) continue;
    if (tokenAlive(name)) live += 1;
    else await unlink(path.join(layout.inUse(key), name)).catch(() => undefined);
  }
  return live;
}

/** Removes temporary installs whose process died (their name carries its token). */
async function sweepTmp(layout: CacheLayout, staleMs: number): Promise<void> {
  for (const name of await readdir(layout.tmp).catch(() => [] as string[])) {
    const owner = name.split('.').slice(1, 3).join('.');
    const info = await stat(path.join(layout.tmp, name)).catch(() => null);
    if (!info) continue;
    if (!tokenAlive(owner) || Date.now() - info.mtimeMs > staleMs) {
      await rm(path.join(layout.tmp, name), { recursive: true, force: true });
    }
  }
  for (const name of await readdir(layout.trash).catch(() => [] as string[])) {
    await rm(path.join(layout.trash, name), { recursive: true, force: true });
  }
}

/** Trims the cache to `limitBytes`, least recently used first. */
export async function evictEntries(options: EvictOptions): Promise<EvictResult> {
  const { layout, keep } = options;
  await sweepTmp(layout, options.staleTmpMs);
  const candidates: Candidate[] = [];
  let totalBytes = 0;
  for (const key of await readdir(layout.root)) {
    if (key.startsWith('.')) continue;
    const marker = await readMarker(layout, key);
    if (!marker) {
      // No marker: half-written or damaged. The next ensure would rebuild it; drop it now if idle.
      if (keep.has(key)) continue;
      const unlock = await tryLock(layout.lock(key));
      if (!unlock) continue;
      try {
        if (
          !(await readMarker(layout, key)) &&
          (await liveHolders(layout, key, options.selfToken)) === 0
        ) {
          await layout.discard(layout.entry(key));
        }
      } finally {
        await unlock();
      }
      continue;
    }
    totalBytes += marker.diskBytes;
    candidates.push({ key, bytes: marker.diskBytes, lastUsed: await lastUsedAt(layout, key) });
  }
  const removed: string[] = [];
  let freedBytes = 0;
  candidates.sort((a, b) => a.lastUsed - b.lastUsed);
  for (const entry of candidates) {
    if (totalBytes <= options.limitBytes) break;
    if (keep.has(entry.key)) continue;
    const unlock = await tryLock(layout.lock(entry.key));
    if (!unlock) continue;
    try {
      if (!(await readMarker(layout, entry.key))) {
        // Another process evicted it since the scan: its space is already free.
        totalBytes -= entry.bytes;
        continue;
      }
      if ((await liveHolders(layout, entry.key, options.selfToken)) > 0) continue;
      await layout.discard(layout.entry(entry.key));
    } catch (err) {
      options.logger?.warn({ key: entry.key, err }, 'could not evict a dependency set');
      continue;
    } finally {
      await unlock();
    }
    removed.push(entry.key);
    freedBytes += entry.bytes;
    totalBytes -= entry.bytes;
  }
  return { removed, freedBytes, totalBytes };
}
