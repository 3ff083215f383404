/** The networked bwrap sandbox's own rules: missing helpers, DNS, and setup cut short. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { BwrapProvider } from '../../../src/sandbox/bwrap/provider.ts';
import { ResourceLimitsEnforcer } from '../../../src/sandbox/limits/index.ts';
import { sandboxResolvConf } from '../../../src/sandbox/bwrap/network.ts';
import { silentLogger } from '../../../src/sandbox/logger.ts';
import { makeSpec } from './fixtures/runtime.ts';
import { alive, call, outputOf, waitFor } from './helpers.ts';

const T = { timeout: 60_000 };

function processes(): Array<{ pid: number; ppid: number; args: string }> {
  return execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! }));
}

/** bwrap processes whose Relay is gone (a live sandbox's launcher is Relay's child). */
function orphanedSandboxes(): number[] {
  return processes()
    .filter((p) => p.ppid === 1 && p.args.startsWith('/usr/bin/bwrap --args'))
    .map((p) => p.pid);
}

describe('sandbox network', () => {
  test(
    'a networked sandbox fails to start, naming the package, when slirp4netns is missing',
    T,
    async () => {
      const provider = new BwrapProvider({
        logger: silentLogger(),
        networkBinDirs: ['/nonexistent'],
      });
      try {
        await assert.rejects(
          provider.start(makeSpec({ network: true })),
          /slirp4netns.*not installed.*apt-get install slirp4netns/,
        );
        const sb = await provider.start(makeSpec({ network: false }));
        assert.equal(outputOf(await call(sb, { action: 'echo', value: 1 })).echo, 1);
        await sb.destroy();
      } finally {
        await provider.close();
      }
    },
  );

  test('nameservers on loopback or host addresses become the forwarder 10.0.2.3', () => {
    const host =
      'search corp.example\nnameserver 127.0.0.53\nnameserver 192.0.2.2\noptions edns0\n';
    assert.equal(
      sandboxResolvConf(host, ['192.0.2.2']),
      'search corp.example\nnameserver 10.0.2.3\noptions edns0\n',
    );
    assert.equal(
      sandboxResolvConf('nameserver 10.255.255.53\n', ['192.0.2.2']),
      'nameserver 10.255.255.53\n',
    );
    assert.equal(sandboxResolvConf(null, []), 'nameserver 10.0.2.3\n');
  });

  for (const cgroups of [true, false]) {
    test(
      `a start cut short while the network is set up leaves no process behind (${cgroups ? 'cgroups' : 'no cgroups'})`,
      T,
      async () => {
        const enforcer = ResourceLimitsEnforcer.create({
          logger: silentLogger(),
          mode: cgroups ? 'auto' : 'none',
        });
        const provider = new BwrapProvider({ logger: silentLogger(), enforcer });
        const before = new Set(orphanedSandboxes());
        try {
          for (let i = 0; i < 6; i++) {
            // Cut short during network setup, the start itself may fail (its helper was killed):
            // what matters here is that nothing is left running either way.
            const sb = await provider
              .start(makeSpec({ network: true }), { timeoutMs: 1 + i * 4 })
              .catch(() => null);
            await sb?.destroy();
          }
          // A helper that outlived its sandbox targets a pid that is gone (other runs' helpers have live targets).
          const helpers = (): string[] =>
            processes()
              .filter((p) => p.args.startsWith('slirp4netns '))
              .filter((p) => !alive(Number(/ (\d+) tap0$/.exec(p.args)?.[1])))
              .map((p) => p.args);
          assert.ok(await waitFor(() => helpers().length === 0), helpers().join('\n'));
          const left = (): number[] => orphanedSandboxes().filter((p) => !before.has(p));
          assert.ok(
            await waitFor(() => left().length === 0),
            `orphaned sandbox pids ${left().join(' ')}`,
          );
        } finally {
          await provider.close();
          await enforcer.close();
        }
      },
    );
  }
});
