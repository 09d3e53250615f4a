"""One error hierarchy for podium.

The class of an error decides what Airflow does with it:

* :class:`TransientError` -- a passing fault (an API answered 5xx or 429, a connection dropped).
  Airflow retries the task as configured.
* :class:`PermanentError` -- retrying cannot help (a declined card, a spec that does not validate).
  It subclasses :class:`AirflowFailException`, so Airflow fails the task without using its retries.
* :class:`SpecError` -- a broken user spec. Raised at DAG parse time it becomes the DAG file's import
  error in the UI; it names the file, the path inside the document and, where known, line:column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from airflow.sdk.exceptions import AirflowException, AirflowFailException


class PodiumError(AirflowException):
    """Base class of every error podium raises on purpose."""


class TransientError(PodiumError):
    """A fault that may pass: Airflow's retries should handle it."""


class PermanentError(PodiumError, AirflowFailException):
    """A failure that retrying cannot fix: the task fails at once, retries are skipped."""


@dataclass(frozen=True)
class SpecProblem:
    """One problem found in a spec: where it is and what is wrong."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.path or "<document>"
        if self.line is not None:
            where += f" (line {self.line}" + (f":{self.column})" if self.column is not None else ")")
        return f"{where}: {self.message}"


class SpecError(PermanentError):
    """A user spec (release, pipeline, workflow) that does not validate.

    All problems of one file are reported at once, each with its path and position.
    """

    def __init__(self, file: str, problems: Iterable[SpecProblem]) -> None:
        self.file = file
        self.problems = tuple(problems)
        if not self.problems:
            raise ValueError("SpecError needs at least one problem")
        count = len(self.problems)
        lines = [f"{file}: {count} problem{'s' if count > 1 else ''}"]
        lines += [f"  - {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


def is_retryable(error: BaseException) -> bool:
    """Whether Airflow should spend a retry on ``error``.

    Permanent podium errors and Airflow's own fail/skip signals are not retryable; transient podium
    errors, and errors podium did not classify (bugs, library errors), are.
    """
    return not isinstance(error, AirflowFailException)
