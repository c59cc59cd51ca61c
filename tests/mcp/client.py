"""The official MCP Python SDK's client against wasiclaw's /mcp, for the tests.

Usage: client.py URL MODE [TOKEN]   (MODE: auto = 2026-07-28 via server/discover,
legacy = the 2025-11-25 initialize handshake)

Lists the tools, writes a file through `write_file`, reads it back, and tries
a path outside the workspace. Prints one KEY=value line per step.
"""

import asyncio
import sys

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def text(result) -> str:
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def main() -> None:
    url, mode = sys.argv[1], sys.argv[2]
    headers = {"Authorization": f"Bearer {sys.argv[3]}"} if len(sys.argv) > 3 else {}
    http = create_mcp_http_client(headers=headers)
    async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:
        tools = await client.list_tools()
        print("TOOLS=" + ",".join(sorted(t.name for t in tools.tools)))
        schema = next(t for t in tools.tools if t.name == "write_file").input_schema
        print("SCHEMA=" + ",".join(sorted(schema.get("properties", {}))))
        wrote = await client.call_tool("write_file", {"path": "from-mcp.txt", "content": f"written over MCP ({mode})"})
        print(f"WRITE={wrote.is_error}:{text(wrote)[:60]}")
        read = await client.call_tool("read_file", {"path": "from-mcp.txt"})
        print(f"READ={read.is_error}:{text(read)}")
        escape = await client.call_tool("read_file", {"path": "../../etc/passwd"})
        print(f"ESCAPE={escape.is_error}:{text(escape)[:80]}")


asyncio.run(main())
