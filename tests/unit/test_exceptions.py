from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from podium.exceptions import (
    PermanentError,
    PodiumError,
    SpecError,
    SpecProblem,
    TransientError,
    is_retryable,
)


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (TransientError("API answered 503"), True),
        (PodiumError("unclassified"), True),
        (RuntimeError("a bug"), True),
        (PermanentError("card declined"), False),
        (SpecError("a.yaml", [SpecProblem("name", "required")]), False),
        (AirflowFailException("fail"), False),
        (AirflowSkipException("skip"), True),
    ],
)
def test_is_retryable(error: BaseException, retryable: bool) -> None:
    assert is_retryable(error) is retryable


def test_hierarchy_is_airflow_aware() -> None:
    assert issubclass(PodiumError, AirflowException)
    # Airflow fails a task without retrying on AirflowFailException.
    assert issubclass(PermanentError, AirflowFailException)
    assert issubclass(SpecError, PermanentError)
    assert not issubclass(TransientError, AirflowFailException)


def test_spec_error_names_file_path_and_position_of_every_problem() -> None:
    error = SpecError(
        "include/releases/shop.yaml",
        [
            SpecProblem("services[2].depends_on[0]", "unknown service 'carts' (did you mean 'cart'?)", 14, 7),
            SpecProblem("environments[0].namespace", "required", 3),
            SpecProblem("", "document is empty"),
        ],
    )
    assert str(error).splitlines() == [
        "include/releases/shop.yaml: 3 problems",
        "  - services[2].depends_on[0] (line 14:7): unknown service 'carts' (did you mean 'cart'?)",
        "  - environments[0].namespace (line 3): required",
        "  - <document>: document is empty",
    ]
    assert error.file == "include/releases/shop.yaml"
    assert len(error.problems) == 3


def test_spec_error_needs_a_problem() -> None:
    with pytest.raises(ValueError, match="at least one problem"):
        SpecError("x.yaml", [])
