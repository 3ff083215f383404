/**
 * A directory tree's shape: file count, total bytes and a digest over every
 * path, type and size. The completion marker records it so a half-written
 * or damaged cache entry (missing or truncated files) is detected without
 * hashing file contents on every lookup.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';

export interface TreeSummary {
  files: number;
  /** Apparent size of the files. */
  bytes: number;
  /** Space the files take on disk (what the cache size limit counts). */
  diskBytes: number;
  digest: string;
}

/** Walks `root` (symlinks are recorded, never followed). */
export async function summariseTree(root: string): Promise<TreeSummary> {
  const hash = createHash('sha256');
  let files = 0;
  let bytes = 0;
  let diskBytes = 0;
  async function walk(rel: string): Promise<void> {
    const entries = await readdir(path.join(root, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      const full = path.join(root, child);
      if (entry.isDirectory()) {
        hash.update(`d\0${child}\0`);
        await walk(child);
      } else if (entry.isSymbolicLink()) {
        hash.update(`l\0${child}\0${await readlink(full)}\0`);
        files += 1;
      } else {
        const info = await lstat(full);
        hash.update(`f\0${child}\0${info.size}\0`);
        files += 1;
        bytes += info.size;
        diskBytes += info.blocks * 512;
      }
    }
  }
  await walk('');
  return { files, bytes, diskBytes, digest: hash.digest('hex') };
}
