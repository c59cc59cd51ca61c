"""An MCP server written with the official Python SDK, for wasiclaw's tests.

Usage: server.py PORT_FILE [--legacy-only] [--require-header NAME=VALUE]

Listens on 127.0.0.1 on a free port and writes the port to PORT_FILE once it
accepts connections. Tools: `add` (structured result), `echo_header` (returns
the value of a request header, to prove what the host injected), `fail`
(always `isError`), `shout` (text). `--legacy-only` rejects protocol
2026-07-28 requests as servers built on older SDKs do (HTTP 400), so only the
initialize handshake works. `--require-header` answers 401 to any request
without that header value.
"""

import contextvars
import json
import socket
import sys

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

HANDSHAKE = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"}
current_headers: contextvars.ContextVar[dict] = contextvars.ContextVar("headers", default={})

mcp = MCPServer("wasiclaw-test")


@mcp.tool()
def add(a: int, b: int) -> dict:
    """Adds two integers."""
    return {"sum": a + b}


@mcp.tool()
def shout(text: str) -> str:
    """Upper-cases the text."""
    return text.upper()


@mcp.tool()
def echo_header(name: str) -> str:
    """Returns the value of one request header as the server received it."""
    return current_headers.get().get(name.lower(), "(absent)")


@mcp.tool()
def fail(reason: str) -> str:
    """Always fails with the given reason."""
    raise ValueError(f"failed on purpose: {reason}")


def main() -> None:
    port_file = sys.argv[1]
    legacy_only = "--legacy-only" in sys.argv
    required = None
    if "--require-header" in sys.argv:
        name, _, value = sys.argv[sys.argv.index("--require-header") + 1].partition("=")
        required = (name.lower().encode(), value.encode())
    app = mcp.streamable_http_app(
        json_response="--sse" not in sys.argv,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )

    async def wrapped(scope, receive, send):
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            current_headers.set(headers)
            if required and dict(scope["headers"]).get(required[0]) != required[1]:
                return await reply(send, 401, {"error": "missing credentials"})
            pv = headers.get("mcp-protocol-version")
            if legacy_only and pv is not None and pv not in HANDSHAKE:
                body = {"jsonrpc": "2.0", "id": None,
                        "error": {"code": -32600, "message": f"Bad Request: Unsupported protocol version: {pv}"}}
                return await reply(send, 400, body)
        await app(scope, receive, send)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(wrapped, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)

    async def serve():
        import asyncio

        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.02)
        with open(port_file + ".tmp", "w") as f:
            f.write(str(port))
        import os

        os.rename(port_file + ".tmp", port_file)
        await task

    import asyncio

    asyncio.run(serve())


async def reply(send, status, body):
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": data})


if __name__ == "__main__":
    main()
