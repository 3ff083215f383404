/**
 * Conformance cases for isolation proper: the filesystem view, identity and
 * the seccomp filter. Providers that do not isolate skip them with a reason.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SandboxProvider } from '../../../src/sandbox/port.ts';
import { makeSpec, TASK_DIR, TEST_LIMITS } from './fixtures/runtime.ts';
import { call, outputOf } from './helpers.ts';

const T = { timeout: 60_000 };

export function runIsolationConformance(
  provider: () => SandboxProvider,
  isolatedOnly: (why: string) => { skip?: string },
): void {
  test(
    'writing outside /tmp fails and /tmp is writable',
    { ...T, ...isolatedOnly('the function writes wherever its host user may') },
    async () => {
      const sb = await provider().start(makeSpec());
      try {
        for (const path of ['/var/task/x', '/usr/x', '/etc/x', '/x', '/opt/relay/x', '/dev/x']) {
          assert.equal(outputOf(await call(sb, { action: 'write_file', path })).ok, false, path);
        }
        assert.deepEqual(outputOf(await call(sb, { action: 'write_file', path: '/tmp/ok' })), {
          ok: true,
        });
      } finally {
        await sb.destroy();
      }
    },
  );

  test(
    'host files outside the sandbox cannot be read',
    { ...T, ...isolatedOnly('the whole host filesystem is visible') },
    async () => {
      const sb = await provider().start(makeSpec());
      try {
        for (const path of [
          '/etc/shadow',
          '/work/shared/DESIGN.md',
          '/root/.bashrc',
          '/etc/hostname',
        ]) {
          assert.equal(outputOf(await call(sb, { action: 'read_file', path })).ok, false, path);
        }
        for (const path of ['/work', '/home', '/root']) {
          assert.equal(outputOf(await call(sb, { action: 'list_dir', path })).ok, false, path);
        }
      } finally {
        await sb.destroy();
      }
    },
  );

  test(
    'the function runs as uid 65534 in /var/task under its own hostname',
    { ...T, ...isolatedOnly('it runs as the host user, in a temp dir, without a uts namespace') },
    async () => {
      const sb = await provider().start(makeSpec());
      try {
        const out = outputOf(await call(sb, { action: 'identity' }));
        assert.equal(out.uid, 65534);
        assert.equal(out.gid, 65534);
        assert.equal(out.cwd, '/var/task');
        assert.equal(out.hostname, 'sandbox');
      } finally {
        await sb.destroy();
      }
    },
  );

  test(
    'seccomp denies unshare and ptrace with EPERM',
    { ...T, ...isolatedOnly('no seccomp filter is installed') },
    async () => {
      const sb = await provider().start(makeSpec());
      try {
        for (const name of ['unshare', 'ptrace', 'mount']) {
          assert.deepEqual(
            outputOf(await call(sb, { action: 'syscall', name })),
            { rc: -1, errno: 'EPERM' },
            name,
          );
        }
      } finally {
        await sb.destroy();
      }
    },
  );

  test(
    '/tmp is capped at tmpMb',
    { ...T, ...isolatedOnly('its temp dir is a plain host directory') },
    async () => {
      const sb = await provider().start(makeSpec({ limits: { ...TEST_LIMITS, fileSizeMb: 64 } }));
      try {
        const out = outputOf(await call(sb, { action: 'write_big', path: '/tmp/a', mb: 6 }));
        assert.deepEqual(out, { ok: true });
        const more = outputOf(await call(sb, { action: 'write_big', path: '/tmp/b', mb: 15 }));
        assert.deepEqual(more, { ok: false, errno: 'ENOSPC' });
      } finally {
        await sb.destroy();
      }
    },
  );

  test(
    'child processes still start under the seccomp filter',
    { ...T, ...isolatedOnly('no seccomp filter is installed') },
    async () => {
      const sb = await provider().start(makeSpec());
      try {
        const out = outputOf(
          await call(sb, { action: 'subprocess_run', argv: ['/usr/bin/echo', 'child ok'] }),
        );
        assert.deepEqual(out, { code: 0, stdout: 'child ok\n' });
      } finally {
        await sb.destroy();
      }
    },
  );

  test(
    "the sandbox's process list does not reveal host paths",
    { ...T, ...isolatedOnly('it sees every host process') },
    async () => {
      const sb = await provider().start(makeSpec());
      try {
        for (const pid of [1, 2]) {
          const cmdline = outputOf(
            await call(sb, { action: 'read_text', path: `/proc/${pid}/cmdline` }),
          );
          assert.ok(!cmdline.includes(TASK_DIR), cmdline);
        }
      } finally {
        await sb.destroy();
      }
    },
  );
}
