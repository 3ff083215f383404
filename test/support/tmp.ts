/** Temporary directories for tests: created fresh, removed with everything in them. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface TempDir {
  path: string;
  /** Remove the directory and its contents; safe to call twice. */
  cleanup(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A new empty directory under the OS temp dir (`await using dir = await makeTempDir()` works too). */
export async function makeTempDir(prefix = 'relay-test-'): Promise<TempDir> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  return { path: dir, cleanup, [Symbol.asyncDispose]: cleanup };
}
