/**
 * Packs a function directory for deploy: relay.json becomes the manifest,
 * every other regular file is sent as UTF-8 text, or base64 when it is not
 * valid UTF-8 text. Dependency and VCS directories are skipped: the server
 * installs dependencies from the manifest.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';

const SKIP_DIRS = new Set([
  'node_modules',
  '.git',
  '.relay',
  '__pycache__',
  '.venv',
  '.hg',
  '.svn',
]);
const SKIP_FILES = new Set(['relay.json', '.DS_Store']);

export type PackedFile = string | { base64: string };

export interface PackedFunction {
  name: string;
  manifest: Record<string, unknown>;
  files: Record<string, PackedFile>;
  bytes: number;
}

/** A problem with the directory itself (the user's to fix, not the server's). */
export class PackError extends Error {
  override name = 'PackError';
}

function asText(bytes: Buffer): string | null {
  if (bytes.includes(0)) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

async function walk(root: string, rel: string, into: Record<string, PackedFile>): Promise<number> {
  let total = 0;
  const entries = await readdir(path.join(root, rel), { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const relPath = rel === '' ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) total += await walk(root, relPath, into);
    } else if (entry.isFile()) {
      if (rel === '' && SKIP_FILES.has(entry.name)) continue;
      if (entry.name === '.DS_Store') continue;
      const bytes = await readFile(path.join(root, relPath));
      const text = asText(bytes);
      into[relPath] = text ?? { base64: bytes.toString('base64') };
      total += bytes.length;
    }
    // Symlinks and other special files are left out: they could point outside the package.
  }
  return total;
}

/** Read `dir` into a deployable package; `name` defaults to relay.json's "name", then the dir name. */
export async function packDirectory(dir: string): Promise<PackedFunction> {
  const root = path.resolve(dir);
  let raw: string;
  try {
    raw = await readFile(path.join(root, 'relay.json'), 'utf8');
  } catch {
    throw new PackError(
      `${dir}: no relay.json found (the manifest: {"runtime": ..., "entrypoint": ...})`,
    );
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(raw);
  } catch (err) {
    throw new PackError(
      `${path.join(dir, 'relay.json')}: not valid JSON (${(err as Error).message})`,
    );
  }
  if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest)) {
    throw new PackError(`${path.join(dir, 'relay.json')}: expected a JSON object`);
  }
  const { name, ...rest } = manifest as Record<string, unknown>;
  if (name !== undefined && typeof name !== 'string') {
    throw new PackError(`${path.join(dir, 'relay.json')}: "name" must be a string`);
  }
  const files: Record<string, PackedFile> = {};
  const bytes = await walk(root, '', files);
  return { name: name ?? path.basename(root), manifest: rest, files, bytes };
}
