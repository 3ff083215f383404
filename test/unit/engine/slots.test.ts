import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Slots } from '../../../src/engine/slots.ts';

test('slots admit up to capacity and queue the rest in arrival order', async () => {
  const slots = new Slots(2);
  await slots.acquire();
  await slots.acquire();
  const order: number[] = [];
  const third = slots.acquire().then(() => order.push(3));
  const fourth = slots.acquire().then(() => order.push(4));
  assert.equal(slots.free, 0);
  slots.release();
  await third;
  slots.release();
  await fourth;
  assert.deepEqual(order, [3, 4]);
  assert.equal(slots.used, 2);
});

test('a waiter whose signal aborts gives up without taking a slot', async () => {
  const slots = new Slots(1);
  await slots.acquire();
  const controller = new AbortController();
  const waiting = slots.acquire(controller.signal);
  controller.abort();
  await assert.rejects(waiting, { code: 'UNAVAILABLE' });
  slots.release();
  assert.equal(slots.used, 0);
});

test('release without acquire is a programming error', () => {
  assert.throws(() => new Slots(1).release(), /without acquire/);
});
