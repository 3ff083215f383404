/**
 * A small client for the invoke protocol, for tests that start a runtime's
 * bootstrap directly (no sandbox): requests go out on the child's fd 3,
 * replies come back on fd 4, stdout/stderr are collected as text.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import type { ExecutionError } from '../../src/domain/index.ts';
import type { LaunchPaths, RuntimeAdapter } from '../../src/runtimes/index.ts';
import type { InvokeContext } from '../../src/sandbox/port.ts';

export interface ReadyLine {
  ready: boolean;
  error?: ExecutionError;
}

export interface Reply {
  id: unknown;
  ok: boolean;
  output?: unknown;
  error?: ExecutionError;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A context with every field set; tests override what they look at. */
export function testContext(overrides: Partial<InvokeContext> = {}): InvokeContext {
  return {
    executionId: `ex_${randomUUID().replaceAll('-', '')}`,
    tenantId: 'tn_test',
    rufid: 'abcdef123456',
    functionName: 'test-fn',
    version: 3,
    branch: 'main',
    memoryLimitMb: 128,
    deadlineMs: Date.now() + 30_000,
    ...overrides,
  };
}

export class BootstrapClient {
  readonly child: ChildProcess;
  /** The readiness line: the first line on fd 4. */
  readonly ready: Promise<ReadyLine>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exit>;
  stdout = '';
  stderr = '';
  /** Every line seen on fd 4, raw, in order. */
  readonly replyLines: string[] = [];
  readonly #requests: Writable;
  readonly #waiting = new Map<unknown, (reply: Reply) => void>();
  #onReady: ((line: ReadyLine) => void) | undefined;

  constructor(argv: string[], env: Record<string, string>) {
    const [file, ...args] = argv;
    this.child = spawn(file!, args, { env, stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] });
    this.#requests = this.child.stdio[3] as Writable;
    // The child may exit before reading everything; that is the test's concern, not a crash.
    this.#requests.on('error', () => {});
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.ready = new Promise((resolve, reject) => {
      this.#onReady = resolve;
      this.child.once('error', reject);
      this.child.once('exit', (code, signal) =>
        reject(
          new Error(
            `bootstrap exited (${code ?? signal}) before its readiness line; stderr: ${this.stderr}`,
          ),
        ),
      );
    });
    // Keep an unobserved rejection from failing the test run.
    this.ready.catch(() => {});
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
      // A process that never started never exits.
      this.child.once('error', () => resolve({ code: null, signal: null }));
    });
    this.#readReplies(this.child.stdio[4] as Readable);
  }

  /** Sends one request and resolves with its reply. */
  invoke(
    input: unknown,
    context: InvokeContext = testContext(),
    id: string = randomUUID(),
  ): Promise<Reply> {
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#requests.write(`${JSON.stringify({ id, input, context })}\n`);
    });
  }

  /** Writes a raw line on fd 3 (for malformed-request tests); resolves with the next reply. */
  sendRaw(line: string): Promise<Reply> {
    return new Promise((resolve) => {
      this.#waiting.set(null, resolve);
      this.#requests.write(`${line}\n`);
    });
  }

  /** Ends fd 3 and waits for the process to exit. */
  async close(): Promise<Exit> {
    this.#requests.end();
    return this.exited;
  }

  /** Kills the process if it is still running. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  #readReplies(stream: Readable): void {
    // Only the new chunk is searched for a newline, so a large reply stays linear.
    let parts: string[] = [];
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      let start = 0;
      let newline;
      while ((newline = chunk.indexOf('\n', start)) !== -1) {
        parts.push(chunk.slice(start, newline));
        const line = parts.join('');
        parts = [];
        start = newline + 1;
        this.replyLines.push(line);
        this.#dispatch(JSON.parse(line) as Record<string, unknown>);
      }
      if (start < chunk.length) parts.push(chunk.slice(start));
    });
  }

  #dispatch(message: Record<string, unknown>): void {
    if ('ready' in message && this.#onReady !== undefined) {
      const onReady = this.#onReady;
      this.#onReady = undefined;
      onReady(message as unknown as ReadyLine);
      return;
    }
    const resolve = this.#waiting.get(message.id);
    if (resolve === undefined)
      throw new Error(`reply for unknown id ${JSON.stringify(message.id)}`);
    this.#waiting.delete(message.id);
    resolve(message as unknown as Reply);
  }
}

/** Starts an adapter's bootstrap as a plain child process, with host paths. */
export function startBootstrap(
  adapter: RuntimeAdapter,
  entrypoint: string,
  paths: Omit<LaunchPaths, 'bootstrapDir'>,
  extraEnv: Record<string, string> = {},
): BootstrapClient {
  const launch = adapter.launch(entrypoint, { ...paths, bootstrapDir: adapter.bootstrapDir });
  return new BootstrapClient(launch.argv, { ...extraEnv, ...launch.env });
}
