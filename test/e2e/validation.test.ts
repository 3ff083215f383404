/** Every deploy validation error, and Fastify's own request errors, as the API reports them. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';
import { newFunction, newTenant, unique } from './fixtures.ts';

const MAIN_PY = 'def handler(event, context):\n    return event\n';

describe('request and package validation', () => {
  let ts: TestServer;
  before(async () => {
    // Small caps so size errors need small bodies.
    ts = await startTestServer({ RELAY_MAX_FILE_BYTES: '1000', RELAY_MAX_PACKAGE_BYTES: '3000' });
  });
  after(async () => {
    await ts.close();
  });

  async function create(body: Record<string, unknown>) {
    const { adminKey } = await newTenant(ts);
    return ts.call('POST', '/api/v1/functions', {
      key: adminKey,
      body: { name: unique('f'), ...body },
    });
  }

  function pkg(
    manifest: Record<string, unknown>,
    files: Record<string, unknown> = { 'main.py': MAIN_PY },
  ) {
    return { manifest: { runtime: 'python3.11', entrypoint: 'main.handler', ...manifest }, files };
  }

  async function expectError(
    body: Record<string, unknown>,
    status: number,
    code: string,
    message: RegExp,
  ) {
    const res = await create(body);
    assert.equal(res.status, status, res.text);
    assert.equal(res.body.error.code, code, res.text);
    assert.match(res.body.error.message, message);
  }

  test('unknown runtime → INVALID_MANIFEST naming manifest.runtime', () =>
    expectError(
      pkg({ runtime: 'ruby' }),
      400,
      'INVALID_MANIFEST',
      /manifest\.runtime: expected one of python3\.11, node24, wasm/,
    ));

  test('missing entrypoint → INVALID_MANIFEST naming manifest.entrypoint', () =>
    expectError(
      { manifest: { runtime: 'python3.11' }, files: { 'main.py': MAIN_PY } },
      400,
      'INVALID_MANIFEST',
      /manifest\.entrypoint/,
    ));

  test('entrypoint file not in the package → INVALID_MANIFEST naming the file', () =>
    expectError(pkg({ entrypoint: 'app.handler' }), 400, 'INVALID_MANIFEST', /needs app\.py/));

  test('malformed python entrypoint → INVALID_MANIFEST', () =>
    expectError(pkg({ entrypoint: 'main' }), 400, 'INVALID_MANIFEST', /module\.function/));

  test('node entrypoint without its .js/.mjs/.cjs file → INVALID_MANIFEST', () =>
    expectError(
      pkg({ runtime: 'node24', entrypoint: 'index.handler' }),
      400,
      'INVALID_MANIFEST',
      /index\.js or index\.mjs or index\.cjs/,
    ));

  test('wasm entrypoint not naming a .wasm file → INVALID_MANIFEST', () =>
    expectError(
      pkg({ runtime: 'wasm', entrypoint: 'main.handler' }),
      400,
      'INVALID_MANIFEST',
      /\.wasm/,
    ));

  test('unknown manifest field → INVALID_MANIFEST naming it', () =>
    expectError(pkg({ timeout: 5 }), 400, 'INVALID_MANIFEST', /unknown field 'timeout'/));

  test('invalid env name → INVALID_MANIFEST naming manifest.env', () =>
    expectError(pkg({ env: { '1BAD': 'x' } }), 400, 'INVALID_MANIFEST', /manifest\.env/));

  test('invalid secret name → INVALID_MANIFEST naming manifest.secrets', () =>
    expectError(pkg({ secrets: ['lower'] }), 400, 'INVALID_MANIFEST', /manifest\.secrets/));

  test('a declared secret that does not exist → SECRET_NOT_FOUND', () =>
    expectError(pkg({ secrets: ['API_TOKEN'] }), 400, 'SECRET_NOT_FOUND', /API_TOKEN/));

  test('python dependencies given as an object → INVALID_MANIFEST', () =>
    expectError(
      pkg({ dependencies: { requests: '2' } }),
      400,
      'INVALID_MANIFEST',
      /manifest\.dependencies/,
    ));

  test('memory above the tenant cap → LIMIT_EXCEEDS_CAP', () =>
    expectError(
      pkg({ limits: { memoryMb: 100000 } }),
      400,
      'LIMIT_EXCEEDS_CAP',
      /manifest\.limits\.memoryMb: 100000 exceeds the tenant's cap of 256/,
    ));

  test('timeout above the tenant cap → LIMIT_EXCEEDS_CAP', () =>
    expectError(
      pkg({ limits: { timeoutSeconds: 3600 } }),
      400,
      'LIMIT_EXCEEDS_CAP',
      /timeoutSeconds/,
    ));

  test('cpus above the tenant cap → LIMIT_EXCEEDS_CAP', () =>
    expectError(pkg({ limits: { cpus: 64 } }), 400, 'LIMIT_EXCEEDS_CAP', /cpus/));

  test('no files → INVALID_PACKAGE', () =>
    expectError(pkg({}, {}), 400, 'INVALID_PACKAGE', /no files/));

  test('absolute path → INVALID_PACKAGE naming it', () =>
    expectError(
      pkg({}, { 'main.py': MAIN_PY, '/etc/passwd': 'x' }),
      400,
      'INVALID_PACKAGE',
      /'\/etc\/passwd' is absolute/,
    ));

  test('path with .. → INVALID_PACKAGE naming it', () =>
    expectError(
      pkg({}, { 'main.py': MAIN_PY, 'lib/../../x.py': 'x' }),
      400,
      'INVALID_PACKAGE',
      /'lib\/\.\.\/\.\.\/x\.py' contains '\.\.'/,
    ));

  test('duplicate path after normalisation → INVALID_PACKAGE naming both', () =>
    expectError(
      pkg({}, { 'main.py': MAIN_PY, './main.py': MAIN_PY }),
      400,
      'INVALID_PACKAGE',
      /'\.\/main\.py' and 'main\.py'/,
    ));

  test('a file used as a directory → INVALID_PACKAGE', () =>
    expectError(
      pkg({}, { 'main.py': MAIN_PY, lib: 'x', 'lib/a.py': 'y' }),
      400,
      'INVALID_PACKAGE',
      /'lib' is a file/,
    ));

  test('backslash in a path → INVALID_PACKAGE', () =>
    expectError(
      pkg({}, { 'main.py': MAIN_PY, 'lib\\a.py': 'x' }),
      400,
      'INVALID_PACKAGE',
      /backslash/,
    ));

  test('invalid base64 → INVALID_PACKAGE naming the file', () =>
    expectError(
      pkg({}, { 'main.py': MAIN_PY, 'blob.bin': { base64: '***' } }),
      400,
      'INVALID_PACKAGE',
      /'blob\.bin' is not valid base64/,
    ));

  test('a file over the per-file cap → 413 PAYLOAD_TOO_LARGE naming it', () =>
    expectError(
      pkg({}, { 'main.py': MAIN_PY, 'big.txt': 'x'.repeat(1001) }),
      413,
      'PAYLOAD_TOO_LARGE',
      /'big\.txt' is 1001 bytes; the cap per file is 1000/,
    ));

  test('a package over the package cap → 413 PAYLOAD_TOO_LARGE', () =>
    expectError(
      pkg(
        {},
        {
          'main.py': MAIN_PY,
          'a.txt': 'a'.repeat(1000),
          'b.txt': 'b'.repeat(1000),
          'c.txt': 'c'.repeat(1000),
        },
      ),
      413,
      'PAYLOAD_TOO_LARGE',
      /package exceeds the cap of 3000 bytes/,
    ));

  test('a binary file sent as base64 is accepted and counted by its decoded size', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 254]);
    const res = await create(
      pkg({}, { 'main.py': MAIN_PY, 'data.bin': { base64: bytes.toString('base64') } }),
    );
    assert.equal(res.status, 201, res.text);
  });

  test('invalid function name → VALIDATION_FAILED naming name', () =>
    expectError({ ...pkg({}), name: 'has space' }, 400, 'VALIDATION_FAILED', /^name:/));

  test('missing name → VALIDATION_FAILED naming body.name', async () => {
    const { adminKey } = await newTenant(ts);
    const res = await ts.call('POST', '/api/v1/functions', { key: adminKey, body: pkg({}) });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, {
      error: { code: 'VALIDATION_FAILED', message: 'body.name: required' },
    });
  });

  test('files of the wrong type → VALIDATION_FAILED naming body.files', async () => {
    const res = await create({
      manifest: { runtime: 'python3.11', entrypoint: 'main.handler' },
      files: ['main.py'],
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'VALIDATION_FAILED');
    assert.match(res.body.error.message, /^body\.files/);
  });

  test('invalid branch name on deploy → VALIDATION_FAILED naming branch', async () => {
    const { adminKey } = await newTenant(ts);
    const rufid = await newFunction(ts, adminKey);
    const res = await ts.call(
      'POST',
      `/api/v1/functions/${rufid}/versions?branch=${encodeURIComponent('bad/name')}`,
      {
        key: adminKey,
        body: pkg({}),
      },
    );
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'VALIDATION_FAILED');
    assert.match(res.body.error.message, /branch: 'bad\/name'/);
  });

  test('a version that is not a positive integer → VALIDATION_FAILED naming body.version', async () => {
    const { adminKey } = await newTenant(ts);
    const rufid = await newFunction(ts, adminKey);
    const res = await ts.call('PUT', `/api/v1/functions/${rufid}/branches/main`, {
      key: adminKey,
      body: { version: 'one' },
    });
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /^body\.version/);
  });

  test('malformed JSON → 400 INVALID_JSON', async () => {
    const { adminKey } = await newTenant(ts);
    const res = await ts.call('POST', '/api/v1/functions', {
      key: adminKey,
      rawBody: '{"name": "x", ',
    });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, {
      error: { code: 'INVALID_JSON', message: 'Request body is not valid JSON' },
    });
  });

  test('a body over the server limit → 413 PAYLOAD_TOO_LARGE', async () => {
    const { adminKey } = await newTenant(ts);
    const res = await ts.call('POST', '/api/v1/functions', {
      key: adminKey,
      rawBody: JSON.stringify({ name: 'big', ...pkg({}, { 'main.py': 'x'.repeat(200_000) }) }),
    });
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'PAYLOAD_TOO_LARGE');
  });

  test('a non-JSON content type → 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const { adminKey } = await newTenant(ts);
    const res = await ts.call('POST', '/api/v1/functions', {
      key: adminKey,
      rawBody: 'name=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(res.status, 415);
    assert.equal(res.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');
  });

  test('an unknown route → 404 NOT_FOUND in the error shape', async () => {
    const res = await ts.call('GET', '/api/v1/nothing-here');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'NOT_FOUND');
  });

  test('a RUFID that is not 12 hex characters → 404 FUNCTION_NOT_FOUND', async () => {
    const res = await ts.call('GET', '/api/v1/functions/NOT-A-RUFID');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'FUNCTION_NOT_FOUND');
  });
});
