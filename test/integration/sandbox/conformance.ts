/**
 * The sandbox-provider conformance suite: one set of behaviours every
 * provider must show, run once per provider (bwrap.test.ts,
 * process.test.ts). Isolation checks are skipped, with the reason, for
 * providers that do not isolate. The fixture bootstrap is real Python
 * speaking the real protocol; nothing is mocked.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { SandboxProvider } from '../../../src/sandbox/port.ts';
import { alive, call, cgroupDirsOf, cgroupPids, outputOf, waitFor } from './helpers.ts';
import { makeSpec, TEST_LIMITS } from './fixtures/runtime.ts';
import { runIsolationConformance } from './isolation-cases.ts';
import { runManagerConformance } from './manager-cases.ts';
import { runNetworkConformance } from './network-cases.ts';

export interface ConformanceOptions {
  isolated: boolean;
  /** True when per-sandbox cgroups are in force (else cgroup-backed checks are skipped). */
  cgroups: boolean;
}

const T = { timeout: 60_000 };

/** Register the suite for one provider. */
export function runProviderConformance(
  name: string,
  makeProvider: () => SandboxProvider,
  opts: ConformanceOptions,
): void {
  const isolatedOnly = (why: string): { skip?: string } =>
    opts.isolated ? {} : { skip: `${name} does not isolate: ${why}` };
  const cgroupOnly = opts.cgroups
    ? {}
    : { skip: 'cgroups are not usable on this host, so memory and pids are not limited' };
  const rootOnly =
    process.getuid?.() === 0 ? {} : { skip: 'Relay is not root: sandboxes run as its own user' };

  describe(`sandbox provider ${name}`, () => {
    let provider: SandboxProvider;
    before(() => {
      provider = makeProvider();
    });
    after(async () => {
      await provider.close();
    });

    test('reports whether it isolates', () => {
      assert.equal(provider.isolated, opts.isolated);
      assert.equal(provider.name, name);
    });

    test(
      'echo round trip carries input and context, and many calls reuse one warm process',
      T,
      async () => {
        const sb = await provider.start(makeSpec());
        try {
          const first = outputOf(await call(sb, { action: 'echo', value: { a: [1, 'two'] } }));
          assert.deepEqual(first.echo, { a: [1, 'two'] });
          assert.equal(first.context.tenantId, 'tenant-a');
          for (let i = 2; i <= 100; i++) {
            const out = outputOf(await call(sb, { action: 'echo', value: i }));
            assert.equal(out.calls, i);
            assert.equal(out.pid, first.pid);
          }
          assert.equal(sb.reusable, true);
        } finally {
          await sb.destroy();
        }
      },
    );

    test(
      'with Relay as root every sandbox process runs as host uid 65534 without groups, capabilities or a way to gain them',
      { ...T, ...cgroupOnly, ...rootOnly },
      async () => {
        const sb = await provider.start(makeSpec());
        try {
          const pids = cgroupPids(cgroupDirsOf(sb.id));
          assert.ok(pids.length > 0);
          for (const pid of pids) {
            const status = readFileSync(`/proc/${pid}/status`, 'utf8');
            const field = (name: string): string =>
              new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '?';
            assert.deepEqual(
              field('Uid').split(/\s+/).map(Number),
              [65534, 65534, 65534, 65534],
              `pid ${pid}`,
            );
            assert.deepEqual(
              field('Gid').split(/\s+/).map(Number),
              [65534, 65534, 65534, 65534],
              `pid ${pid}`,
            );
            assert.equal(field('Groups'), '', `pid ${pid}`);
            assert.equal(BigInt(`0x${field('CapEff')}`), 0n, `pid ${pid}`);
            assert.equal(field('NoNewPrivs'), '1', `pid ${pid}`);
          }
          assert.equal(outputOf(await call(sb, { action: 'echo', value: 1 })).echo, 1);
        } finally {
          await sb.destroy();
        }
      },
    );

    test('a handler error comes back as kind error and the sandbox stays reusable', T, async () => {
      const sb = await provider.start(makeSpec());
      try {
        const r = await call(sb, { action: 'fail', value: 7 });
        assert.equal(r.outcome.kind, 'error');
        assert.ok(r.outcome.kind === 'error');
        assert.equal(r.outcome.error.type, 'ValueError');
        assert.equal(r.outcome.error.message, 'bad input: 7');
        assert.match(r.outcome.error.stack ?? '', /handlers\.py/);
        assert.equal(sb.reusable, true);
        assert.equal(outputOf(await call(sb, { action: 'echo', value: 1 })).echo, 1);
      } finally {
        await sb.destroy();
      }
    });

    test(
      'an import failure is the first outcome, with the loader error type, and not reusable',
      T,
      async () => {
        const sb = await provider.start(makeSpec({ entrypoint: 'broken.main' }));
        try {
          assert.equal(sb.reusable, false);
          const r = await call(sb, { action: 'echo' });
          assert.ok(r.outcome.kind === 'error', JSON.stringify(r.outcome));
          assert.equal(r.outcome.error.type, 'ModuleNotFoundError');
          assert.match(r.outcome.error.message, /does_not_exist_anywhere/);
        } finally {
          await sb.destroy();
        }
      },
    );

    test('lines printed while loading are delivered with the first invocation', T, async () => {
      const sb = await provider.start(makeSpec({ entrypoint: 'noisy_import.main' }));
      try {
        const r = await call(sb, {});
        assert.equal(outputOf(r), 'ok');
        assert.deepEqual(r.logs, [{ stream: 'stdout', line: 'hello from import' }]);
      } finally {
        await sb.destroy();
      }
    });

    test('a process that exits mid-invocation is crashed and not reusable', T, async () => {
      const sb = await provider.start(makeSpec());
      try {
        const r = await call(sb, { action: 'crash', code: 3 });
        assert.ok(r.outcome.kind === 'crashed', JSON.stringify(r.outcome));
        assert.match(r.outcome.error.message, /code 3/);
        assert.equal(sb.reusable, false);
      } finally {
        await sb.destroy();
      }
    });

    test(
      'timeout ends as timed_out and kills every process of the sandbox',
      { ...T, ...cgroupOnly },
      async () => {
        const sb = await provider.start(makeSpec());
        try {
          const pending = call(sb, { action: 'spawn_sleepers', count: 3 }, { timeoutMs: 1500 });
          const dirs = cgroupDirsOf(sb.id);
          assert.ok(dirs.length > 0, 'the sandbox has cgroup directories');
          assert.ok(await waitFor(() => cgroupPids(dirs).length >= 4), 'the sleepers started');
          const pids = cgroupPids(dirs);
          const r = await pending;
          assert.equal(r.outcome.kind, 'timed_out');
          assert.equal(sb.reusable, false);
          assert.deepEqual(cgroupPids(dirs), []);
          assert.ok(await waitFor(() => pids.every((p) => !alive(p))), 'no process survives');
        } finally {
          await sb.destroy();
        }
      },
    );

    test('an infinite loop ends as timed_out', T, async () => {
      const sb = await provider.start(makeSpec());
      try {
        const started = Date.now();
        const r = await call(sb, { action: 'spin' }, { timeoutMs: 700 });
        assert.equal(r.outcome.kind, 'timed_out');
        assert.ok(Date.now() - started < 5000);
      } finally {
        await sb.destroy();
      }
    });

    test(
      'a memory bomb ends as memory_exceeded and the host carries on',
      { ...T, ...cgroupOnly },
      async () => {
        const spec = makeSpec({ limits: { ...TEST_LIMITS, memoryMb: 64 } });
        const sb = await provider.start(spec);
        try {
          const r = await call(sb, { action: 'memory_bomb' }, { timeoutMs: 20_000 });
          assert.equal(r.outcome.kind, 'memory_exceeded');
          assert.equal(sb.reusable, false);
        } finally {
          await sb.destroy();
        }
        const next = await provider.start(makeSpec());
        try {
          assert.equal(
            outputOf(await call(next, { action: 'echo', value: 'still here' })).echo,
            'still here',
          );
        } finally {
          await next.destroy();
        }
      },
    );

    test(
      'running out of memory while loading is memory_exceeded at the first invoke',
      { ...T, ...cgroupOnly },
      async () => {
        const spec = makeSpec({
          entrypoint: 'import_bomb.main',
          limits: { ...TEST_LIMITS, memoryMb: 64 },
        });
        const sb = await provider.start(spec);
        try {
          assert.equal(sb.reusable, false);
          assert.equal((await call(sb, {})).outcome.kind, 'memory_exceeded');
        } finally {
          await sb.destroy();
        }
      },
    );

    test('a fork bomb is contained by the pids limit', { ...T, ...cgroupOnly }, async () => {
      const sb = await provider.start(makeSpec({ limits: { ...TEST_LIMITS, pids: 16 } }));
      try {
        const out = outputOf(
          await call(sb, { action: 'fork_bomb', count: 500 }, { timeoutMs: 20_000 }),
        );
        assert.equal(out.error, 'EAGAIN');
        assert.ok(out.children < 20, `forked ${out.children}`);
      } finally {
        await sb.destroy();
      }
    });

    test('a file larger than fileSizeMb cannot be written', T, async () => {
      const sb = await provider.start(makeSpec());
      try {
        const tmp = outputOf(await call(sb, { action: 'env' })).TMPDIR as string;
        const out = outputOf(await call(sb, { action: 'write_big', path: `${tmp}/big`, mb: 10 }));
        assert.deepEqual(out, { ok: false, errno: 'EFBIG' });
      } finally {
        await sb.destroy();
      }
    });

    test('usage reports CPU time and peak memory', { ...T, ...cgroupOnly }, async () => {
      const sb = await provider.start(makeSpec());
      try {
        const r = await call(sb, { action: 'echo' });
        assert.ok((r.usage.cpuMs ?? -1) >= 0);
        assert.ok((r.usage.peakMemoryBytes ?? 0) > 1024 * 1024);
        assert.ok(r.durationMs >= 0);
      } finally {
        await sb.destroy();
      }
    });

    test('the environment holds only what the spec and runtime give', T, async () => {
      const sb = await provider.start(
        makeSpec({ env: { GREETING: 'hello', HOME: '/elsewhere', SECRET_TOKEN: 's3cret value' } }),
      );
      try {
        const env = outputOf(await call(sb, { action: 'env' }));
        assert.equal(env.GREETING, 'hello');
        assert.equal(env.SECRET_TOKEN, 's3cret value');
        assert.notEqual(env.HOME, '/elsewhere', "the runtime's keys win");
        // PWD is set by the launcher's chdir; nothing else may appear.
        const allowed = new Set([
          'GREETING',
          'SECRET_TOKEN',
          'HOME',
          'TMPDIR',
          'LANG',
          'PYTHONUNBUFFERED',
          'PWD',
        ]);
        assert.deepEqual(
          Object.keys(env).filter((k) => !allowed.has(k)),
          [],
        );
      } finally {
        await sb.destroy();
      }
    });

    test('10 MB written to stdout arrives as lines without hanging', T, async () => {
      const sb = await provider.start(makeSpec());
      try {
        const r = await call(
          sb,
          { action: 'big_stdout', bytes: 10 * 1024 * 1024 },
          { timeoutMs: 30_000 },
        );
        const out = outputOf(r);
        const lines = r.logs.filter((l) => l.stream === 'stdout');
        assert.equal(lines.length, out.lines);
        assert.ok(lines.every((l) => l.line === 'y'.repeat(99)));
        assert.equal(sb.reusable, true);
      } finally {
        await sb.destroy();
      }
    });

    test('a reply over maxResultBytes ends as result_too_large', T, async () => {
      const sb = await provider.start(makeSpec());
      try {
        const r = await call(sb, { action: 'big_result', bytes: 2 * TEST_LIMITS.maxResultBytes });
        assert.ok(r.outcome.kind === 'result_too_large', JSON.stringify(r.outcome).slice(0, 200));
        assert.ok(r.outcome.bytes > TEST_LIMITS.maxResultBytes);
        assert.equal(sb.reusable, false);
      } finally {
        await sb.destroy();
      }
    });

    test('aborting the signal cancels the invocation and kills the sandbox', T, async () => {
      const sb = await provider.start(makeSpec());
      try {
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 200);
        const r = await call(
          sb,
          { action: 'sleep', seconds: 60 },
          { signal: controller.signal, timeoutMs: 30_000 },
        );
        assert.equal(r.outcome.kind, 'cancelled');
        assert.equal(sb.reusable, false);
      } finally {
        await sb.destroy();
      }
    });

    test('an already aborted signal cancels without touching the sandbox', T, async () => {
      const sb = await provider.start(makeSpec());
      try {
        const r = await call(sb, { action: 'echo' }, { signal: AbortSignal.abort() });
        assert.equal(r.outcome.kind, 'cancelled');
        assert.equal(sb.reusable, true);
        assert.equal(outputOf(await call(sb, { action: 'echo', value: 2 })).echo, 2);
      } finally {
        await sb.destroy();
      }
    });

    test('destroy is idempotent and leaves no cgroup or process behind', T, async () => {
      const sb = await provider.start(makeSpec());
      const dirs = cgroupDirsOf(sb.id);
      if (opts.cgroups) assert.ok(dirs.length > 0);
      const pids = cgroupPids(dirs);
      await Promise.all([sb.destroy(), sb.destroy()]);
      await sb.destroy();
      assert.equal(sb.reusable, false);
      assert.deepEqual(cgroupDirsOf(sb.id), []);
      // A killed process may take a moment to finish exiting after it left its cgroup.
      assert.ok(await waitFor(() => pids.every((p) => !alive(p))), 'no process survives');
      const r = await call(sb, { action: 'echo' });
      assert.equal(r.outcome.kind, 'crashed');
    });

    test('a start timeout while loading is reported by the first invoke', T, async () => {
      const sb = await provider.start(makeSpec(), { timeoutMs: 1 });
      try {
        const r = await call(sb, { action: 'echo' });
        assert.equal(r.outcome.kind, 'timed_out');
        assert.equal(sb.reusable, false);
      } finally {
        await sb.destroy();
      }
    });

    runIsolationConformance(() => provider, isolatedOnly);
    runNetworkConformance(() => provider, {
      isolatedOnly: isolatedOnly('it shares the host network namespace'),
    });
    runManagerConformance(() => provider);
  });
}
