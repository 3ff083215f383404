/**
 * Writes a version's files to a directory, from content-addressed blobs.
 * Built in a temp sibling and renamed into place, so a reader never sees
 * a half-written task dir, and a second caller finds it done.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RelayError, type FunctionVersion } from '../domain/index.ts';
import type { ControlStore } from '../store/port.ts';
import { sha256 } from './files.ts';

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Materialise `version`'s files into `dir` (idempotent); returns `dir`. */
export async function materializeVersion(
  store: ControlStore,
  version: FunctionVersion,
  dir: string,
): Promise<string> {
  if (await exists(dir)) return dir;
  const parent = path.dirname(dir);
  await mkdir(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(dir)}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(tmp);
    const dirs = new Set([tmp]);
    for (const file of version.files) {
      const bytes = await store.getBlob(file.digest);
      // A missing or altered blob means the store is damaged; running other code than was deployed is worse.
      if (!bytes || sha256(bytes) !== file.digest) {
        throw new RelayError(
          'INTERNAL',
          `Package blob ${file.digest} of ${version.rufid} v${version.version} is missing or corrupt`,
        );
      }
      const target = path.join(tmp, file.path);
      if (!target.startsWith(tmp + path.sep)) {
        throw new RelayError('INTERNAL', `Package path '${file.path}' escapes the task dir`);
      }
      await mkdir(path.dirname(target), { recursive: true });
      for (let d = path.dirname(target); d !== tmp; d = path.dirname(d)) dirs.add(d);
      await writeFile(target, bytes, { mode: 0o644 });
      await chmod(target, 0o644);
    }
    // Sandboxes may read the package as another user: exact modes, whatever Relay's umask.
    for (const d of dirs) await chmod(d, 0o755);
    try {
      await rename(tmp, dir);
    } catch (err) {
      // Another caller finished first: theirs is identical, keep it.
      if (await exists(dir)) return dir;
      throw err;
    }
    return dir;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
