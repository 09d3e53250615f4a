"""YAML syntax errors in words that name both places: where the parser noticed, and where it started.

A YAML parser notices an unclosed ``[`` only where the list should have ended (often the end of the
file), but the mistake is where the bracket opened. PyYAML's and libyaml's ``MarkedYAMLError`` carry
both: ``problem``/``problem_mark`` (noticed) and ``context``/``context_mark`` (the construct being
read). Pure: the error is read through its attributes, so this module imports neither yaml nor Airflow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# "while parsing a flow sequence", "while scanning a quoted scalar", "while constructing a mapping" ...
_WHILE = re.compile(r"while (?:parsing|scanning|composing|constructing) (?:an? |the )?(?P<what>.+)")
# What the parser says when a construct that needs closing never was (PyYAML's and libyaml's wording).
_NOT_CLOSED = {
    "flow sequence": ("']'",),
    "flow mapping": ("'}'",),
    "quoted scalar": ("end of stream", "document"),
}


@dataclass(frozen=True)
class YamlProblem:
    """A YAML syntax error: where it was noticed (1-based, if known) and a message naming the start."""

    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"line {self.line}:{self.column}: {self.message}"


def describe_yaml_error(error: BaseException) -> YamlProblem:
    """``error`` (a ``yaml.YAMLError``) as a message that names both the problem and its context.

    For ``depends_on: [oven`` left open on line 17 (libyaml's wording)::

        line 18:1: did not find expected ',' or ']'
        (the flow sequence that opened at line 17:15 is not closed)

    Errors without marks (e.g. a ``ReaderError`` for a control character) keep their own text.
    """
    problem = getattr(error, "problem", None)
    if not problem:
        return YamlProblem(str(error).strip())
    noticed = _position(getattr(error, "problem_mark", None))
    opened = _position(getattr(error, "context_mark", None))
    context = getattr(error, "context", None)
    message = str(problem)
    if opened is not None and opened != noticed:
        message += f" ({_context_text(context, message, _where(opened))})"
    elif context and noticed is None:
        message += f" ({context})"
    line, column = noticed if noticed is not None else (None, None)
    return YamlProblem(message, line, column)


def _context_text(context: str | None, problem: str, where: str) -> str:
    if not context:
        return f"see {where}"
    match = _WHILE.fullmatch(context)
    if match is None:  # e.g. "found duplicate anchor 'x'; first occurrence"
        return f"{context} at {where}"
    what = match["what"]
    if any(sign in problem for sign in _NOT_CLOSED.get(what, ())):
        return f"the {what} that opened at {where} is not closed"
    return f"in the {what} that starts at {where}"


def _position(mark: Any) -> tuple[int, int] | None:
    """A parser mark (0-based line and column) as 1-based (line, column), or None."""
    line, column = getattr(mark, "line", None), getattr(mark, "column", None)
    if not isinstance(line, int) or not isinstance(column, int):
        return None
    return line + 1, column + 1


def _where(position: tuple[int, int]) -> str:
    return f"line {position[0]}:{position[1]}"
