;; Relay's WASM echo function: copies stdin (the input JSON) to stdout (the
;; output JSON) and says hello on stderr (the function's log).
;; A WASI preview 1 command module. Rebuild echo.wasm after editing:
;;   node_modules/.bin/node test/integration/runtimes/wat.ts examples/wasm-echo/echo.wat
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit"
    (func $proc_exit (param i32)))

  (memory (export "memory") 1)

  ;; 0..8: one iovec {ptr, len}; 8..12: byte count; 16..: the log line;
  ;; 1024..65536: the copy buffer.
  (data (i32.const 16) "echo: copying stdin to stdout\n")

  ;; Writes len bytes at ptr to fd, looping over short writes; exits 1 on error.
  (func $write_all (param $fd i32) (param $ptr i32) (param $len i32)
    (block $done
      (loop $more
        (br_if $done (i32.eqz (local.get $len)))
        (i32.store (i32.const 0) (local.get $ptr))
        (i32.store (i32.const 4) (local.get $len))
        (if (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))
          (then (call $proc_exit (i32.const 1))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.load (i32.const 8))))
        (local.set $len (i32.sub (local.get $len) (i32.load (i32.const 8))))
        (br $more))))

  (func (export "_start")
    (local $n i32)
    (call $write_all (i32.const 2) (i32.const 16) (i32.const 30))
    (block $eof
      (loop $more
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const 64512))
        (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))
          (then (call $proc_exit (i32.const 1))))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $eof (i32.eqz (local.get $n)))
        (call $write_all (i32.const 1) (i32.const 1024) (local.get $n))
        (br $more))))
)
