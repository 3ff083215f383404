/**
 * Test fixtures for the runtime tests: a temporary task dir holding the
 * function's files, a private tmp dir, and a bootstrap started on them.
 * Everything is removed when the test ends.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  constants,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
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

export interface FifoBootstrap {
  /** The next line the bootstrap wrote on fd 4, parsed. */
  next(): Promise<unknown>;
  /** Writes one request line into the FIFO, once the bootstrap has had time to wait on it empty. */
  send(message: unknown): Promise<void>;
  /** Closes the FIFO's write end and resolves with the exit code. */
  close(): Promise<number | null>;
}

/**
 * Starts a bootstrap whose fd 3 is a FIFO opened non-blocking (spawn gives
 * blocking pipes; a bootstrap must not depend on that).
 */
export function startOnNonBlockingFifo(
  t: TestContext,
  adapter: RuntimeAdapter,
  entrypoint: string,
  files: Files,
): FifoBootstrap {
  const dirs = taskDirs(t, files);
  const fifo = join(dirs.tmpDir, 'requests');
  execFileSync('mkfifo', [fifo]);
  const requests = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(fifo, constants.O_WRONLY);
  const launch = adapter.launch(entrypoint, { ...dirs, bootstrapDir: adapter.bootstrapDir });
  const child = spawn(launch.argv[0]!, launch.argv.slice(1), {
    env: launch.env,
    stdio: ['ignore', 'ignore', 'inherit', requests, 'pipe'],
  });
  closeSync(requests);
  t.after(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let partial = '';
  (child.stdio[4] as Readable).setEncoding('utf8').on('data', (chunk: string) => {
    const pieces = (partial + chunk).split('\n');
    partial = pieces.pop()!;
    lines.push(...pieces);
    waiters.splice(0).forEach((wake) => wake());
  });
  const next = async (): Promise<unknown> => {
    while (lines.length === 0) await new Promise<void>((wake) => waiters.push(wake));
    return JSON.parse(lines.shift()!);
  };
  return {
    next,
    send: async (message) => {
      // A read on an empty non-blocking descriptor is the case under test.
      await delay(200);
      writeSync(writer, `${JSON.stringify(message)}\n`);
    },
    close: () => {
      closeSync(writer);
      return exited;
    },
  };
}
