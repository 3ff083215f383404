/** The networked bwrap sandbox's own rules: missing helpers, DNS, and setup cut short. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { BwrapProvider } from '../../../src/sandbox/bwrap/provider.ts';
import { sandboxResolvConf } from '../../../src/sandbox/bwrap/network.ts';
import { silentLogger } from '../../../src/sandbox/logger.ts';
import { makeSpec } from './fixtures/runtime.ts';
import { alive, call, outputOf, waitFor } from './helpers.ts';

const T = { timeout: 60_000 };

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

  test('a start cut short while the network is set up leaves no helper behind', T, async () => {
    const provider = new BwrapProvider({ logger: silentLogger() });
    try {
      for (let i = 0; i < 5; i++) {
        const sb = await provider.start(makeSpec({ network: true }), { timeoutMs: 1 + i * 5 });
        await sb.destroy();
      }
      // A helper that outlived its sandbox targets a pid that is gone (other runs' helpers have live targets).
      const orphans = (): string[] =>
        execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
          .split('\n')
          .filter((l) => l.startsWith('slirp4netns '))
          .filter((l) => !alive(Number(/ (\d+) tap0$/.exec(l)?.[1])));
      assert.ok(await waitFor(() => orphans().length === 0), orphans().join('\n'));
    } finally {
      await provider.close();
    }
  });
});
