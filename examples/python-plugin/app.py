"""An example wasiclaw tool plugin in Python (world wasiclaw:core/tool-plugin),
built into a component with componentize-py (see README.md beside this file).

Two tools:
- `wordcount {"text"}`: words, lines and characters of a text;
- `read_note {"name"}`: a file of /workspace/notes (needs `files:read:notes/`).
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.tools import (
    ToolError_Failed,
    ToolError_InvalidArguments,
    ToolError_NotFound,
    ToolError_UnknownTool,
    ToolSpec,
)

OBJECT = '{"type":"object","properties":{"%s":{"type":"string"}},"required":["%s"]}'


class Tools(exports.Tools):
    def list(self) -> list[ToolSpec]:
        return [
            ToolSpec("wordcount", "Counts the words, lines and characters of a text.", OBJECT % ("text", "text")),
            ToolSpec("read_note", "Reads one note from the notes directory.", OBJECT % ("name", "name")),
        ]

    def call(self, name: str, arguments: str) -> str:
        try:
            args = json.loads(arguments)
        except ValueError as e:
            raise Err(ToolError_InvalidArguments(f"arguments are not JSON: {e}"))
        if not isinstance(args, dict):
            raise Err(ToolError_InvalidArguments("arguments must be an object"))
        if name == "wordcount":
            text = str(args.get("text", ""))
            return f"{len(text.split())} words, {len(text.splitlines())} lines, {len(text)} characters"
        if name == "read_note":
            note = str(args.get("name", ""))
            if "/" in note or note.startswith("."):
                raise Err(ToolError_InvalidArguments("a note name, not a path"))
            try:
                with open(f"/workspace/notes/{note}", encoding="utf-8") as f:
                    return f.read()
            except FileNotFoundError:
                raise Err(ToolError_NotFound(f"no note {note}"))
            except OSError as e:
                raise Err(ToolError_Failed(str(e)))
        raise Err(ToolError_UnknownTool(name))
