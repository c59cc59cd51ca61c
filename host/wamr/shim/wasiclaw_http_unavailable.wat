;; A `wasiclaw_http` for hosts that cannot do HTTP, e.g. the `wasmtime run`
;; CLI, which runs preview-1 modules but has no way to serve this import:
;;
;;   wasmtime run --preload wasiclaw_http=host/wamr/shim/wasiclaw_http_unavailable.wat \
;;       --dir WS::/workspace dist/wasiclaw-p1.wasm -m "..."
;;
;; Every request answers UNSUPPORTED (-9), so the agent runs up to its first
;; provider call and fails cleanly ("http: ... not supported by this host").
;; The shim has no memory of its own and cannot reach the module's, so
;; `last_error` reports no message and the guest falls back to the code's.
(module
  (func (export "request")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    i32.const -9)
  (func (export "status") (param i32) (result i32)
    i32.const -7)
  (func (export "headers") (param i32 i32 i32) (result i32)
    i32.const -7)
  (func (export "read") (param i32 i32 i32) (result i32)
    i32.const -7)
  (func (export "close") (param i32))
  (func (export "last_error") (param i32 i32) (result i32)
    i32.const 0))
