import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogCollector } from '../../../src/engine/log-collector.ts';
import type { NewLogLine } from '../../../src/store/port.ts';

function collector(maxBytes: number, flushIntervalMs = 10_000) {
  const stored: NewLogLine[] = [];
  const c = new LogCollector({
    maxBytes,
    flushIntervalMs,
    flush: async (lines) => {
      stored.push(...lines);
    },
  });
  return { c, stored };
}

test('lines past the byte cap are dropped and summarised by one marker', async () => {
  const { c, stored } = collector(20);
  c.add('stdout', '0123456789'); // 11 bytes with newline
  c.add('stdout', 'abcdefghij'); // would reach 22: dropped
  c.add('stderr', 'x'); // 2 bytes: fits
  await c.close();
  assert.deepEqual(
    stored.map((l) => [l.stream, l.line]),
    [
      ['stdout', '0123456789'],
      ['stderr', 'x'],
      ['system', '[relay] 1 log lines dropped: the log limit of 20 bytes was reached'],
    ],
  );
});

test('redaction applies to lines added after the redactor is set', async () => {
  const { c, stored } = collector(1000);
  c.add('stdout', 'before s3cret');
  c.setRedactor((line) => line.replaceAll('s3cret', '***'));
  c.add('stdout', 'after s3cret');
  await c.close();
  assert.deepEqual(
    stored.map((l) => l.line),
    ['before s3cret', 'after ***'],
  );
});

test('batches are flushed on the interval while the run goes on, in order', async () => {
  const { c, stored } = collector(1000, 5);
  c.add('stdout', 'one');
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(
    stored.map((l) => l.line),
    ['one'],
  );
  c.add('stdout', 'two');
  await c.close();
  assert.deepEqual(
    stored.map((l) => l.line),
    ['one', 'two'],
  );
});

test('a failing flush is reported and does not throw into the run', async () => {
  const errors: unknown[] = [];
  const c = new LogCollector({
    maxBytes: 100,
    flush: () => Promise.reject(new Error('disk full')),
    onFlushError: (err) => errors.push(err),
  });
  c.add('stdout', 'line');
  await c.close();
  assert.equal(errors.length, 1);
});
