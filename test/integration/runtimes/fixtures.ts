/**
 * Test fixtures for the runtime tests: a temporary task dir holding the
 * function's files, a private tmp dir, and a bootstrap started on them.
 * Everything is removed when the test ends.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import type { RuntimeAdapter } from '../../../src/runtimes/index.ts';
import { startBootstrap, type BootstrapClient } from '../../support/invoke-client.ts';

export type Files = Record<string, string | Uint8Array>;

export interface TaskDirs {
  taskDir: string;
  depsDir: string | undefined;
  tmpDir: string;
}

/** Writes the files into a fresh temp dir; removed after the test. */
export function taskDirs(t: TestContext, files: Files, deps?: Files): TaskDirs {
  const { root, dirs } = makeDirs(files, deps);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return dirs;
}

function makeDirs(files: Files, deps?: Files): { root: string; dirs: TaskDirs } {
  const root = mkdtempSync(join(tmpdir(), 'relay-runtime-test-'));
  const write = (dir: string, set: Files) => {
    for (const [path, content] of Object.entries(set)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
  };
  const taskDir = join(root, 'task');
  const tmpDir = join(root, 'tmp');
  mkdirSync(taskDir);
  mkdirSync(tmpDir);
  write(taskDir, files);
  let depsDir: string | undefined;
  if (deps !== undefined) {
    depsDir = join(root, 'deps');
    mkdirSync(depsDir);
    write(depsDir, deps);
  }
  return { root, dirs: { taskDir, depsDir, tmpDir } };
}

export interface StartOptions {
  deps?: Files;
  env?: Record<string, string>;
}

/** Starts the adapter's bootstrap on the files; killed (and its dirs removed) after the test. */
export function start(
  t: TestContext,
  adapter: RuntimeAdapter,
  entrypoint: string,
  files: Files,
  options: StartOptions = {},
): BootstrapClient {
  const { root, dirs } = makeDirs(files, options.deps);
  const client = startBootstrap(adapter, entrypoint, dirs, options.env);
  t.after(async () => {
    client.kill();
    await client.exited;
    rmSync(root, { recursive: true, force: true });
  });
  return client;
}

/** Starts a bootstrap and asserts it loaded. */
export async function startReady(
  t: TestContext,
  adapter: RuntimeAdapter,
  entrypoint: string,
  files: Files,
  options: StartOptions = {},
): Promise<BootstrapClient> {
  const client = start(t, adapter, entrypoint, files, options);
  const ready = await client.ready;
  if (!ready.ready)
    throw new Error(
      `bootstrap not ready: ${JSON.stringify(ready.error)}; stderr: ${client.stderr}`,
    );
  return client;
}
