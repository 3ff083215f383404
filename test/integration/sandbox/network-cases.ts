/**
 * Conformance cases for network access: no connection leaves a sandbox
 * unless its spec asks for the network.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import type { SandboxProvider } from '../../../src/sandbox/port.ts';
import { makeSpec } from './fixtures/runtime.ts';
import { call, outputOf } from './helpers.ts';

export function runNetworkConformance(
  provider: () => SandboxProvider,
  opts: { isolatedOnly: { skip?: string } },
): void {
  let server: Server;
  let port = 0;
  before(async () => {
    server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test(
    'a TCP connection fails without network',
    { timeout: 30_000, ...opts.isolatedOnly },
    async () => {
      const sb = await provider().start(makeSpec({ network: false }));
      try {
        for (const p of [port, 5432]) {
          assert.equal(
            outputOf(await call(sb, { action: 'connect', port: p })).ok,
            false,
            `port ${p}`,
          );
        }
      } finally {
        await sb.destroy();
      }
    },
  );

  test(
    'a TCP connection succeeds when the spec asks for network',
    { timeout: 30_000 },
    async () => {
      const sb = await provider().start(makeSpec({ network: true }));
      try {
        assert.deepEqual(outputOf(await call(sb, { action: 'connect', port })), { ok: true });
      } finally {
        await sb.destroy();
      }
    },
  );
}
