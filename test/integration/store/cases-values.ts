/**
 * Conformance cases: whatever a function takes, returns or prints is kept
 * on every backend. JSON values round-trip exactly (U+0000 included, which
 * Postgres jsonb and text cannot hold); in free text U+0000 becomes U+FFFD.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  attempt,
  deployed,
  draft,
  execution,
  iso,
  tenant,
  useStore,
  type MakeStore,
} from './fixtures.ts';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

/** JSON that trips up databases: NUL, lone surrogates, astral characters, extremes. */
const AWKWARD = {
  nul: 'a\u0000b',
  onlyNul: '\u0000',
  'key\u0000with nul': ['\u0000', { deeper: 'x\u0000' }],
  loneSurrogate: '\ud800 and \udfff',
  emoji: '😀 ünïcödé 中文',
  controls: '\u0001\u001f\t\n\r"\\',
  big: 1e300,
  small: -5e-324,
  empty: { object: {}, array: [], string: '' },
  flags: [true, false, null],
};

export function valueCases(makeStore: MakeStore): void {
  const ctx = useStore(makeStore);

  test('input, output and error keep any JSON value, U+0000 included, on insert and update', async () => {
    const { store } = ctx;
    const tenantId = await tenant(store);
    const error = { type: 'Handler\u0000Error', message: 'bad \u0000 byte', stack: '\u0000' };
    const e = execution(tenantId, T0, { input: AWKWARD, output: 'x\u0000y', error });
    await store.insertExecution(e);
    assert.deepEqual(await store.getExecution(tenantId, e.id), e);

    const patch = { output: { result: AWKWARD }, error: { type: 'E', message: 'm\u0000' } };
    await store.updateExecution(e.id, patch);
    assert.deepEqual(await store.getExecution(tenantId, e.id), { ...e, ...patch });
    await store.updateExecution(e.id, { output: '\u0000' });
    assert.equal((await store.getExecution(tenantId, e.id))?.output, '\u0000');
  });

  test('U+0000 in a log line is stored as U+FFFD and the append succeeds', async () => {
    const { store } = ctx;
    const e = execution(await tenant(store), T0);
    await store.insertExecution(e);
    await store.appendLogs(e.id, [
      { stream: 'stdout', time: iso(T0), line: 'before\u0000after' },
      { stream: 'stderr', time: iso(T0), line: '\u0000\u0000' },
      { stream: 'stdout', time: iso(T0), line: 'plain 😀' },
    ]);
    assert.deepEqual(
      (await store.getLogs(e.id)).map((l) => l.line),
      ['before\uFFFDafter', '\uFFFD\uFFFD', 'plain 😀'],
    );
  });

  test("an attempt's error keeps U+0000", async () => {
    const { store } = ctx;
    const e = execution(await tenant(store), T0);
    await store.insertExecution(e);
    const failed = attempt(1, T0, {
      status: 'failed',
      error: { type: 'HandlerError', message: 'raised \u0000' },
      finishedAt: iso(T0 + 1),
      durationMs: 1,
    });
    await store.recordAttempt(e.id, failed);
    assert.deepEqual(await store.listAttempts(e.id), [failed]);
  });

  test('a manifest keeps U+0000; a deploy message and build log store it as U+FFFD', async () => {
    const { store } = ctx;
    const rufid = await deployed(store, await tenant(store));
    const manifest = {
      runtime: 'node24' as const,
      entrypoint: 'index.handler',
      env: { GREETING: 'hi\u0000there' },
    };
    const build = { status: 'failed' as const, log: 'pip\u0000 failed', updatedAt: iso(T0) };
    const v2 = await store.appendVersion(rufid, draft({ manifest, message: 'fix\u0000', build }));
    const expected = {
      ...v2,
      manifest,
      message: 'fix\uFFFD',
      build: { ...build, log: 'pip\uFFFD failed' },
    };
    assert.deepEqual(v2, expected);
    assert.deepEqual(await store.getVersion(rufid, 2), expected);
    await store.setBuildState(rufid, 2, { ...build, log: '\u0000' });
    assert.equal((await store.getVersion(rufid, 2))?.build.log, '\uFFFD');
  });
}
