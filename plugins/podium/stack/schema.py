"""Write the stack spec's JSON Schema: ``python -m podium.stack.schema [path]``.

Default path: include/schemas/stack.schema.json (what editors point at with
``# yaml-language-server: $schema=../schemas/stack.schema.json``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from podium.stack.spec import json_schema


def render() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    target = (
        Path(argv[0])
        if argv
        else Path(__file__).resolve().parents[3] / "include" / "schemas" / "stack.schema.json"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render())
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
