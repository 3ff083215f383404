/**
 * The host side of the invoke protocol (protocol.ts), shared by every
 * provider: readiness handshake, one invocation at a time, the wall clock,
 * cancellation, result-size cap, log lines, and turning a dead or killed
 * sandbox into the right outcome (an OOM kill is read from the cgroup).
 */
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionError, LogStream } from '../domain/index.ts';
import type { SandboxCgroup } from './limits/index.ts';
import { LineSplitter } from './lines.ts';
import { encodeRequest, MAX_LOG_LINE_BYTES, parseReady, parseReply } from './protocol.ts';
import type {
  InvokeOptions,
  InvokeOutcome,
  InvokeRequest,
  InvokeResult,
  InvokeUsage,
  Sandbox,
  SandboxSpec,
  StartOptions,
} from './port.ts';

/** Lines kept while no invocation runs, delivered to the next one. */
const BACKLOG_LINES = 1000;
const STDERR_TAIL_BYTES = 2048;

export interface SessionParts {
  id: string;
  spec: SandboxSpec;
  child: ChildProcess;
  cgroup: SandboxCgroup | null;
  /** Kill every process of the sandbox (cgroup, pid namespace or process group). */
  kill: () => Promise<void>;
  /** Release what the provider made for this sandbox (cgroup dirs, temp dirs). */
  cleanup: () => Promise<void>;
  /** Retire the sandbox once its processes used this much CPU (keeps RLIMIT_CPU a backstop). */
  retireAfterCpuMs: number;
  /** Setup the command waits for (a sandbox's network); its rejection fails the start. */
  setup?: Promise<void>;
}

interface Current {
  id: string;
  onLog: InvokeOptions['onLog'];
  resolve: (result: InvokeResult) => void;
  startedAt: number;
  cpuNs: number | undefined;
  oomKills: number;
  timer: NodeJS.Timeout | undefined;
  detach: () => void;
  done: boolean;
}

type Phase = 'starting' | 'ready' | 'dead' | 'destroyed';

/** A started bootstrap behind the Sandbox port, whichever provider launched it. */
export class ProtocolSandbox implements Sandbox {
  readonly id: string;
  readonly spec: SandboxSpec;
  private readonly parts: SessionParts;
  private phase: Phase = 'starting';
  /** Outcome every later invoke reports once the sandbox cannot serve. */
  private failure: InvokeOutcome | null = null;
  private retired = false;
  private current: Current | null = null;
  private backlog: Array<[LogStream, string]> = [];
  private backlogDropped = 0;
  private stderrTail = '';
  private readyWaiter: ((value: void) => void) | null = null;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exited: Promise<void>;
  private destroying: Promise<void> | undefined;
  private readonly stdin: Writable;
  private cpuNsTotal = 0;

