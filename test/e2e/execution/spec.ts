/**
 * What a runtime tells the end-to-end suite (suite.ts): how to provoke each
 * case, and what its answers look like in that runtime.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- records are JSON the tests assert on by value */
import type { Package } from './support.ts';

export type Case =
  | 'raise'
  | 'sleep'
  | 'memory'
  | 'fork'
  | 'loop'
  | 'write'
  | 'read'
  | 'connect'
  | 'flood'
  | 'env'
  | 'count';

export interface Probe {
  pkg: Package;
  input: unknown;
}

export interface RuntimeSpec {
  runtime: string;
  /** Directory under examples/ with the runtime's echo function. */
  example: string;
  /** Checks the example's output for `input`. */
  expectEcho(output: any, call: { input: unknown; rufid: string; id: string }): void;
  /** A package and input that provoke `c`; `manifest` is merged into the package's manifest. */
  probe(
    c: Case,
    manifest: Record<string, unknown>,
    params?: { paths?: string[]; tag?: string },
  ): Promise<Probe>;
  /** The error a `raise` call answers, for `why` = 'no reason'. */
  raised: { type: string; message: string | RegExp };
  /** Fewest host processes a sleeping sandbox shows (its bootstrap, and the child a handler starts). */
  sleepingProcesses: number;
  /** Memory limit for the bomb: room for the interpreter, little more. */
  bombMemoryMb: number;
  /** Checks what `write` answers: every attempt outside /tmp refused, /tmp writable. */
  expectWrite(output: any): void;
  /** The paths a `read` probe tries for these host paths, and what it answers. */
  read(hostPaths: string[]): { paths: string[]; expected: unknown };
  /** The stream a `flood` writes to. */
  floodStream: 'stdout' | 'stderr';
  /** The function's environment as the `env` call shows it. */
  envOf(record: any, lines: any[]): Record<string, string>;
  /** Variables a runtime gives every function besides the manifest's. */
  runtimeEnv: readonly string[];
  /** Cases that cannot exist in this runtime, with the reason. */
  absent?: Partial<Record<'fork' | 'connect' | 'count', string>>;
}
