import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LruCache } from '../../../src/registry/index.ts';

test('the least recently used entry is evicted first', () => {
  const c = new LruCache<number>({ max: 2, ttlMs: 1000 });
  c.set('a', 1, c.generation());
  c.set('b', 2, c.generation());
  c.get('a');
  c.set('c', 3, c.generation());
  assert.equal(c.get('a'), 1);
  assert.equal(c.get('b'), undefined);
  assert.equal(c.get('c'), 3);
});

test('entries expire after the TTL', () => {
  let now = 0;
  const c = new LruCache<number>({ max: 10, ttlMs: 100, now: () => now });
  c.set('a', 1, c.generation());
  now = 99;
  assert.equal(c.get('a'), 1);
  now = 200;
  assert.equal(c.get('a'), undefined);
});

test('delete drops the key', () => {
  const c = new LruCache<number>({ max: 10, ttlMs: 1000 });
  c.set('a', 1, c.generation());
  c.delete('a');
  assert.equal(c.get('a'), undefined);
});

test('a value computed before an invalidation is not stored', () => {
  const c = new LruCache<number>({ max: 10, ttlMs: 1000 });
  const gen = c.generation();
  c.delete('a'); // a head moved while the lookup was in flight
  c.set('a', 1, gen);
  assert.equal(c.get('a'), undefined);
});

test('deleteWhere drops every matching key', () => {
  const c = new LruCache<number>({ max: 10, ttlMs: 1000 });
  c.set('rufid:x|branch:main', 1, c.generation());
  c.set('rufid:x|branch:dev', 2, c.generation());
  c.set('rufid:y|branch:main', 3, c.generation());
  c.deleteWhere((k) => k.startsWith('rufid:x|'));
  assert.equal(c.size, 1);
});
