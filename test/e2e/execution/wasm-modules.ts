/**
 * WASI (preview 1) command modules for the WASM end-to-end cases, written
 * as WAT and compiled here with wabt, so each case is readable next to the
 * test that runs it. Memory 0..16 is scratch for iovecs and counts.
 */
import { compileWat } from '../../integration/runtimes/wat.ts';
import type { Package } from './support.ts';

const PRELUDE = String.raw`
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))`;

const PRINT = String.raw`
  (func $print (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))`;

function command(body: string, imports = ''): string {
  return `(module ${PRELUDE} ${imports}
  (memory (export "memory") 1)
  ${PRINT}
  ${body})`;
}

const PATH_OPEN = String.raw`
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))`;

/**
 * Opens each path relative to the preopened /tmp (fd 3) with `oflags`
 * (1 = create) and prints a JSON array of the WASI errno of each attempt as
 * strings ("0" when it opened).
 */
function openEach(paths: string[], oflags: number): string {
  const data: string[] = [];
  const calls: string[] = [];
  let at = 1024;
  paths.forEach((p, i) => {
    const escaped = p.replaceAll('\\', '\\\\').replaceAll('"', '\\"');
    data.push(`(data (i32.const ${at}) "${escaped}")`);
    const len = Buffer.byteLength(p);
    const sep = i === 0 ? '' : '(call $emit (i32.const 44))';
    // rights: fd_read (2) | fd_write (64); the module never gets more than /tmp grants.
    calls.push(`${sep}
    (call $errno (call $path_open (i32.const 3) (i32.const 0) (i32.const ${at}) (i32.const ${len})
      (i32.const ${oflags}) (i64.const 66) (i64.const 0) (i32.const 0) (i32.const 16)))`);
    at += len + 8;
  });
  return command(
    String.raw`${data.join('\n  ')}
  (global $out (mut i32) (i32.const 4096))
  (func $emit (param $c i32)
    (i32.store8 (global.get $out) (local.get $c))
    (global.set $out (i32.add (global.get $out) (i32.const 1))))
  (func $errno (param $e i32)
    (call $emit (i32.const 34))
    (if (i32.ge_u (local.get $e) (i32.const 10))
      (then (call $emit (i32.add (i32.const 48) (i32.div_u (local.get $e) (i32.const 10))))))
    (call $emit (i32.add (i32.const 48) (i32.rem_u (local.get $e) (i32.const 10))))
    (call $emit (i32.const 34)))
  (func (export "_start")
    (call $emit (i32.const 91))
    ${calls.join('')}
    (call $emit (i32.const 93))
    (call $print (i32.const 1) (i32.const 4096) (i32.sub (global.get $out) (i32.const 4096))))`,
    PATH_OPEN,
  );
}

/** WAT of each behaviour the runtime suite exercises. */
export const WAT = {
  /** A trap: the WASM counterpart of an uncaught exception. */
  raise: command('(func (export "_start") (unreachable))'),

  /** Sleeps 30 s in poll_oneoff (a relative monotonic-clock subscription). */
  sleep: command(
    String.raw`(func (export "_start")
    (i32.store (i32.const 1040) (i32.const 1))
    (i64.store (i32.const 1048) (i64.const 30000000000))
    (drop (call $poll_oneoff (i32.const 1024) (i32.const 2048) (i32.const 1) (i32.const 2100))))`,
    String.raw`(import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))`,
  ),

  /** Grows linear memory 1 MiB at a time and touches every page of it. */
  memory: command(
    String.raw`(func (export "_start")
    (local $base i32) (local $end i32)
    (loop $grow
      (local.set $base (memory.grow (i32.const 16)))
      (if (i32.eq (local.get $base) (i32.const -1)) (then (unreachable)))
      (local.set $base (i32.mul (local.get $base) (i32.const 65536)))
      (local.set $end (i32.add (local.get $base) (i32.const 1048576)))
      (loop $touch
        (i32.store (local.get $base) (i32.const 1))
        (local.set $base (i32.add (local.get $base) (i32.const 4096)))
        (br_if $touch (i32.lt_u (local.get $base) (local.get $end))))
      (br $grow)))`,
  ),

  /** Spins forever. */
  loop: command('(func (export "_start") (loop $spin (br $spin)))'),

  /** 10,240 lines of 1,023 x's (10 MiB) on stderr, the module's log; then prints "done". */
  flood: command(
    String.raw`(data (i32.const 100) "\"done\"")
  (func (export "_start")
    (local $i i32)
    (loop $fill
      (i32.store8 (i32.add (i32.const 2048) (local.get $i)) (i32.const 120))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 1023))))
    (i32.store8 (i32.const 3071) (i32.const 10))
    (local.set $i (i32.const 0))
    (loop $lines
      (call $print (i32.const 2) (i32.const 2048) (i32.const 1024))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $lines (i32.lt_u (local.get $i) (i32.const 10240))))
    (call $print (i32.const 1) (i32.const 100) (i32.const 6)))`,
  ),

  /** Prints its environment on stderr, one variable a line. */
  env: command(
    String.raw`(func (export "_start")
    (local $i i32) (local $size i32)
    (drop (call $environ_sizes_get (i32.const 16) (i32.const 20)))
    (local.set $size (i32.load (i32.const 20)))
    (drop (call $environ_get (i32.const 1024) (i32.const 4096)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $size)))
        (if (i32.eqz (i32.load8_u (i32.add (i32.const 4096) (local.get $i))))
          (then (i32.store8 (i32.add (i32.const 4096) (local.get $i)) (i32.const 10))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $print (i32.const 2) (i32.const 4096) (local.get $size)))`,
    String.raw`(import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))`,
  ),

  /** A global counter, printed as the output: a fresh instance per call keeps it at 1. */
  counter: command(
    String.raw`(global $count (mut i32) (i32.const 0))
  (func (export "_start")
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (i32.store8 (i32.const 100) (i32.add (i32.const 48) (global.get $count)))
    (call $print (i32.const 1) (i32.const 100) (i32.const 1)))`,
  ),

  /** Asks the host for a process-creating import, which WASI preview 1 does not have. */
  spawn: command(
    '(func (export "_start") (drop (call $fork)))',
    '(import "env" "fork" (func $fork (result i32)))',
  ),

  /** Asks for a socket-creating import, which WASI preview 1 does not have. */
  socket: command(
    '(func (export "_start") (drop (call $sock_open (i32.const 1) (i32.const 1) (i32.const 16))))',
    '(import "wasi_snapshot_preview1" "sock_open" (func $sock_open (param i32 i32 i32) (result i32)))',
  ),

  /** Tries to create files outside /tmp (and one inside, as a control). */
  write: openEach(['../var/task/new.txt', '../new.txt', '../etc/new.txt', 'new.txt'], 1),

  /** Tries to read host files: escaping /tmp and through an absolute path. */
  read: (paths: string[]) => openEach(paths, 0),
};

/** A package running the module `wat` as `fn.wasm`. */
export async function wasmPackage(
  wat: string,
  manifest: Record<string, unknown> = {},
): Promise<Package> {
  const binary = await compileWat(wat);
  return {
    manifest: { runtime: 'wasm', entrypoint: 'fn.wasm', ...manifest },
    files: { 'fn.wasm': { base64: Buffer.from(binary).toString('base64') } },
  };
}
