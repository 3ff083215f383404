/**
 * Conformance cases for the SandboxManager over a real provider: warm reuse
 * per pool key, idle expiry, the warm cap and destruction of unusable
 * sandboxes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SandboxManager } from '../../../src/sandbox/manager.ts';
import { silentLogger } from '../../../src/sandbox/logger.ts';
import type { SandboxProvider } from '../../../src/sandbox/port.ts';
import { makeSpec } from './fixtures/runtime.ts';
import { call, cgroupDirsOf, outputOf, waitFor } from './helpers.ts';

const T = { timeout: 60_000 };

/** A view of the shared provider that the manager cannot close. */
function borrowed(provider: SandboxProvider): SandboxProvider {
  return {
    name: provider.name,
    isolated: provider.isolated,
    start: (s, o) => provider.start(s, o),
    close: async () => undefined,
  };
}

export function runManagerConformance(provider: () => SandboxProvider): void {
  const manager = (warmIdleMs = 60_000, warmMax = 8): SandboxManager =>
    new SandboxManager(borrowed(provider()), { warmIdleMs, warmMax, logger: silentLogger() });

  test('manager reuses a warm sandbox for the same pool key and keeps its state', T, async () => {
    const m = manager();
    try {
      const spec = makeSpec();
      const a = await m.acquire(spec);
      assert.equal(a.warm, false);
      const first = outputOf(await call(a.sandbox, { action: 'echo' }));
      await m.release(a.sandbox);
      assert.deepEqual(m.stats(), { warm: 1, busy: 0 });
      const b = await m.acquire({ ...spec });
      assert.equal(b.warm, true);
      assert.equal(b.sandbox, a.sandbox);
      assert.deepEqual(m.stats(), { warm: 0, busy: 1 });
      const second = outputOf(await call(b.sandbox, { action: 'echo' }));
      assert.equal(second.calls, first.calls + 1);
      await m.release(b.sandbox);
    } finally {
      await m.close();
    }
  });

  test('manager never hands a warm sandbox to another pool key', T, async () => {
    const m = manager();
    try {
      const a = await m.acquire(makeSpec({ poolKey: 'tenant-a|v1' }));
      await m.release(a.sandbox);
      const b = await m.acquire(makeSpec({ poolKey: 'tenant-b|v1' }));
      assert.equal(b.warm, false);
      assert.notEqual(b.sandbox, a.sandbox);
      assert.equal(outputOf(await call(b.sandbox, { action: 'echo' })).calls, 1);
      await m.release(b.sandbox);
      assert.deepEqual(m.stats(), { warm: 2, busy: 0 });
    } finally {
      await m.close();
    }
  });

  test('manager stops sandboxes idle longer than the idle time', T, async () => {
    const m = manager(150);
    try {
      const a = await m.acquire(makeSpec());
      await m.release(a.sandbox);
      assert.equal(m.stats().warm, 1);
      assert.ok(await waitFor(() => m.stats().warm === 0, 3000));
      assert.ok(await waitFor(() => cgroupDirsOf(a.sandbox.id).length === 0, 3000));
      assert.equal(a.sandbox.reusable, false);
      const again = await m.acquire(a.sandbox.spec);
      assert.equal(again.warm, false);
      await m.release(again.sandbox);
    } finally {
      await m.close();
    }
  });

  test('manager evicts the least recently used idle sandbox past the cap', T, async () => {
    const m = manager(60_000, 2);
    try {
      const got = await Promise.all([
        m.acquire(makeSpec()),
        m.acquire(makeSpec()),
        m.acquire(makeSpec()),
      ]);
      for (const g of got) await m.release(g.sandbox);
      assert.equal(m.stats().warm, 2);
      assert.ok(await waitFor(() => got[0].sandbox.reusable === false));
      assert.equal(got[1].sandbox.reusable, true);
      assert.equal((await m.acquire(got[2].sandbox.spec)).warm, true);
      assert.equal((await m.acquire(got[0].sandbox.spec)).warm, false);
    } finally {
      await m.close();
    }
  });

  test(
    'manager destroys a sandbox that is no longer reusable instead of pooling it',
    T,
    async () => {
      const m = manager();
      try {
        const a = await m.acquire(makeSpec());
        const r = await call(a.sandbox, { action: 'spin' }, { timeoutMs: 300 });
        assert.equal(r.outcome.kind, 'timed_out');
        await m.release(a.sandbox);
        assert.deepEqual(m.stats(), { warm: 0, busy: 0 });
        assert.deepEqual(cgroupDirsOf(a.sandbox.id), []);
        assert.equal((await m.acquire(a.sandbox.spec)).warm, false);
      } finally {
        await m.close();
      }
    },
  );

  test('manager does not hand out a warm sandbox that died while idle', T, async () => {
    const m = manager();
    try {
      const a = await m.acquire(makeSpec());
      assert.equal(
        outputOf(await call(a.sandbox, { action: 'exit_later', seconds: 0.1 })),
        'bye soon',
      );
      await m.release(a.sandbox);
      assert.ok(await waitFor(() => !a.sandbox.reusable), 'the death is noticed');
      const b = await m.acquire(a.sandbox.spec);
      assert.equal(b.warm, false);
      assert.notEqual(b.sandbox, a.sandbox);
      await m.release(b.sandbox);
    } finally {
      await m.close();
    }
  });

  test('manager close destroys idle and busy sandboxes', T, async () => {
    const m = manager();
    const idle = await m.acquire(makeSpec());
    await m.release(idle.sandbox);
    const busy = await m.acquire(makeSpec());
    await m.close();
    assert.equal(idle.sandbox.reusable, false);
    assert.equal(busy.sandbox.reusable, false);
    assert.deepEqual([...cgroupDirsOf(idle.sandbox.id), ...cgroupDirsOf(busy.sandbox.id)], []);
    await assert.rejects(m.acquire(makeSpec()));
  });
}
