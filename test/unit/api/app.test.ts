/** The app factory and error mapping, exercised with inject (no network). */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { buildApp, bodyLimitFor, toRelayError, type RoutePlugin } from '../../../src/api/index.ts';
import { loadConfig } from '../../../src/config/index.ts';
import { RelayError } from '../../../src/domain/index.ts';
import { createRegistry } from '../../../src/registry/index.ts';
import { createStore } from '../../../src/store/index.ts';
import { createTenancy } from '../../../src/tenancy/index.ts';

async function app(t: TestContext, routes: RoutePlugin[] = [], rootRoutes: RoutePlugin[] = []) {
  const store = await createStore('sqlite::memory:');
  const config = loadConfig({});
  const built = await buildApp({
    config,
    store,
    tenancy: createTenancy({ store, config }),
    registry: createRegistry({ store, config }),
    logger: pino({ level: 'silent' }),
    routes,
    rootRoutes,
  });
  t.after(async () => {
    await built.close();
    await store.close();
  });
  return built;
}

test('Fastify error codes map to Relay codes', () => {
  const cases: [string, string, number][] = [
    ['FST_ERR_CTP_INVALID_JSON_BODY', 'INVALID_JSON', 400],
    ['FST_ERR_CTP_EMPTY_JSON_BODY', 'INVALID_JSON', 400],
    ['FST_ERR_CTP_BODY_TOO_LARGE', 'PAYLOAD_TOO_LARGE', 413],
    ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 'UNSUPPORTED_MEDIA_TYPE', 415],
  ];
  for (const [fst, code, status] of cases) {
    const e = toRelayError(Object.assign(new Error('x'), { code: fst, statusCode: status }));
    assert.equal(e.code, code, fst);
    assert.equal(e.status, status, fst);
  }
});

test('unknown errors become INTERNAL without leaking their message', () => {
  const e = toRelayError(new Error('db password is hunter2'));
  assert.equal(e.code, 'INTERNAL');
  assert.equal(e.message, 'Internal server error');
});

test('RelayErrors pass through unchanged', () => {
  const original = new RelayError('BRANCH_ACCESS_DENIED', 'Branch access denied');
  assert.equal(toRelayError(original), original);
});

test('the body limit fits the largest package sent as base64', () => {
  assert.ok(bodyLimitFor(3000) >= 4000);
});

test('a 429 from a route carries Retry-After from retryAfterSeconds', async (t) => {
  const busy: RoutePlugin = (a) => {
    a.get('/busy', async () => {
      throw new RelayError('CONCURRENCY_LIMIT', 'Too many running', { retryAfterSeconds: 2.2 });
    });
  };
  const res = await (await app(t, [busy])).inject({ method: 'GET', url: '/api/v1/busy' });
  assert.equal(res.statusCode, 429);
  assert.equal(res.headers['retry-after'], '3');
  assert.deepEqual(res.json(), {
    error: { code: 'CONCURRENCY_LIMIT', message: 'Too many running' },
  });
});

test('a 503 carries Retry-After too', async (t) => {
  const down: RoutePlugin = (a) => {
    a.get('/down', async () => {
      throw new RelayError('UNAVAILABLE', 'Queue down', { retryAfterSeconds: 5 });
    });
  };
  const res = await (await app(t, [], [down])).inject({ method: 'GET', url: '/down' });
  assert.equal(res.statusCode, 503);
  assert.equal(res.headers['retry-after'], '5');
});

test('a thrown plain error is a 500 INTERNAL with a generic message', async (t) => {
  const broken: RoutePlugin = (a) => {
    a.get('/broken', async () => {
      throw new Error('secret detail');
    });
  };
  const res = await (await app(t, [broken])).inject({ method: 'GET', url: '/api/v1/broken' });
  assert.equal(res.statusCode, 500);
  assert.deepEqual(res.json(), { error: { code: 'INTERNAL', message: 'Internal server error' } });
});

test('extra route plugins get the context with auth helpers', async (t) => {
  const whoami: RoutePlugin = (a, ctx) => {
    a.get('/whoami', async (request) => {
      const p = await ctx.authorize(request, ['invoke']);
      return { tenant: p.tenant.name };
    });
  };
  const built = await app(t, [whoami]);
  const res = await built.inject({ method: 'GET', url: '/api/v1/whoami' });
  assert.equal(res.statusCode, 401);
});

test('an unknown route is 404 NOT_FOUND with a request id', async (t) => {
  const res = await (await app(t)).inject({ method: 'GET', url: '/nope' });
  assert.equal(res.statusCode, 404);
  assert.equal(res.json().error.code, 'NOT_FOUND');
  assert.match(String(res.headers['x-request-id']), /^req_/);
});

test('an empty JSON body is treated as no body (resolve needs none)', async (t) => {
  const res = await (
    await app(t)
  ).inject({
    method: 'POST',
    url: '/api/v1/functions/abcdef123456/resolve',
    headers: { 'content-type': 'application/json' },
    payload: '',
  });
  assert.equal(res.statusCode, 401, 'reaches auth instead of failing on the empty body');
});

test('an over-long or odd X-Request-Id is replaced', async (t) => {
  const res = await (
    await app(t)
  ).inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'a b\n' } });
  assert.match(String(res.headers['x-request-id']), /^req_[0-9a-f]{32}$/);
});

test('a route module that brings its own execute replaces the 501 placeholder', async (t) => {
  const execute: RoutePlugin = (a) => {
    a.post('/functions/:rufid/execute', async () => ({ ran: true }));
  };
  const built = await app(t, [execute]);
  const res = await built.inject({ method: 'POST', url: '/api/v1/functions/abcdef123456/execute' });
  assert.deepEqual(res.json(), { ran: true });
});

test('without an execution module, execute still checks auth and then answers 501', async (t) => {
  const res = await (
    await app(t)
  ).inject({ method: 'POST', url: '/api/v1/functions/abcdef123456/execute' });
  assert.equal(res.statusCode, 401);
});
