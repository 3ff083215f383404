/**
 * Retries over HTTP: failed async attempts are retried with backoff, every
 * attempt is recorded (worker, outcome, timing) and logged, an execution
 * that keeps failing ends `dead` after its attempts and can be re-driven,
 * and errors a retry cannot fix end at the first attempt.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return -- response bodies are JSON the tests assert on by value */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestServer } from '../../support/server.ts';
import {
  HANDLERS,
  deployNode,
  execute,
  getExecution,
  logLines,
  newTenant,
  startPlaneServer,
  waitForStatus,
} from './harness.ts';

const MAX_RESULT_BYTES = 100_000;

/**
 * Fails the first `event.failures` calls of each execution, then succeeds.
 * The count lives in module state, which a warm sandbox keeps between calls:
 * a retry lands on the same sandbox because nothing else of this version
 * runs meanwhile (each record's coldStart shows it).
 */
const FLAKY = `const calls = new Map();
export async function handler(event, context) {
  const n = (calls.get(context.awsRequestId) ?? 0) + 1;
  calls.set(context.awsRequestId, n);
  if (n <= event.failures) throw new Error('flaky call ' + n);
  return { succeededOnCall: n };
}`;

describe('retries over HTTP', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startPlaneServer({ RELAY_MAX_RESULT_BYTES: String(MAX_RESULT_BYTES) });
  });
  after(async () => {
    await ts.close();
  });

  const systemLines = async (key: string, id: string) =>
    (await logLines(ts, key, id)).filter((l) => l.stream === 'system').map((l) => l.line as string);

  test('an async execution failing twice succeeds on attempt 3, each attempt recorded and logged', async () => {
    const t = await newTenant(ts);
    const fn = await deployNode(ts, t.key, FLAKY);
    const res = await execute(ts, fn, { key: t.key, input: { failures: 2 } });
    const done = await waitForStatus(ts, t.key, res.body.id, 'succeeded');
    assert.equal(done.attempt, 3);
    assert.equal(done.maxAttempts, 3);
    assert.deepEqual(done.output, { succeededOnCall: 3 });
    assert.equal(done.error, null);
    assert.equal(done.usage.coldStart, false);
    assert.deepEqual(
      done.attempts.map((a: any) => [
        a.attempt,
        a.status,
        a.error?.type ?? null,
        a.error?.message ?? null,
      ]),
      [
        [1, 'failed', 'Error', 'flaky call 1'],
        [2, 'failed', 'Error', 'flaky call 2'],
        [3, 'succeeded', null, null],
      ],
    );
    for (const a of done.attempts) {
      assert.match(a.workerId, /^w_/);
      assert.ok(a.durationMs >= 0 && a.finishedAt >= a.startedAt);
    }
    // Attempts follow each other: each starts after the one before ended.
    assert.ok(done.attempts[1].startedAt >= done.attempts[0].finishedAt);
    assert.ok(done.attempts[2].startedAt >= done.attempts[1].finishedAt);
    const lines = await systemLines(t.key, res.body.id);
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(
      lines[0]!,
      /^\[relay\] attempt 1 of 3 ended failed \(Error: flaky call 1\); retrying in \d+\.\ds$/,
    );
    assert.match(
      lines[1]!,
      /^\[relay\] attempt 2 of 3 ended failed \(Error: flaky call 2\); retrying in \d+\.\ds$/,
    );
  });

  test('an execution that always fails is dead after maxAttempts, and POST /retry re-drives it', async () => {
    const t = await newTenant(ts);
    const fn = await deployNode(ts, t.key, FLAKY);
    // Fails 4 times: 3 attempts end dead; the re-drive's first attempt (the 4th) fails, the 5th succeeds.
    const res = await execute(ts, fn, { key: t.key, input: { failures: 4 } });
    const dead = await waitForStatus(ts, t.key, res.body.id, 'dead');
    assert.equal(dead.attempt, 3);
    assert.equal(dead.error.type, 'Error');
    assert.equal(dead.error.message, 'all 3 attempts failed; last: flaky call 3');
    assert.ok(dead.finishedAt);
    assert.deepEqual(
      dead.attempts.map((a: any) => a.status),
      ['failed', 'failed', 'failed'],
    );
    assert.match(
      (await systemLines(t.key, res.body.id)).at(-1)!,
      /attempt 3 of 3 ended failed .*; no attempts left$/,
    );
    // Dead stays dead: nothing retries it behind the caller's back.
    await sleep(300);
    assert.equal((await getExecution(ts, t.key, res.body.id)).status, 'dead');

    const retry = await ts.call('POST', `/api/v1/executions/${res.body.id}/retry`, { key: t.key });
    assert.equal(retry.status, 202);
    assert.equal(retry.body.status, 'queued');
    assert.equal(retry.body.error, null);
    assert.equal(retry.headers.get('location'), `/api/v1/executions/${res.body.id}`);
    const revived = await waitForStatus(ts, t.key, res.body.id, 'succeeded');
    assert.deepEqual(revived.output, { succeededOnCall: 5 });
    assert.equal(revived.attempt, 2, 'the re-drive counts its own attempts');
    // Attempt numbers go on across the re-drive, so none is overwritten.
    assert.deepEqual(
      revived.attempts.map((a: any) => [a.attempt, a.status]),
      [
        [1, 'failed'],
        [2, 'failed'],
        [3, 'failed'],
        [4, 'failed'],
        [5, 'succeeded'],
      ],
    );
    assert.ok(
      (await systemLines(t.key, res.body.id)).includes(
        '[relay] re-driven: queued again with fresh attempts',
      ),
    );

    const again = await ts.call('POST', `/api/v1/executions/${res.body.id}/retry`, { key: t.key });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'INVALID_STATE');
  });

  test('maxAttempts comes from the request, else the manifest', async () => {
    const t = await newTenant(ts);
    const fromManifest = await deployNode(ts, t.key, HANDLERS.fail, { maxAttempts: 2 });
    const byManifest = await execute(ts, fromManifest, { key: t.key });
    const byRequest = await execute(ts, fromManifest, { key: t.key, maxAttempts: 1 });
    const a = await waitForStatus(ts, t.key, byManifest.body.id, 'dead');
    const b = await waitForStatus(ts, t.key, byRequest.body.id, 'dead');
    assert.deepEqual([a.maxAttempts, a.attempts.length], [2, 2]);
    assert.deepEqual([b.maxAttempts, b.attempts.length], [1, 1]);
  });

  test('a sync call is never retried: its caller is waiting', async () => {
    const t = await newTenant(ts);
    const fn = await deployNode(ts, t.key, FLAKY);
    const res = await execute(ts, fn, { key: t.key, async: false, input: { failures: 1 } });
    assert.equal(res.status, 502);
    assert.equal(res.body.status, 'failed');
    assert.equal(res.body.maxAttempts, 1);
    await sleep(300);
    assert.equal((await getExecution(ts, t.key, res.body.id)).attempts.length, 1);
  });

  test('following the logs of a retried execution streams every attempt and ends with its final status', async () => {
    const t = await newTenant(ts);
    const fn = await deployNode(ts, t.key, FLAKY);
    const res = await execute(ts, fn, { key: t.key, input: { failures: 2 } });
    const stream = await fetch(`${ts.url}/api/v1/executions/${res.body.id}/logs?follow=true`, {
      headers: { authorization: `Bearer ${t.key}` },
    });
    assert.equal(stream.status, 200);
    // The server ends the stream once the execution is over, not at a failed attempt.
    const events = (await stream.text())
      .split('\n\n')
      .filter((e) => e.trim() !== '')
      .map((e) => ({
        event: /^event: (.*)$/m.exec(e)?.[1],
        data: JSON.parse(/^data: (.*)$/m.exec(e)?.[1] ?? 'null'),
      }));
    const end = events.at(-1)!;
    assert.deepEqual(end, { event: 'end', data: { status: 'succeeded' } });
    const system = events
      .filter((e) => e.event === 'log' && e.data.stream === 'system')
      .map((e) => e.data.line);
    assert.equal(system.length, 2);
    assert.match(system[1], /^\[relay\] attempt 2 of 3 ended failed/);
  });

  for (const [name, source, type] of [
    [
      'ResultTooLarge',
      `export async function handler() { return 'x'.repeat(${MAX_RESULT_BYTES * 2}); }`,
      'ResultTooLarge',
    ],
    [
      'ResultNotSerializable',
      `export async function handler() { return { n: 10n }; }`,
      'ResultNotSerializable',
    ],
  ] as const) {
    test(`${name} is not retried: the execution fails at its first attempt`, async () => {
      const t = await newTenant(ts);
      const fn = await deployNode(ts, t.key, source);
      const res = await execute(ts, fn, { key: t.key, maxAttempts: 3 });
      const done = await waitForStatus(ts, t.key, res.body.id, 'failed');
      assert.equal(done.error.type, type);
      assert.equal(done.attempt, 1);
      // Retries would follow within a few base delays (50 ms): none comes.
      await sleep(500);
      const later = await getExecution(ts, t.key, res.body.id);
      assert.equal(later.status, 'failed');
      assert.deepEqual(
        later.attempts.map((a: any) => [a.status, a.error.type]),
        [['failed', type]],
      );
      assert.deepEqual(await systemLines(t.key, res.body.id), []);
    });
  }
});
