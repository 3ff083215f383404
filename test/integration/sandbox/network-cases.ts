/**
 * Conformance cases for network access: no connection leaves a sandbox
 * unless its spec asks for the network, and even then an isolating
 * provider reaches the outside world (here: only the npm registry exists)
 * but none of the host's own services, on loopback, on its other
 * addresses or on abstract unix sockets.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import { hostAddresses } from '../../../src/sandbox/bwrap/network.ts';
import type { SandboxProvider } from '../../../src/sandbox/port.ts';
import { makeSpec } from './fixtures/runtime.ts';
import { alive, call, cgroupDirsOf, cgroupPids, outputOf, waitFor } from './helpers.ts';

const T = { timeout: 60_000 };
const REGISTRY = { host: 'registry.npmjs.org', port: 443, timeout: 10 };

function listen(
  server: Server,
  where: { port: number; host: string } | { path: string },
): Promise<void> {
  return new Promise((resolve) => server.listen(where, () => resolve()));
}

export function runNetworkConformance(
  provider: () => SandboxProvider,
  opts: { isolatedOnly: { skip?: string } },
): void {
  // Listens on every host address, as a careless service would.
  let server: Server;
  let port = 0;
  const abstract = `@relay-test-${process.pid}`;
  let unix: Server;
  before(async () => {
    server = createServer((socket) => socket.end());
    await listen(server, { port: 0, host: '0.0.0.0' });
    port = (server.address() as { port: number }).port;
    unix = createServer((socket) => socket.end());
    await listen(unix, { path: abstract.replace('@', '\0') });
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => unix.close(() => resolve()));
  });

  test('a TCP connection fails without network', { ...T, ...opts.isolatedOnly }, async () => {
    const sb = await provider().start(makeSpec({ network: false }));
    try {
      for (const p of [port, 5432]) {
        assert.equal(
          outputOf(await call(sb, { action: 'connect', port: p })).ok,
          false,
          `port ${p}`,
        );
      }
      const r = outputOf(await call(sb, { action: 'connect', ...REGISTRY }, { timeoutMs: 20_000 }));
      assert.equal(r.ok, false, 'the registry');
    } finally {
      await sb.destroy();
    }
  });

  test('with network the npm registry is reachable over TCP', T, async () => {
    const sb = await provider().start(makeSpec({ network: true }));
    try {
      const r = await call(sb, { action: 'connect', ...REGISTRY }, { timeoutMs: 20_000 });
      assert.deepEqual(outputOf(r), { ok: true });
    } finally {
      await sb.destroy();
    }
  });

  test(
    "with network the host's loopback, addresses and abstract sockets stay unreachable",
    { ...T, ...opts.isolatedOnly },
    async () => {
      const sb = await provider().start(makeSpec({ network: true }));
      try {
        // 10.0.2.2 is slirp4netns's way to the host's 127.0.0.1 unless disabled.
        const hosts = ['127.0.0.1', '10.0.2.2', ...hostAddresses()];
        assert.ok(hosts.length > 2, 'the host has a non-loopback address to test');
        for (const host of hosts) {
          for (const p of [port, 5432]) {
            const r = outputOf(await call(sb, { action: 'connect', host, port: p }));
            assert.equal(r.ok, false, `${host}:${p}`);
          }
        }
        const u = outputOf(await call(sb, { action: 'connect_unix', path: abstract }));
        assert.deepEqual(u, { ok: false, errno: 'ECONNREFUSED' });
      } finally {
        await sb.destroy();
      }
    },
  );

  test('the network exists before the function loads', T, async () => {
    const sb = await provider().start(
      makeSpec({ network: true, entrypoint: 'net_at_import.main' }),
    );
    try {
      assert.deepEqual(outputOf(await call(sb, {})), { ok: true });
    } finally {
      await sb.destroy();
    }
  });

  test('the network helper ends with its sandbox', { ...T, ...opts.isolatedOnly }, async () => {
    const sb = await provider().start(makeSpec({ network: true }));
    const dirs = cgroupDirsOf(sb.id);
    const pids = cgroupPids(dirs);
    const helpers = pids.filter((p) => comm(p) === 'slirp4netns');
    if (dirs.length > 0) assert.equal(helpers.length, 1, 'slirp4netns runs in the sandbox cgroup');
    await sb.destroy();
    assert.ok(await waitFor(() => pids.every((p) => !alive(p))), 'no process survives');
  });
}

/** The process's command name, or '' once it is gone. */
export function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