  private constructor(parts: SessionParts) {
    this.parts = parts;
    this.id = parts.id;
    this.spec = parts.spec;
    const { child } = parts;
    this.stdin = child.stdio[3] as Writable;
    this.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
      });
    });
    this.pipeLogs(child.stdout!, 'stdout');
    this.pipeLogs(child.stderr!, 'stderr');
    const replies = new LineSplitter({
      maxLineBytes: parts.spec.limits.maxResultBytes,
      onLongLine: 'overflow',
      onLine: (line) => this.onReplyLine(line),
      onOverflow: (bytes) => this.onOverflow(bytes),
    });
    const fd4 = child.stdio[4] as Readable;
    fd4.on('data', (chunk: Buffer) => replies.push(chunk));
    fd4.on('error', () => undefined);
    void this.exited.then(() => this.onExit());
  }

  /** Wrap a spawned bootstrap and wait for its readiness line (or its failure). */
  static async start(
    parts: SessionParts,
    options: StartOptions & { timeoutMs: number },
  ): Promise<ProtocolSandbox> {
    const setup: { failed: boolean; err?: unknown; sandbox?: ProtocolSandbox } = { failed: false };
    const failed = (): InvokeOutcome => crashed('SandboxSetupFailed', String(setup.err));
    // Attached first: a setup failure must never go unhandled, whatever happens below.
    parts.setup?.catch((err: unknown) => {
      setup.failed = true;
      setup.err = err;
      void setup.sandbox?.failStart(failed());
    });
    await spawned(parts.child);
    const sandbox = new ProtocolSandbox(parts);
    setup.sandbox = sandbox;
    if (setup.failed) void sandbox.failStart(failed());
    await sandbox.waitReady(options);
    if (setup.failed) {
      await sandbox.destroy();
      throw setup.err;
    }
    return sandbox;
  }

  get reusable(): boolean {
    return this.phase === 'ready' && this.failure === null && !this.retired;
  }

  invoke(request: InvokeRequest, options: InvokeOptions): Promise<InvokeResult> {
    if (this.current) throw new Error(`sandbox ${this.id} is already running an invocation`);
    for (const [stream, line] of this.backlog) options.onLog(stream, line);
    if (this.backlogDropped > 0)
      options.onLog('system', `${this.backlogDropped} log lines dropped while idle`);
    this.backlog = [];
    this.backlogDropped = 0;
    if (this.failure) return Promise.resolve({ outcome: this.failure, usage: {}, durationMs: 0 });
    if (this.phase !== 'ready') {
      return Promise.resolve({
        outcome: crashed('SandboxDestroyed', 'the sandbox was destroyed'),
        usage: {},
        durationMs: 0,
      });
    }
    // Nothing was sent yet, so the sandbox stays usable.
    if (options.signal?.aborted)
      return Promise.resolve({ outcome: { kind: 'cancelled' }, usage: {}, durationMs: 0 });
    const snap = this.parts.cgroup?.snapshot();
    this.parts.cgroup?.resetPeak();
    return new Promise((resolve) => {
      const onAbort = (): void => void this.finish({ kind: 'cancelled' });
      const current: Current = {
        id: request.id,
        onLog: options.onLog,
        resolve,
        startedAt: performance.now(),
        cpuNs: snap?.cpuNs,
        oomKills: snap?.oomKills ?? 0,
        timer: setTimeout(
          () => void this.finish({ kind: 'timed_out' }),
          Math.max(0, options.timeoutMs),
        ),
        detach: () => options.signal?.removeEventListener('abort', onAbort),
        done: false,
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.current = current;
      this.stdin.write(encodeRequest(request));
    });
  }

  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      if (this.current)
        await this.finish(
          crashed('SandboxDestroyed', 'the sandbox was destroyed during the invocation'),
        );
      this.phase = 'destroyed';
      this.readyWaiter?.();
      await this.killAll();
      await this.parts.cleanup();
    })();
    return this.destroying;
  }

  private async waitReady(options: StartOptions & { timeoutMs: number }): Promise<void> {
    const ready = new Promise<void>((resolve) => {
      this.readyWaiter = resolve;
    });
    const timer = setTimeout(() => void this.failStart({ kind: 'timed_out' }), options.timeoutMs);
    const onAbort = (): void => void this.failStart({ kind: 'cancelled' });
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await ready;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The sandbox will never become ready: remember why and kill it. */
  private async failStart(outcome: InvokeOutcome): Promise<void> {
    if (this.phase !== 'starting') return;
    this.phase = 'dead';
    this.failure = outcome;
    await this.killAll();
    this.readyWaiter?.();
  }

  private markReady(): void {
    if (this.phase !== 'starting') return;
    this.phase = 'ready';
    this.readyWaiter?.();
  }

  private onReplyLine(line: string): void {
    if (this.phase === 'starting') {
      const ready = parseReady(line);
      if (!ready)
        return void this.failStart(
          crashed('ProtocolError', `expected a readiness line, got: ${line.slice(0, 200)}`),
        );
      if (ready.ready) return this.markReady();
      // The loader's own error: the function's fault, reported as a handler error.
      return void this.failStart({ kind: 'error', error: ready.error });
    }
    const current = this.current;
    if (!current || current.done) {
      if (this.phase === 'ready')
        this.fail(crashed('ProtocolError', 'reply line with no invocation running'));
      return;
    }
    const reply = parseReply(line);
    if (!reply || reply.id !== current.id) {
      return void this.finish(
        crashed('ProtocolError', `malformed reply or wrong id: ${line.slice(0, 200)}`),
      );
    }
    const outcome: InvokeOutcome = reply.ok
      ? { kind: 'ok', output: reply.output }
      : { kind: 'error', error: reply.error };
    // The bootstrap flushed its logs before replying, but the reply pipe may be
    // read first; one turn of the event loop lets those lines land in this call.
    setImmediate(() => void this.finish(outcome));
  }

  private onOverflow(bytes: number): void {
    if (this.current && !this.current.done)
      return void this.finish({ kind: 'result_too_large', bytes });
    if (this.phase === 'starting')
      return void this.failStart(crashed('ProtocolError', 'readiness line too long'));
    this.fail(crashed('ProtocolError', 'oversized line on the reply channel'));
  }

  private async onExit(): Promise<void> {
    if (this.phase === 'destroyed') return;
    // The bootstrap is gone: whatever it left behind dies too, then the
    // remaining output is drained so a final reply or log line still counts.
    await this.killAll();
    await Promise.race([streamsClosed(this.parts.child), sleep(300)]);
    const outcome = this.deathOutcome(this.current?.oomKills ?? 0);
    if (this.phase === 'starting') return this.failStart(outcome);
    if (this.current && !this.current.done) return void this.finish(outcome);
    this.fail(outcome);
  }

  private deathOutcome(oomBaseline: number): InvokeOutcome {
    const oom = this.parts.cgroup?.snapshot().oomKills ?? 0;
    if (oom > oomBaseline) return { kind: 'memory_exceeded' };
    const info = this.exitInfo;
    let how = info?.signal
      ? `was killed by ${info.signal}`
      : `exited with code ${info?.code ?? '?'}`;
    if (info?.signal === 'SIGXCPU' || info?.code === 128 + 24) how += ' (CPU time limit)';
    const tail = this.stderrTail.trim();
    return crashed(
      'SandboxCrashed',
      `the function's process ${how}${tail ? `: ${tail.slice(-500)}` : ''}`,
    );
  }

  /** Idle sandbox became unusable. */
  private fail(outcome: InvokeOutcome): void {
    if (this.phase === 'destroyed') return;
    this.failure ??= outcome;
    this.phase = 'dead';
    void this.killAll();
  }

  private async finish(outcome: InvokeOutcome): Promise<void> {
    const current = this.current;
    if (!current || current.done) return;
    current.done = true;
    clearTimeout(current.timer);
    current.detach();
    const durationMs = performance.now() - current.startedAt;
    const usage: InvokeUsage = {};
    const cg = this.parts.cgroup;
    if (cg) {
      const snap = cg.snapshot();
      if (snap.cpuNs !== undefined && current.cpuNs !== undefined) {
        const delta = Math.max(0, snap.cpuNs - current.cpuNs);
        this.cpuNsTotal += delta;
        usage.cpuMs = delta / 1e6;
      }
      const peak = cg.peakMemoryBytes();
      if (peak !== undefined) usage.peakMemoryBytes = peak;
      // An OOM kill anywhere in the sandbox during the call decides the outcome.
      if (
        snap.oomKills > current.oomKills &&
        outcome.kind !== 'timed_out' &&
        outcome.kind !== 'cancelled'
      ) {
        outcome = { kind: 'memory_exceeded' };
      }
    }
    if (outcome.kind !== 'ok' && outcome.kind !== 'error') {
      this.failure ??= outcome;
      if (this.phase === 'ready') this.phase = 'dead';
      await this.killAll();
    } else if (this.cpuNsTotal / 1e6 >= this.parts.retireAfterCpuMs) {
      this.retired = true;
    }
    this.current = null;
    current.resolve({ outcome, usage, durationMs });
  }

  private killAll(): Promise<void> {
    return this.parts.kill();
  }

  private pipeLogs(stream: Readable, name: 'stdout' | 'stderr'): void {
    const splitter = new LineSplitter({
      maxLineBytes: MAX_LOG_LINE_BYTES,
      onLongLine: 'cut',
      onLine: (line) => this.onLog(name, line),
    });
    stream.on('data', (chunk: Buffer) => {
      if (name === 'stderr')
        this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
      splitter.push(chunk);
    });
    stream.on('end', () => splitter.end());
    stream.on('error', () => undefined);
  }

  private onLog(stream: LogStream, line: string): void {
    if (this.current && !this.current.done) return this.current.onLog(stream, line);
    if (this.backlog.length < BACKLOG_LINES) this.backlog.push([stream, line]);
    else this.backlogDropped++;
  }
}

function crashed(type: string, message: string): InvokeOutcome {
  const error: ExecutionError = { type, message };
  return { kind: 'crashed', error };
}

/** Resolves once the process exists; rejects when it could not be spawned at all. */
function spawned(child: ChildProcess): Promise<void> {
  if (child.pid !== undefined) return Promise.resolve();
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (err) => reject(err));
  });
}

/** stdout, stderr and the reply pipe have all been read to the end. */
function streamsClosed(child: ChildProcess): Promise<void> {
  return Promise.all(
    [child.stdio[1], child.stdio[2], child.stdio[4]].map(
      (s) =>
        new Promise<void>((resolve) => {
          if (!s || (s as Readable).readableEnded || s.destroyed) return resolve();
          s.once('close', () => resolve());
        }),
    ),
  ).then(() => undefined);
}
