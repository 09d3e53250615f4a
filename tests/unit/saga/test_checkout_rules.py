"""The checkout example's rules (dags/checkout_shop/rules.py) and the alert payload, as plain functions."""

from __future__ import annotations

import re

import pytest

from checkout_shop.rules import (
    ORDER_ID_PATTERN,
    TOKEN_PATTERN,
    Line,
    canonical_items,
    cart_lines,
    idempotency_key,
    order_total,
    payment_outcome,
)
from podium.notifiers.webhook import alert_payload
from podium.operators.saga import SagaFailed


def test_cart_lines_merge_per_sku_in_sku_order() -> None:
    lines = cart_lines([{"sku": "B", "qty": 1}, {"sku": "A", "qty": 2}, {"sku": "B", "qty": 3}])
    assert lines == (Line("A", 2), Line("B", 4))
    assert canonical_items(lines) == '[{"sku":"A","qty":2},{"sku":"B","qty":4}]'


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "the cart is empty"),
        ([{"qty": 1}], r"items\[0\]: no sku"),
        ([{"sku": "A", "qty": 0}], r"items\[0\]: qty must be an integer >= 1"),
        ([{"sku": "A", "qty": True}], "qty must be an integer"),
        ([{"sku": "A", "qty": 1}, {"sku": "B", "qty": "2"}], r"items\[1\]"),
    ],
)
def test_bad_carts_are_refused(items, message) -> None:
    with pytest.raises(ValueError, match=message):
        cart_lines(items)


def test_totals_and_unknown_skus() -> None:
    assert order_total((Line("A", 2), Line("B", 1)), {"A": 1000, "B": 250}) == 2250
    with pytest.raises(KeyError, match="B, C"):
        order_total((Line("A", 1), Line("B", 1), Line("C", 1)), {"A": 1})


@pytest.mark.parametrize(
    ("token", "outcomes"),
    [
        ("tok_ok", ["ok", "ok"]),
        ("tok_visa", ["ok"]),
        ("tok_declined", ["declined", "declined", "declined"]),
        ("tok_flaky", ["transient", "transient", "ok", "ok"]),
    ],
)
def test_payment_outcomes(token, outcomes) -> None:
    assert [payment_outcome(token, attempt) for attempt in range(1, len(outcomes) + 1)] == outcomes


def test_keys_and_patterns() -> None:
    assert idempotency_key("ord-1", "charge_payment") == "ord-1:charge_payment"
    assert re.match(ORDER_ID_PATTERN, "ord-1")
    assert not re.match(ORDER_ID_PATTERN, "bad id!")
    assert re.match(TOKEN_PATTERN, "tok_flaky")
    assert not re.match(TOKEN_PATTERN, "4111111111111111")


def test_alert_payload_carries_the_saga_summary_and_nothing_else() -> None:
    summary = {
        "status": "failed",
        "failed_step": "reserve_inventory",
        "compensations_run": ["refund_payment"],
        "params": {"payment_token": "tok_secret"},
    }
    payload = alert_payload(
        dag_id="checkout",
        run_id="r1",
        task_id="saga_result",
        try_number=1,
        error=SagaFailed("saga failed at reserve_inventory", summary),
    )
    assert payload == {
        "dag_id": "checkout",
        "run_id": "r1",
        "task_id": "saga_result",
        "try_number": 1,
        "error": "SagaFailed: saga failed at reserve_inventory",
        "message": None,
        "status": "failed",
        "failed_step": "reserve_inventory",
        "compensations_run": ["refund_payment"],
    }
    plain = alert_payload(
        dag_id="d", run_id="r", task_id="t", try_number=2, error=ValueError("x"), message="m"
    )
    assert (plain["error"], plain["message"], "failed_step" in plain) == ("ValueError: x", "m", False)
