import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config/index.ts';
import { createExecutionPlane } from '../../../src/execution-plane.ts';
import { startServer } from '../../../src/main.ts';

const KEY = 'rk_trace_0123456789abcdef0123456789';

test('an execution is exported as a span in the trace named by the caller traceparent', async () => {
  const received: unknown[] = [];
  const collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  collector.listen(0, '127.0.0.1');
  await once(collector, 'listening');
  const { port } = collector.address() as { port: number };
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'relay-trace-'));
  const config = loadConfig({
    RELAY_DATA_DIR: dataDir,
    PORT: '0',
    RELAY_BOOTSTRAP_API_KEY: KEY,
    RELAY_LOG_LEVEL: 'silent',
    ENABLE_TELEMETRY_TRACES: 'true',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
  });
  const server = await startServer(config, {
    extensions: [(g) => createExecutionPlane(g, { worker: true })],
  });
  try {
    const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
    const manifest = JSON.parse(await readFile('examples/python-echo/relay.json', 'utf8'));
    const main = await readFile('examples/python-echo/main.py', 'utf8');
    const deployed = await fetch(`${server.url}/api/v1/functions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'traced', manifest, files: { 'main.py': main } }),
    });
    const { rufid } = (await deployed.json()) as { rufid: string };
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await fetch(`${server.url}/api/v1/functions/${rufid}/execute`, {
      method: 'POST',
      headers: { ...headers, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ input: { hello: 'trace' } }),
    });
    assert.equal(res.status, 200);
  } finally {
    await server.close(); // shutting the plane down flushes the span processor
    collector.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  const spans = received.flatMap((body) =>
    (
      body as {
        resourceSpans: {
          scopeSpans: {
            spans: {
              name: string;
              traceId: string;
              parentSpanId: string;
              attributes: { key: string; value: { stringValue?: string } }[];
            }[];
          }[];
        }[];
      }
    ).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)),
  );
  const span = spans.find((s) => s.name === 'relay.execution');
  assert.ok(span, `no relay.execution span among ${JSON.stringify(spans.map((s) => s.name))}`);
  assert.equal(span.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(span.parentSpanId, '00f067aa0ba902b7');
  const attr = (k: string) => span.attributes.find((a) => a.key === k)?.value.stringValue;
  assert.equal(attr('relay.branch'), 'main');
  assert.equal(attr('relay.status'), 'succeeded');
});
