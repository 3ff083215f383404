import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactor } from '../../../src/secrets/redact.ts';

test('every occurrence of a value in a line becomes ***', () => {
  const redact = redactor(['s3cr3t-token']);
  assert.equal(redact('token=s3cr3t-token and again s3cr3t-token'), 'token=*** and again ***');
});

test('several values are all redacted, a longer one containing a shorter one whole', () => {
  const redact = redactor(['abcd', 'xxabcdxx', 'p@ss.w*rd(1)']);
  assert.equal(redact('xxabcdxx abcd p@ss.w*rd(1)'), '*** *** ***');
});

test('regex metacharacters in values are matched literally', () => {
  const redact = redactor(['a.b*c']);
  assert.equal(redact('aXbbbc a.b*c'), 'aXbbbc ***');
});

test('values shorter than 4 characters are not redacted', () => {
  const redact = redactor(['1', 'on', 'abc']);
  assert.equal(redact('1 on abc'), '1 on abc');
});

test('a multi-line value is redacted line by line', () => {
  const redact = redactor(['-----BEGIN KEY-----\nMIIEpAIBAAKC\n-----END KEY-----']);
  assert.equal(redact('MIIEpAIBAAKC'), '***');
  assert.equal(redact('-----BEGIN KEY-----'), '***');
});

test('the JSON-escaped form of a value is redacted', () => {
  const value = 'quote"and\\slash';
  const redact = redactor([value]);
  assert.equal(redact(JSON.stringify({ v: value })), '{"v":"***"}');
});

test('no values: lines pass through unchanged', () => {
  assert.equal(redactor([])('anything'), 'anything');
});
