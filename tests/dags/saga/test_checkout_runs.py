"""The checkout DAG run for real with dag.test(), against a shop database on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.shop_db import ShopDb

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[3]
PRICES = {"SKU-A": (1000, 10), "SKU-B": (250, 10), "SKU-C": (99, 1)}
STEPS = ["validate_cart", "charge_payment", "reserve_inventory", "send_confirmation", "create_shipment"]
COMPENSATIONS = {
    "charge_payment": "refund_payment",
    "reserve_inventory": "release_inventory",
    "send_confirmation": "send_cancellation",
}


@pytest.fixture(scope="module")
def checkout(airflow_db: Path, shop_db: ShopDb, alert_receiver, smtp_receiver) -> Iterator[Any]:
    from airflow.dag_processing.dagbag import DagBag

    shop_db.create(PRICES)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PODIUM_SAGA_RETRY_DELAY_SECONDS", "1")
        mp.setenv("PODIUM_SAGA_MAX_RETRY_DELAY_SECONDS", "3")
        mp.setenv("AIRFLOW_CONN_SHOP_DEFAULT", shop_db.uri_env())
        mp.setenv(
            "AIRFLOW_CONN_PODIUM_ALERTS",
            json.dumps(
                {"conn_type": "http", "host": "127.0.0.1", "port": alert_receiver.port, "schema": "http"}
            ),
        )
        mp.setenv("AIRFLOW_CONN_PODIUM_ALERTS_SMTP", json.dumps(smtp_receiver.connection("ops@example.com")))
        bag = DagBag(dag_folder=str(REPO / "dags" / "checkout.py"))
        assert bag.import_errors == {}
        yield bag.dags["checkout"]


def conf(order_id: str, token: str = "tok_ok", items: list[dict[str, Any]] | None = None, **extra: Any):
    return {
        "order_id": order_id,
        "customer_id": "cust-7",
        "items": items or [{"sku": "SKU-A", "qty": 2}, {"sku": "SKU-B", "qty": 1}],
        "payment_token": token,
        # every key given: dag.test() runs of one DAG object in one process keep earlier runs' params
        "fail_at": None,
        **extra,
    }


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def tries(run) -> dict[str, int]:
    return {ti.task_id: ti.try_number for ti in run.get_task_instances()}


def test_a_good_order_completes_once(checkout, shop_db: ShopDb, smtp_receiver) -> None:
    before = shop_db.stock()
    run = checkout.test(run_conf=conf("ord-ok-1"))
    assert run.state == "success", states(run)
    assert states(run) == {
        **dict.fromkeys(STEPS, "success"),
        **dict.fromkeys(COMPENSATIONS.values(), "skipped"),
        "saga_result": "success",
    }
    assert smtp_receiver.messages == []  # alerts only on failure
    assert shop_db.order("ord-ok-1") == {
        "orders": 1,
        "charges": 1,
        "charged": 2250,
        "refunds": 0,
        "refunded": 0,
        "reservations": 1,
        "releases": 0,
        "confirmations": 1,
        "cancellations": 0,
        "shipments": 1,
    }
    after = shop_db.stock()
    assert (before["SKU-A"] - after["SKU-A"], before["SKU-B"] - after["SKU-B"]) == (2, 1)


def assert_stock_conserved(shop_db: ShopDb) -> None:
    """Every unit is either on the shelf or held by a reservation that was not released."""
    stock, held = shop_db.stock(), shop_db.held()
    assert {sku: stock[sku] + held.get(sku, 0) for sku in stock} == {sku: s for sku, (_, s) in PRICES.items()}


def assert_failed_order_undone(shop_db: ShopDb, order_id: str) -> dict[str, int]:
    rows = shop_db.order(order_id)
    assert rows["charged"] == rows["refunded"], rows
    assert rows["shipments"] == 0, rows
    # a confirmation already in the outbox is answered by exactly one cancellation: none stands
    assert rows["confirmations"] == rows["cancellations"] <= 1, rows
    assert rows["reservations"] == rows["releases"] <= 1, rows
    assert_stock_conserved(shop_db)
    return rows


@pytest.mark.parametrize("position", range(len(STEPS)), ids=STEPS)
def test_a_failure_at_each_step_is_compensated_in_reverse(
    checkout, shop_db: ShopDb, alert_receiver, smtp_receiver, position: int
) -> None:
    failing = STEPS[position]
    order_id = f"ord-fail-{position}"
    run = checkout.test(run_conf=conf(order_id, fail_at=failing))

    assert run.state == "failed"
    got = states(run)
    completed = STEPS[:position]
    expected_compensations = [COMPENSATIONS[s] for s in reversed(completed) if s in COMPENSATIONS]
    assert got == {
        **dict.fromkeys(completed, "success"),
        failing: "failed",
        **dict.fromkeys(STEPS[position + 1 :], "upstream_failed"),
        **dict.fromkeys(COMPENSATIONS.values(), "skipped"),
        **dict.fromkeys(expected_compensations, "success"),
        "saga_result": "failed",
    }
    assert tries(run)[failing] == 1  # a PermanentError is not retried

    rows = assert_failed_order_undone(shop_db, order_id)
    assert rows["charges"] == (1 if "charge_payment" in completed else 0)
    assert rows["refunds"] == rows["charges"]
    assert rows["confirmations"] == (1 if "send_confirmation" in completed else 0)

    alert = alert_receiver.wait_for(lambda body: body.get("run_id") == run.run_id)
    assert alert["dag_id"] == "checkout"
    assert alert["task_id"] == "saga_result"
    assert alert["failed_step"] == failing
    assert alert["compensations_run"] == expected_compensations
    assert alert["compensations_failed"] == []
    assert alert["step_error"] == f"PermanentError: failure injected at {failing} (conf fail_at)"
    assert "tok_" not in json.dumps(alert)

    mail = smtp_receiver.wait_for(run.run_id)
    assert mail["To"] == "ops@example.com"
    assert mail["Subject"] == f"[podium] checkout failed at {failing}"
    body = mail.get_body(preferencelist=("html",)).get_content()
    assert f"Compensations that ran: {', '.join(expected_compensations) or 'none'}" in body


def test_a_declined_card_is_not_retried_and_nothing_is_charged(
    checkout, shop_db: ShopDb, alert_receiver
) -> None:
    run = checkout.test(run_conf=conf("ord-declined", token="tok_declined"))
    assert run.state == "failed"
    assert states(run)["charge_payment"] == "failed"
    assert tries(run)["charge_payment"] == 1
    assert shop_db.sql(
        "SELECT attempts FROM shop.payment_attempts WHERE idempotency_key = 'ord-declined:charge_payment'"
    ) == [(1,)]
    rows = assert_failed_order_undone(shop_db, "ord-declined")
    assert (rows["charges"], rows["refunds"], rows["reservations"]) == (0, 0, 0)
    alert = alert_receiver.wait_for(lambda body: body.get("run_id") == run.run_id)
    assert (alert["failed_step"], alert["compensations_run"]) == ("charge_payment", [])
    assert alert["step_error"] == "PermanentError: order ord-declined: card declined"


def test_a_flaky_gateway_is_retried_with_backoff_and_charges_once(checkout, shop_db: ShopDb) -> None:
    run = checkout.test(run_conf=conf("ord-flaky", token="tok_flaky"))
    assert run.state == "success", states(run)
    assert tries(run)["charge_payment"] == 3  # two transient timeouts, then the charge
    assert shop_db.sql(
        "SELECT attempts FROM shop.payment_attempts WHERE idempotency_key = 'ord-flaky:charge_payment'"
    ) == [(3,)]
    rows = shop_db.order("ord-flaky")
    assert (rows["charges"], rows["charged"], rows["refunds"], rows["shipments"]) == (1, 2250, 0, 1)


def test_a_stock_shortage_fails_the_reservation_and_refunds(
    checkout, shop_db: ShopDb, alert_receiver
) -> None:
    run = checkout.test(run_conf=conf("ord-short", items=[{"sku": "SKU-C", "qty": 2}]))
    assert run.state == "failed"
    got = states(run)
    assert (got["reserve_inventory"], got["refund_payment"], got["release_inventory"]) == (
        "failed",
        "success",
        "skipped",
    )
    assert tries(run)["reserve_inventory"] == 1
    assert shop_db.stock()["SKU-C"] == 1
    rows = assert_failed_order_undone(shop_db, "ord-short")
    assert (rows["charged"], rows["refunded"], rows["reservations"]) == (198, 198, 0)
    alert = alert_receiver.wait_for(lambda body: body.get("run_id") == run.run_id)
    assert (alert["failed_step"], alert["compensations_run"]) == ("reserve_inventory", ["refund_payment"])


def test_the_same_order_twice_changes_nothing_the_second_time(checkout, shop_db: ShopDb) -> None:
    first = checkout.test(run_conf=conf("ord-twice"))
    assert first.state == "success"
    before = shop_db.snapshot()

    second = checkout.test(run_conf=conf("ord-twice"))

    assert second.state == "success"
    assert shop_db.snapshot() == before
    assert shop_db.order("ord-twice")["charges"] == 1


def test_a_compensated_order_triggered_again_stays_cancelled(checkout, shop_db: ShopDb) -> None:
    first = checkout.test(run_conf=conf("ord-again", fail_at="create_shipment"))
    assert first.state == "failed"
    before = shop_db.snapshot()

    second = checkout.test(run_conf=conf("ord-again"))  # no failure injected this time

    assert second.state == "failed"
    assert states(second)["charge_payment"] == "failed"  # OrderCancelled: refunded before
    assert shop_db.snapshot() == before
    assert_failed_order_undone(shop_db, "ord-again")
