/**
 * On-disk layout of the dependency cache and the completion marker.
 *
 *   <dataDir>/deps/<key>/content/          the installed set (mounted read-only)
 *   <dataDir>/deps/<key>/.relay-complete   marker: key + tree summary, written last
 *   <dataDir>/deps/<key>/.last-used        mtime = last ensure (LRU eviction)
 *   <dataDir>/deps/<key>/.in-use/<token>   one per process holding the set
 *   <dataDir>/deps/.locks/<key>.lock       install / eviction lock
 *   <dataDir>/deps/.tmp/                   installs in progress (renamed into place)
 *   <dataDir>/deps/.trash/                 entries being deleted
 *
 * A complete entry appears in one rename, marker included. An entry whose
 * marker is missing, unreadable, for another key, or whose tree no longer
 * matches the marker is half-written or damaged: it is removed and rebuilt,
 * never mounted.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { grantSandboxTraversal } from '../sandbox/index.ts';
import type { TreeSummary } from './tree.ts';
import { summariseTree } from './tree.ts';

export const MARKER_FILE = '.relay-complete';
export const LAST_USED_FILE = '.last-used';
export const IN_USE_DIR = '.in-use';
const MARKER_FORMAT = 1;

export interface Marker extends TreeSummary {
  format: number;
  key: string;
  runtime: string;
  requirements: string[];
  installMs: number;
  createdAt: string;
  /** The installer's last lines, handed back on cache hits. */
  log: string;
}

/** Paths of the cache rooted at `<dataDir>/deps`. */
export class CacheLayout {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = path.join(dataDir, 'deps');
  }

  entry(key: string): string {
    return path.join(this.root, key);
  }

  content(key: string): string {
    return path.join(this.root, key, 'content');
  }

  marker(key: string): string {
    return path.join(this.root, key, MARKER_FILE);
  }

  lastUsed(key: string): string {
    return path.join(this.root, key, LAST_USED_FILE);
  }

  inUse(key: string): string {
    return path.join(this.root, key, IN_USE_DIR);
  }

  lock(key: string): string {
    return path.join(this.root, '.locks', `${key}.lock`);
  }

  get tmp(): string {
    return path.join(this.root, '.tmp');
  }

  get trash(): string {
    return path.join(this.root, '.trash');
  }

  async init(): Promise<void> {
    await Promise.all([
      mkdir(path.join(this.root, '.locks'), { recursive: true }),
      mkdir(this.tmp, { recursive: true }),
      mkdir(this.trash, { recursive: true }),
    ]);
    // Installs and the functions mounting a set may run as another user, who must reach them.
    await grantSandboxTraversal([path.dirname(this.root), this.root, this.tmp]);
  }

  /** Moves a directory out of the way atomically, then deletes it. */
  async discard(dir: string): Promise<void> {
    const target = path.join(this.trash, `${path.basename(dir)}.${randomBytes(4).toString('hex')}`);
    try {
      await rename(dir, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    await rm(target, { recursive: true, force: true });
  }
}

/** Writes the marker into a finished install directory, flushed to disk. */
export async function writeMarker(dir: string, marker: Marker): Promise<void> {
  const handle = await open(path.join(dir, MARKER_FILE), 'wx', 0o644);
  try {
    await handle.writeFile(`${JSON.stringify(marker)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The marker when present and for this key, else null (no tree check). */
export async function readMarker(layout: CacheLayout, key: string): Promise<Marker | null> {
  let text: string;
  try {
    text = await readFile(layout.marker(key), 'utf8');
  } catch {
    return null;
  }
  try {
    const marker = JSON.parse(text) as Marker;
    return marker.format === MARKER_FORMAT && marker.key === key ? marker : null;
  } catch {
    return null;
  }
}

/** Builds a marker for `content` (the tree summary is computed here). */
export async function markerFor(
  content: string,
  fields: Omit<Marker, keyof TreeSummary | 'format'>,
): Promise<Marker> {
  return { format: MARKER_FORMAT, ...fields, ...(await summariseTree(content)) };
}

/**
 * Checks entries against their markers, walking each tree once per process
 * (and again only if the marker file changes): lookups stay cheap, and an
 * entry damaged before this process started is still caught on first use.
 */
export class EntryValidator {
  readonly #layout: CacheLayout;
  readonly #verified = new Map<string, { stamp: string; marker: Marker }>();

  constructor(layout: CacheLayout) {
    this.#layout = layout;
  }

  /** The marker of a complete, intact entry; null when absent, half-written or damaged. */
  async valid(key: string): Promise<Marker | null> {
    const info = await stat(this.#layout.marker(key)).catch(() => null);
    if (!info) return null;
    const stamp = `${info.ino}:${info.mtimeMs}`;
    const known = this.#verified.get(key);
    if (known?.stamp === stamp) return known.marker;
    const marker = await readMarker(this.#layout, key);
    if (!marker) return null;
    const tree = await summariseTree(this.#layout.content(key)).catch(() => null);
    if (!tree || tree.digest !== marker.digest || tree.files !== marker.files) return null;
    this.#verified.set(key, { stamp, marker });
    return marker;
  }

  forget(key: string): void {
    this.#verified.delete(key);
  }
}

/** Records a use (mtime of `.last-used`) for LRU eviction. */
export async function touchLastUsed(layout: CacheLayout, key: string): Promise<void> {
  const file = layout.lastUsed(key);
  const now = new Date();
  try {
    await utimes(file, now, now);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await writeFile(file, '').catch(() => undefined);
  }
}

/** Last use of an entry in epoch ms (its marker time when never touched). */
export async function lastUsedAt(layout: CacheLayout, key: string): Promise<number> {
  const info =
    (await stat(layout.lastUsed(key)).catch(() => null)) ??
    (await stat(layout.marker(key)).catch(() => null));
  return info?.mtimeMs ?? 0;
}
