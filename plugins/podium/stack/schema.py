"""Write the stack spec's JSON Schema: ``python -m podium.stack.schema [path]``.

Default path: include/schemas/stack.schema.json (what editors point at with
``# yaml-language-server: $schema=../schemas/stack.schema.json``).
"""

from __future__ import annotations

import sys

from podium.specs import render_schema, write_schema
from podium.stack.spec import json_schema


def render() -> str:
    return render_schema(json_schema())


if __name__ == "__main__":
    raise SystemExit(write_schema(json_schema(), "stack.schema.json", sys.argv[1:]))
