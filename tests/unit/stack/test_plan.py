"""What podium reads out of Terraform's -json output: table tests over documents in Terraform's format."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from podium.exceptions import PermanentError
from podium.stack.plan import (
    changed_attributes,
    check_digest,
    plan_digest,
    plan_key,
    plan_was_applied,
    sensitive_values,
    split_outputs,
    summarize_drift,
    summarize_plan,
)


def change(address: str, actions: list[str], **more: Any) -> dict[str, Any]:
    before, after = more.pop("before", None), more.pop("after", None)
    doc: dict[str, Any] = {
        "address": address,
        "mode": "managed",
        "type": address.split(".")[0],
        "name": address.split(".")[-1],
        "change": {"actions": actions, "before": before, "after": after, **more.pop("change", {})},
    }
    doc.update(more)
    return doc


SUMMARY_CASES = [
    pytest.param({}, (0, 0, 0), [], "No changes. Your infrastructure matches the configuration.", id="empty"),
    pytest.param(
        {"resource_changes": [change("terraform_data.a", ["no-op"]), change("data.x.y", ["read"])]},
        (0, 0, 0),
        [],
        "No changes. Your infrastructure matches the configuration.",
        id="no-op-and-read",
    ),
    pytest.param(
        {
            "resource_changes": [
                change("terraform_data.a", ["create"]),
                change("terraform_data.b", ["create"]),
            ]
        },
        (2, 0, 0),
        [("terraform_data.a", "create"), ("terraform_data.b", "create")],
        "Plan: 2 to add, 0 to change, 0 to destroy.",
        id="creates",
    ),
    pytest.param(
        {
            "resource_changes": [
                change("terraform_data.a", ["update"]),
                change("terraform_data.b", ["delete"]),
                change(
                    "terraform_data.c",
                    ["delete", "create"],
                    change={"replace_paths": [["triggers_replace"], ["input", "tags", 0]]},
                    action_reason="replace_because_cannot_update",
                ),
                change("terraform_data.d", ["create", "delete"]),
            ]
        },
        (2, 1, 3),
        [
            ("terraform_data.a", "update"),
            ("terraform_data.b", "delete"),
            ("terraform_data.c", "replace"),
            ("terraform_data.d", "replace"),
        ],
        "Plan: 2 to add, 1 to change, 3 to destroy.",
        id="update-delete-replace",
    ),
    pytest.param(
        {"output_changes": {"bucket": {"actions": ["create"]}, "same": {"actions": ["no-op"]}}},
        (0, 0, 0),
        [],
        "Changes to Outputs: bucket.",
        id="outputs-only",
    ),
]


@pytest.mark.parametrize(("plan", "counts", "resources", "headline"), SUMMARY_CASES)
def test_plan_summary(
    plan: dict[str, Any], counts: tuple[int, int, int], resources: list, headline: str
) -> None:
    summary = summarize_plan(plan)
    assert (summary.add, summary.change, summary.destroy) == counts
    assert [(r.address, r.action) for r in summary.resources] == resources
    assert summary.headline() == headline
    assert summary.as_dict()["has_changes"] == (headline != SUMMARY_CASES[0].values[3])


def test_replacements_are_marked_with_what_forces_them() -> None:
    summary = summarize_plan(SUMMARY_CASES[3].values[0])
    assert summary.replacements == ("terraform_data.c", "terraform_data.d")
    (replaced,) = [r for r in summary.resources if r.address == "terraform_data.c"]
    assert replaced.replaced_by == ("triggers_replace", "input.tags[0]")
    assert replaced.reason == "replace_because_cannot_update"
    assert summary.text().splitlines() == [
        "Plan: 2 to add, 1 to change, 3 to destroy.",
        "  ~ terraform_data.a (update)",
        "  - terraform_data.b (delete)",
        "-/+ terraform_data.c (replace) forced by triggers_replace, input.tags[0]",
        "-/+ terraform_data.d (replace)",
    ]


def test_an_unknown_action_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match=r"unknown Terraform plan actions \['teleport'\]"):
        summarize_plan({"resource_changes": [change("x.y", ["teleport"])]})


DIGEST = hashlib.sha256(b"plan").hexdigest()


@pytest.mark.parametrize(
    ("expected", "actual", "message"),
    [
        (DIGEST, DIGEST, None),
        (DIGEST, "0" * 64, "changed or replaced after approval; nothing was applied"),
        (None, DIGEST, "no valid SHA-256 to check the plan"),
        ("", DIGEST, "no valid SHA-256 to check the plan"),
        (DIGEST.upper(), DIGEST, "no valid SHA-256 to check the plan"),
        ("abc", DIGEST, "no valid SHA-256 to check the plan"),
    ],
)
def test_the_plan_hash_rule(expected: str | None, actual: str, message: str | None) -> None:
    assert plan_digest(b"plan") == DIGEST
    if message is None:
        check_digest(expected, actual, where="s3://b/p.tfplan")
    else:
        with pytest.raises(PermanentError, match=message):
            check_digest(expected, actual, where="s3://b/p.tfplan")


@pytest.mark.parametrize(
    ("dag_id", "run_id", "env", "key"),
    [
        ("stack__shop__dev", "manual__2026-01-01T00:00:00+00:00", "dev",
         "stack__shop__dev/manual__2026-01-01T00_00_00_00_00/dev.tfplan"),
        ("d", "r/../../etc", "e", "d/r_.._.._etc/e.tfplan"),
    ],
)  # fmt: skip
def test_plan_key(dag_id: str, run_id: str, env: str, key: str) -> None:
    assert plan_key(dag_id, run_id, env) == key


def test_plan_key_refuses_empty_or_dot_parts() -> None:
    with pytest.raises(ValueError, match="cannot build a plan key"):
        plan_key("d", "..", "e")


DRIFT_CASES = [
    pytest.param({}, [], "No drift: the infrastructure matches the state.", id="none"),
    pytest.param(
        {
            "resource_drift": [
                change(
                    "aws_s3_bucket.assets",
                    ["update"],
                    before={"acl": "private", "tags": {"a": "1"}, "arn": "x"},
                    after={"acl": "public-read", "tags": {"a": "2"}, "arn": "x"},
                ),
                change("aws_sqs_queue.q", ["delete"], before={"name": "q"}),
                change("aws_iam_role.r", ["no-op"], before={}, after={}),
            ]
        },
        [("aws_s3_bucket.assets", "update", ("acl", "tags")), ("aws_sqs_queue.q", "delete", ())],
        "Drift: 2 resources changed outside Terraform\n"
        "  aws_s3_bucket.assets: acl, tags changed outside Terraform\n"
        "  aws_sqs_queue.q: deleted outside Terraform",
        id="changed-and-deleted",
    ),
]


@pytest.mark.parametrize(("plan", "resources", "text"), DRIFT_CASES)
def test_drift_summary(plan: dict[str, Any], resources: list, text: str) -> None:
    drift = summarize_drift(plan)
    assert [(r.address, r.action, r.attributes) for r in drift.resources] == resources
    assert drift.text() == text
    assert drift.drifted == bool(resources)
    assert "public-read" not in str(drift.as_dict())  # attribute names, never values


@pytest.mark.parametrize(
    ("before", "after", "changed"),
    [
        ({"a": 1}, {"a": 1}, ()),
        ({"a": 1}, {"a": 2, "b": 3}, ("a", "b")),
        ("x", "y", ("(value)",)),
        (None, {"a": 1}, ("(value)",)),
    ],
)
def test_changed_attributes(before: Any, after: Any, changed: tuple[str, ...]) -> None:
    assert changed_attributes(before, after) == changed


def test_outputs_split_by_sensitivity() -> None:
    raw = {
        "bucket": {"sensitive": False, "type": "string", "value": "shop-dev"},
        "nodes": {"sensitive": False, "type": "number", "value": 3},
        "password": {"sensitive": True, "type": "string", "value": "hunter2-long"},
        "creds": {"sensitive": True, "type": ["object", {}], "value": {"key": "AKIA123", "n": [1, True]}},
        "odd": {"type": "string", "value": "no sensitive flag: withheld"},
    }
    public, sensitive = split_outputs(raw)
    assert public == {"bucket": "shop-dev", "nodes": 3}
    assert sensitive == ["creds", "odd", "password"]
    assert sorted(sensitive_values(raw)) == ["1", "AKIA123", "hunter2-long", "no sensitive flag: withheld"]


STATE = {
    "values": {
        "root_module": {
            "resources": [{"address": "terraform_data.a", "values": {"input": {"n": 1}, "id": "u-1"}}],
            "child_modules": [
                {"resources": [{"address": "module.m.terraform_data.b", "values": {"input": "x"}}]}
            ],
        }
    }
}


@pytest.mark.parametrize(
    ("changes", "applied"),
    [
        ([], True),
        ([change("terraform_data.a", ["create"], after={"input": {"n": 1}, "id": None})], True),
        ([change("terraform_data.a", ["update"], after={"input": {"n": 2}})], False),
        ([change("module.m.terraform_data.b", ["create"], after={"input": "x"})], True),
        ([change("terraform_data.c", ["create"], after={"input": 1})], False),
        ([change("terraform_data.gone", ["delete"])], True),
        ([change("terraform_data.a", ["delete"])], False),
    ],
)
def test_a_retried_apply_recognises_its_plan_in_the_state(changes: list, applied: bool) -> None:
    assert plan_was_applied({"resource_changes": changes}, STATE) is applied
