/** ResourceLimitsEnforcer: cgroup detection, fallback to rlimits only, and cleanup. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ResourceLimitsEnforcer } from '../../../src/sandbox/limits/index.ts';
import { readCgroupLayout } from '../../../src/sandbox/limits/hierarchy.ts';
import { silentLogger, type SandboxLogger } from '../../../src/sandbox/logger.ts';
import { ProcessProvider } from '../../../src/sandbox/process/provider.ts';
import { makeSpec } from './fixtures/runtime.ts';
import { call, outputOf } from './helpers.ts';

function recordingLogger(): SandboxLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return { ...silentLogger(), warn: (_obj, msg) => void warnings.push(msg ?? ''), warnings };
}

function ownDirs(): string[] {
  const layout = readCgroupLayout();
  const dirs = new Set([...layout.v1.values()].map((h) => h.ownDir));
  if (layout.unified) dirs.add(layout.unified.ownDir);
  return [...dirs].filter((d) => existsSync(d));
}

const mine = (): string[] =>
  ownDirs().flatMap((d) => readdirSync(d).filter((n) => n.startsWith(`relay-${process.pid}-`)));

test('the enforcer creates its parent groups and removes them on close', async () => {
  const before = mine().length;
  const enforcer = ResourceLimitsEnforcer.create({ logger: silentLogger() });
  if (enforcer.mode === 'none') return;
  assert.ok(mine().length > before);
  const group = enforcer.cgroup('sbx_limits_test', { memoryMb: 32, cpus: 0.5, pids: 8 });
  assert.ok(group && group.procsFiles.length > 0);
  assert.deepEqual(group.pids(), []);
  await group.remove();
  await enforcer.close();
  assert.equal(mine().length, before);
});

test(
  'without usable cgroups it says so and functions still run under rlimits and the wall clock',
  { timeout: 30_000 },
  async () => {
    const logger = recordingLogger();
    const enforcer = ResourceLimitsEnforcer.create({ logger, mode: 'none' });
    assert.equal(enforcer.mode, 'none');
    assert.equal(enforcer.cgroup('x', { memoryMb: 1, cpus: 1, pids: 1 }), null);
    const provider = new ProcessProvider({ logger: silentLogger(), enforcer });
    try {
      const sb = await provider.start(makeSpec());
      assert.equal(outputOf(await call(sb, { action: 'echo', value: 1 })).echo, 1);
      const r = await call(sb, { action: 'spawn_sleepers', count: 2 }, { timeoutMs: 500 });
      assert.equal(r.outcome.kind, 'timed_out');
      await sb.destroy();
    } finally {
      await provider.close();
      await enforcer.close();
    }
    const forced = ResourceLimitsEnforcer.create({ logger, mode: 'none' });
    await forced.close();
  },
);

test('a parent group left by a dead Relay process is swept at start', async () => {
  const probe = ResourceLimitsEnforcer.create({ logger: silentLogger() });
  const mode = probe.mode;
  await probe.close();
  if (mode === 'none') return;
  // No pid is this large, so the owner is certainly gone.
  const stale = path.join(ownDirs()[0]!, 'relay-999999999-deadbeef');
  mkdirSync(path.join(stale, 'sbx_left_behind'), { recursive: true });
  const enforcer = ResourceLimitsEnforcer.create({ logger: silentLogger() });
  try {
    for (let i = 0; i < 100 && existsSync(stale); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(existsSync(stale), false);
  } finally {
    await enforcer.close();
  }
});
