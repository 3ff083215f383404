/** Server basics: health, readiness, OpenAPI and docs, request ids. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('server basics', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
  });
  after(async () => {
    await ts.close();
  });

  test('/healthz and /readyz answer without a key', async () => {
    assert.deepEqual((await ts.call('GET', '/healthz', { key: null })).body, { status: 'ok' });
    assert.deepEqual((await ts.call('GET', '/readyz', { key: null })).body, { status: 'ready' });
  });

  test('/openapi.json describes the API routes', async () => {
    const res = await ts.call('GET', '/openapi.json', { key: null });
    assert.equal(res.status, 200);
    assert.match(res.body.openapi, /^3\./);
    for (const path of [
      '/api/v1/tenants',
      '/api/v1/keys',
      '/api/v1/functions',
      '/api/v1/functions/{rufid}/versions',
      '/api/v1/functions/{rufid}/branches/{branch}',
      '/api/v1/functions/{rufid}/resolve',
      '/api/v1/functions/{rufid}/execute',
    ]) {
      assert.ok(res.body.paths[path], `missing ${path}`);
    }
  });

  test('/docs serves the interactive documentation', async () => {
    const res = await fetch(`${ts.url}/docs/`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /swagger/i);
  });

  test('every response carries x-request-id, including errors', async () => {
    const ok = await ts.call('GET', '/healthz');
    const notFound = await ts.call('GET', '/nope');
    const unauth = await ts.call('GET', '/api/v1/functions', { key: null });
    const badJson = await ts.call('POST', '/api/v1/tenants', { rawBody: '{' });
    for (const res of [ok, notFound, unauth, badJson])
      assert.match(res.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{32}$/);
  });

  test('a sane incoming X-Request-Id is echoed back', async () => {
    const res = await ts.call('GET', '/healthz', { headers: { 'x-request-id': 'trace-123' } });
    assert.equal(res.headers.get('x-request-id'), 'trace-123');
  });

  test('secrets can be set, listed without values, and removed', async () => {
    const put = await ts.call('PUT', '/api/v1/secrets/API_TOKEN', {
      body: { value: 's3cret-value' },
    });
    assert.equal(put.status, 204);
    const list = await ts.call('GET', '/api/v1/secrets');
    assert.deepEqual(
      list.body.secrets.map((s: { name: string }) => s.name),
      ['API_TOKEN'],
    );
    assert.doesNotMatch(list.text, /s3cret-value/);
    assert.equal((await ts.call('DELETE', '/api/v1/secrets/API_TOKEN')).status, 204);
    const gone = await ts.call('DELETE', '/api/v1/secrets/API_TOKEN');
    assert.equal(gone.status, 404);
  });
});

test('extensions built on the graph mount their routes and are closed after the HTTP server', async () => {
  const events: string[] = [];
  const ts = await startTestServer(
    {},
    {
      extensions: [
        async (graph) => ({
          routes: [
            (app) => {
              app.get('/ext', async () => ({ store: graph.store.kind }));
            },
          ],
          close: async () => {
            events.push('extension closed');
          },
        }),
      ],
    },
  );
  try {
    const res = await ts.call('GET', '/api/v1/ext');
    assert.deepEqual(res.body, { store: 'sqlite' });
  } finally {
    await ts.close();
  }
  assert.deepEqual(events, ['extension closed']);
});
