/**
 * Killing a whole sandbox: the launched process, then everything left in
 * its cgroup (or its process group when there is no cgroup), then waiting
 * until the launched process has really exited.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SandboxCgroup } from './limits/index.ts';

/** Resolves when the child has exited (at once if it already has). */
export function whenExited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGKILL every process of a sandbox and wait (bounded) for the launched one to exit. */
export async function killSandbox(
  child: ChildProcess,
  cgroup: SandboxCgroup | null,
  processGroup: boolean,
): Promise<void> {
  const running = child.exitCode === null && child.signalCode === null;
  if (running) child.kill('SIGKILL');
  if (cgroup) {
    await cgroup.killAll();
  } else if (processGroup && child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is already empty
    }
  }
  await Promise.race([whenExited(child), sleep(3000)]);
}
