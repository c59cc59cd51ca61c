/*
 * Registering the `wasiclaw_http` import (wit/wasiclaw-http-p1.md) in device
 * firmware that embeds WAMR 2.4, and running dist/wasiclaw-p1.wasm.
 *
 * The HTTP transport itself is the firmware's: this file calls five
 * functions the firmware provides (dev_http_*, declared below) on top of its
 * own network stack (lwIP, ESP-IDF esp_http_client, Zephyr's http_client...),
 * plus dev_policy_check(), which must apply the same rules as the desktop
 * runner: allowlist, private-address refusal, key injection, body limit.
 *
 * scripts/check-wamr-c-example compiles this file against the WAMR headers
 * vendored by the wamrx-sys crate.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "wasm_export.h"

/* ABI error codes. */
enum {
    WH_INVALID = -1,
    WH_DENIED = -2,
    WH_CONNECT = -3,
    WH_TIMEOUT = -4,
    WH_TOO_LARGE = -5,
    WH_PROTOCOL = -6,
    WH_BAD_HANDLE = -7,
    WH_LIMIT = -8,
    WH_UNSUPPORTED = -9,
};

/* ---- provided by the firmware ------------------------------------------ */

/* Decides on (and may rewrite) a request before anything is sent: returns 0
 * to allow, WH_DENIED with a reason in `why` to refuse. `headers` is a
 * NUL-terminated copy the policy may rewrite in place (up to `headers_cap`)
 * to drop the guest's authorization / x-api-key headers and add the real
 * key (from secure storage) toward the provider endpoint only. */
int dev_policy_check(const char *url, char *headers, uint32_t headers_cap,
                     char *why, uint32_t why_cap);
/* Opens a request; returns a connection id >= 0 or an ABI error code. */
int dev_http_open(const char *method, const char *url, const char *headers,
                  const uint8_t *body, uint32_t body_len, uint32_t timeout_ms);
int dev_http_status(int conn);
/* Writes "name: value\n" lines (lower-case names); returns the length. */
int dev_http_headers(int conn, char *buf, uint32_t cap);
/* Next body bytes; 0 at the end, an ABI error code on failure. */
int dev_http_read(int conn, uint8_t *buf, uint32_t cap);
void dev_http_close(int conn);

/* ---- the natives -------------------------------------------------------- */

#define MAX_HANDLES 16
#define MAX_TEXT 4096

static int conns[MAX_HANDLES + 1]; /* handle n -> conns[n]; -1 = free */
static char last_error[256];

static int32_t fail(int32_t code, const char *why)
{
    strncpy(last_error, why, sizeof(last_error) - 1);
    last_error[sizeof(last_error) - 1] = '\0';
    return code;
}

/* Copies a (ptr, len) string into a NUL-terminated buffer. */
static bool copy_str(char *dst, uint32_t cap, const char *src, uint32_t len)
{
    if (len >= cap || memchr(src, '\0', len))
        return false;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return true;
}

/* Returns the needed length; writes only when it fits (ABI rule). */
static int32_t copy_if_fits(const char *src, char *buf, uint32_t cap)
{
    uint32_t n = (uint32_t)strlen(src);
    if (n <= cap)
        memcpy(buf, src, n);
    return (int32_t)n;
}

static bool valid_handle(int32_t h)
{
    return h >= 1 && h <= MAX_HANDLES && conns[h] >= 0;
}

/* "(*~*~*~*~i)i": WAMR has bounds-checked each (ptr, len) pair already. */
static int32_t wh_request(wasm_exec_env_t env, const char *method,
                          uint32_t method_len, const char *url, uint32_t url_len,
                          const char *headers, uint32_t headers_len,
                          const uint8_t *body, uint32_t body_len,
                          int32_t timeout_ms)
{
    static char m[16], u[2048], h[MAX_TEXT];
    char why[200];
    int32_t slot, conn, rc;
    (void)env;

    for (slot = 1; slot <= MAX_HANDLES && conns[slot] >= 0; slot++)
        ;
    if (slot > MAX_HANDLES)
        return fail(WH_LIMIT, "too many open HTTP responses");
    if (!copy_str(m, sizeof(m), method, method_len)
        || !copy_str(u, sizeof(u), url, url_len)
        || !copy_str(h, sizeof(h), headers, headers_len))
        return fail(WH_INVALID, "method, URL or headers too long or not text");
    why[0] = '\0';
    rc = dev_policy_check(u, h, sizeof(h), why, sizeof(why));
    if (rc != 0)
        return fail(rc, why[0] ? why : "denied by the device policy");
    conn = dev_http_open(m, u, h, body, body_len,
                         timeout_ms > 0 ? (uint32_t)timeout_ms : 60000u);
    if (conn < 0)
        return fail(conn, "the request failed");
    conns[slot] = conn;
    return slot;
}

