/**
 * The one conformance suite of the queue port. Every adapter runs it
 * (sqlite.test.ts, postgres.test.ts, redis.test.ts), so "works on SQLite"
 * and "works on Redis" mean the same thing. Each test opens its own fresh
 * queue (own file, schema or key prefix) and removes it afterwards.
 */
import { describe } from 'node:test';
import { basicCases } from './cases-basics.ts';
import { fairnessCases } from './cases-fairness.ts';
import { leaseCases } from './cases-leases.ts';
import { signalCases } from './cases-signals.ts';
import type { MakeQueue } from './fixtures.ts';

export type { MakeQueue, QueueFixture } from './fixtures.ts';

/** Register the whole suite under `name`, with a fresh queue from `makeQueue` for every test. */
export function runQueueConformance(name: string, makeQueue: MakeQueue): void {
  describe(`${name} queue conformance`, () => {
    describe('enqueue, claim, complete and order', () => basicCases(makeQueue));
    describe('fairness and concurrency limits', () => fairnessCases(makeQueue));
    describe('leases, retries and cancels', () => leaseCases(makeQueue));
    describe('backpressure and signals', () => signalCases(makeQueue));
  });
}
