import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RelayError, type Manifest, type TenantLimits } from '../../../src/domain/index.ts';
import {
  checkEntrypoint,
  checkLimits,
  entrypointCandidates,
  parseManifest,
} from '../../../src/registry/index.ts';

const BASE = { runtime: 'python3.11', entrypoint: 'main.handler' };
const CAPS: TenantLimits = {
  maxTimeoutSeconds: 30,
  maxMemoryMb: 256,
  maxCpus: 1,
  maxConcurrency: 1,
  maxQueued: 1,
  maxPriority: 9,
  monthlyBudget: null,
};

function fails(code: string, message: RegExp) {
  return (err: unknown) =>
    err instanceof RelayError && err.code === code && message.test(err.message);
}

test('a minimal manifest parses as given', () => {
  assert.deepEqual(parseManifest(BASE), BASE);
});

test('a manifest that is not an object is rejected', () => {
  assert.throws(() => parseManifest([]), fails('INVALID_MANIFEST', /expected a JSON object/));
});

test('an unknown runtime is rejected listing the runtimes', () => {
  assert.throws(
    () => parseManifest({ ...BASE, runtime: 'go' }),
    fails('INVALID_MANIFEST', /manifest\.runtime: expected one of python3\.11, node24, wasm/),
  );
});

test('a missing entrypoint is rejected naming it', () => {
  assert.throws(
    () => parseManifest({ runtime: 'node24' }),
    fails('INVALID_MANIFEST', /manifest\.entrypoint/),
  );
});

test('an unknown field is rejected naming it', () => {
  assert.throws(
    () => parseManifest({ ...BASE, memory: 1 }),
    fails('INVALID_MANIFEST', /unknown field 'memory'/),
  );
});

test('an invalid env name is rejected', () => {
  assert.throws(
    () => parseManifest({ ...BASE, env: { 'A-B': 'x' } }),
    fails('INVALID_MANIFEST', /manifest\.env/),
  );
});

test('a non-string env value is rejected', () => {
  assert.throws(
    () => parseManifest({ ...BASE, env: { A: 1 } }),
    fails('INVALID_MANIFEST', /manifest\.env\.A/),
  );
});

test('an invalid secret name is rejected', () => {
  assert.throws(
    () => parseManifest({ ...BASE, secrets: ['api-key'] }),
    fails('INVALID_MANIFEST', /manifest\.secrets\.0/),
  );
});

test('duplicate secret names are rejected', () => {
  assert.throws(
    () => parseManifest({ ...BASE, secrets: ['A', 'A'] }),
    fails('INVALID_MANIFEST', /unique/),
  );
});

test('negative limits are rejected', () => {
  assert.throws(
    () => parseManifest({ ...BASE, limits: { memoryMb: -1 } }),
    fails('INVALID_MANIFEST', /manifest\.limits\.memoryMb/),
  );
});

test('python dependencies must be a list, node dependencies an object, wasm none', () => {
  assert.throws(
    () => parseManifest({ ...BASE, dependencies: { a: '1' } }),
    fails('INVALID_MANIFEST', /list/),
  );
  assert.throws(
    () => parseManifest({ runtime: 'node24', entrypoint: 'index.handler', dependencies: ['a'] }),
    fails('INVALID_MANIFEST', /object/),
  );
  assert.throws(
    () => parseManifest({ runtime: 'wasm', entrypoint: 'a.wasm', dependencies: [] }),
    fails('INVALID_MANIFEST', /wasm/),
  );
  assert.doesNotThrow(() => parseManifest({ ...BASE, dependencies: ['requests==2.32.0'] }));
});

test('python module.func points at module.py or a package __init__.py, dotted modules at paths', () => {
  assert.deepEqual(entrypointCandidates('python3.11', 'main.handler'), [
    'main.py',
    'main/__init__.py',
  ]);
  assert.deepEqual(entrypointCandidates('python3.11', 'app.api.handler'), [
    'app/api.py',
    'app/api/__init__.py',
  ]);
});

test('node file.func points at file.js, .mjs or .cjs, with directories allowed', () => {
  assert.deepEqual(entrypointCandidates('node24', 'src/index.handler'), [
    'src/index.js',
    'src/index.mjs',
    'src/index.cjs',
  ]);
});

test('wasm names its .wasm file', () => {
  assert.deepEqual(entrypointCandidates('wasm', 'echo.wasm'), ['echo.wasm']);
  assert.equal(typeof entrypointCandidates('wasm', 'echo'), 'string');
});

test('malformed entrypoints are rejected', () => {
  assert.equal(typeof entrypointCandidates('python3.11', 'handler'), 'string');
  assert.equal(typeof entrypointCandidates('python3.11', 'my-mod.handler'), 'string');
  assert.equal(typeof entrypointCandidates('node24', 'index'), 'string');
});

test('an entrypoint whose file is not in the package is rejected naming the file', () => {
  const m = parseManifest(BASE);
  assert.throws(
    () => checkEntrypoint(m, new Set(['other.py'])),
    fails('INVALID_MANIFEST', /needs main\.py or main\/__init__\.py/),
  );
  assert.doesNotThrow(() => checkEntrypoint(m, new Set(['main.py'])));
});

test('limits within the caps pass; each limit over its cap is LIMIT_EXCEEDS_CAP', () => {
  const within: Manifest = {
    runtime: 'python3.11',
    entrypoint: 'main.handler',
    limits: { timeoutSeconds: 30, memoryMb: 256, cpus: 1 },
  };
  assert.doesNotThrow(() => checkLimits(within, CAPS));
  for (const [field, value] of [
    ['timeoutSeconds', 31],
    ['memoryMb', 257],
    ['cpus', 2],
  ] as const) {
    const m: Manifest = {
      runtime: 'python3.11',
      entrypoint: 'main.handler',
      limits: { [field]: value },
    };
    assert.throws(
      () => checkLimits(m, CAPS),
      fails('LIMIT_EXCEEDS_CAP', new RegExp(`manifest\\.limits\\.${field}`)),
    );
  }
});