static int32_t wh_status(wasm_exec_env_t env, int32_t handle)
{
    (void)env;
    if (!valid_handle(handle))
        return fail(WH_BAD_HANDLE, "not an open HTTP response handle");
    return dev_http_status(conns[handle]);
}

static int32_t wh_headers(wasm_exec_env_t env, int32_t handle, char *buf,
                          uint32_t cap)
{
    static char text[MAX_TEXT];
    int n;
    (void)env;
    if (!valid_handle(handle))
        return fail(WH_BAD_HANDLE, "not an open HTTP response handle");
    n = dev_http_headers(conns[handle], text, sizeof(text) - 1);
    if (n < 0)
        return fail(n, "cannot read the response headers");
    text[n < (int)sizeof(text) ? n : (int)sizeof(text) - 1] = '\0';
    return copy_if_fits(text, buf, cap);
}

static int32_t wh_read(wasm_exec_env_t env, int32_t handle, uint8_t *buf,
                       uint32_t cap)
{
    int n;
    (void)env;
    if (!valid_handle(handle))
        return fail(WH_BAD_HANDLE, "not an open HTTP response handle");
    if (cap == 0)
        return fail(WH_INVALID, "read into an empty buffer");
    n = dev_http_read(conns[handle], buf, cap);
    return n < 0 ? fail(n, "reading the response body failed") : n;
}

static void wh_close(wasm_exec_env_t env, int32_t handle)
{
    (void)env;
    if (valid_handle(handle)) {
        dev_http_close(conns[handle]);
        conns[handle] = -1;
    }
}

static int32_t wh_last_error(wasm_exec_env_t env, char *buf, uint32_t cap)
{
    (void)env;
    return copy_if_fits(last_error, buf, cap);
}

/* WAMR keeps a pointer to this table: it must outlive the runtime. */
static NativeSymbol wasiclaw_http_symbols[] = {
    { "request", (void *)wh_request, "(*~*~*~*~i)i", NULL },
    { "status", (void *)wh_status, "(i)i", NULL },
    { "headers", (void *)wh_headers, "(i*~)i", NULL },
    { "read", (void *)wh_read, "(i*~)i", NULL },
    { "close", (void *)wh_close, "(i)", NULL },
    { "last_error", (void *)wh_last_error, "(*~)i", NULL },
};

/* Call after wasm_runtime_full_init() and before wasm_runtime_load(). */
bool wasiclaw_register_http(void)
{
    int i;
    for (i = 0; i <= MAX_HANDLES; i++)
        conns[i] = -1;
    return wasm_runtime_register_natives(
        "wasiclaw_http", wasiclaw_http_symbols,
        sizeof(wasiclaw_http_symbols) / sizeof(wasiclaw_http_symbols[0]));
}

/* One agent turn: `wasm` is dist/wasiclaw-p1.wasm (WAMR patches the buffer in
 * place, so it must be writable and outlive the module); `workspace` is the
 * device directory mapped to /workspace; `env` holds base URLs and
 * settings, never keys. Returns the agent's exit code, or -1. */
int wasiclaw_run_turn(uint8_t *wasm, uint32_t wasm_len, const char *workspace,
                      const char **env, uint32_t env_count,
                      const char *message, char *error, uint32_t error_cap)
{
    static char map[300];
    const char *map_dirs[1];
    char *argv[3];
    RuntimeInitArgs init;
    wasm_module_t module;
    wasm_module_inst_t inst;
    int code = -1;

    memset(&init, 0, sizeof(init));
    init.mem_alloc_type = Alloc_With_System_Allocator;
    if (!wasm_runtime_full_init(&init))
        return -1;
    if (!wasiclaw_register_http())
        goto destroy;
    module = wasm_runtime_load(wasm, wasm_len, error, error_cap);
    if (!module)
        goto destroy;

    strncpy(map, "/workspace::", sizeof(map) - 1);
    strncat(map, workspace, sizeof(map) - strlen(map) - 1);
    map_dirs[0] = map;
    argv[0] = "wasiclaw";
    argv[1] = "-m";
    argv[2] = (char *)message;
    wasm_runtime_set_wasi_args_ex(module, NULL, 0, map_dirs, 1, env, env_count,
                                  argv, 3, -1, -1, -1);

    /* 256 KiB interpreter stack, no extra app heap: the module brings its
     * own allocator and starts with 2 pages (128 KiB) of linear memory. */
    inst = wasm_runtime_instantiate(module, 256 * 1024, 0, error, error_cap);
    if (inst) {
        if (wasm_application_execute_main(inst, 0, NULL))
            code = (int)wasm_runtime_get_wasi_exit_code(inst);
        else if (wasm_runtime_get_exception(inst))
            strncpy(error, wasm_runtime_get_exception(inst), error_cap - 1);
        wasm_runtime_deinstantiate(inst);
    }
    wasm_runtime_unload(module);
destroy:
    wasm_runtime_destroy();
    return code;
}
