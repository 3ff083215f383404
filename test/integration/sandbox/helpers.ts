/**
 * Helpers for the sandbox tests: invoking with collected logs, and finding
 * a sandbox's cgroup directories to check limits and cleanup from outside.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readCgroupLayout } from '../../../src/sandbox/limits/hierarchy.ts';
import type { InvokeContext, InvokeResult, Sandbox } from '../../../src/sandbox/port.ts';
import type { LogStream } from '../../../src/domain/index.ts';

export interface Invoked extends InvokeResult {
  logs: Array<{ stream: LogStream; line: string }>;
}

let seq = 0;

export function context(timeoutMs = 10_000): InvokeContext {
  return {
    executionId: `ex_test_${process.pid}_${++seq}`,
    tenantId: 'tenant-a',
    rufid: 'abcdef123456',
    functionName: 'fixture',
    version: 1,
    branch: 'main',
    memoryLimitMb: 128,
    deadlineMs: Date.now() + timeoutMs,
  };
}

/** One invocation with its log lines collected. */
export async function call(
  sandbox: Sandbox,
  input: Record<string, unknown>,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<Invoked> {
  const logs: Invoked['logs'] = [];
  const timeoutMs = options.timeoutMs ?? 10_000;
  const result = await sandbox.invoke(
    { id: `req-${++seq}`, input, context: context(timeoutMs) },
    { timeoutMs, signal: options.signal, onLog: (stream, line) => logs.push({ stream, line }) },
  );
  return { ...result, logs };
}

/** The output of an ok outcome, or a thrown error describing what came back instead. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- fixture outputs are checked field by field
export function outputOf(result: InvokeResult): any {
  if (result.outcome.kind !== 'ok')
    throw new Error(`expected ok, got ${JSON.stringify(result.outcome)}`);
  return result.outcome.output;
}

/** Every cgroup directory named after this sandbox under this process's Relay parent groups. */
export function cgroupDirsOf(sandboxId: string): string[] {
  const layout = readCgroupLayout();
  const owns = new Set<string>([...layout.v1.values()].map((h) => h.ownDir));
  if (layout.unified) owns.add(layout.unified.ownDir);
  const found: string[] = [];
  for (const own of owns) {
    let entries: string[] = [];
    try {
      entries = readdirSync(own).filter((n) => n.startsWith(`relay-${process.pid}-`));
    } catch {
      continue;
    }
    for (const parent of entries) {
      const dir = path.join(own, parent, sandboxId);
      if (existsSync(dir)) found.push(dir);
    }
  }
  return found;
}

/** Host pids of every process in the sandbox's cgroups. */
export function cgroupPids(dirs: string[]): number[] {
  const pids = new Set<number>();
  for (const dir of dirs) {
    try {
      for (const s of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n'))
        if (s) pids.add(Number(s));
    } catch {
      // removed meanwhile
    }
  }
  return [...pids];
}

/** A live (non-zombie) process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export async function waitFor(check: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}
