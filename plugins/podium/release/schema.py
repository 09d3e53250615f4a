"""Write the release spec's JSON Schema: ``python -m podium.release.schema [path]``.

Default path: include/schemas/release.schema.json (what editors point at with
``# yaml-language-server: $schema=../schemas/release.schema.json``).
"""

from __future__ import annotations

import sys

from podium.release.spec import json_schema
from podium.specs import render_schema, write_schema


def render() -> str:
    return render_schema(json_schema())


if __name__ == "__main__":
    raise SystemExit(write_schema(json_schema(), "release.schema.json", sys.argv[1:]))
