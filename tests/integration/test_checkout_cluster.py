"""The checkout saga through the real scheduler (LocalExecutor on PostgreSQL), triggered over REST."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.shop_db import ShopDb

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

DAG_ID = "checkout"
INITIAL = {"SKU-HOT": (500, 12), "SKU-WARM": (300, 20), "SKU-COLD": (100, 5)}
CONCURRENT = 20


def put_connection(cluster, conn_id: str, fields: dict[str, Any]) -> None:
    cluster.api("DELETE", f"/connections/{conn_id}")
    body = {"connection_id": conn_id, **{k: v for k, v in fields.items() if v is not None}}
    response = cluster.api("POST", "/connections", json=body)
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def cluster(airflow_cluster, shop_db: ShopDb, alert_receiver) -> Iterator[Any]:
    shop_db.create(INITIAL)
    put_connection(airflow_cluster, "shop_default", shop_db.connection())
    put_connection(
        airflow_cluster,
        "podium_alerts",
        {"conn_type": "http", "host": "127.0.0.1", "port": alert_receiver.port, "schema": "http"},
    )
    airflow_cluster.wait_for_dag(DAG_ID)
    airflow_cluster.unpause(DAG_ID)
    try:
        yield airflow_cluster
    finally:
        airflow_cluster.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": True})
        for conn_id in ("shop_default", "podium_alerts"):
            airflow_cluster.api("DELETE", f"/connections/{conn_id}")


def order(order_id: str, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer_id": "cust-it",
        "items": items,
        "payment_token": "tok_ok",
        **extra,
    }


def trigger(cluster, conf: dict[str, Any]) -> str:
    response = cluster.trigger(DAG_ID, conf)
    assert response.status_code == 200, response.text
    return response.json()["dag_run_id"]


def wait_all(cluster, run_ids: list[str], timeout: float = 420) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    return {
        run_id: cluster.wait_for_run(DAG_ID, run_id, timeout=max(1.0, deadline - time.monotonic()))
        for run_id in run_ids
    }


@pytest.mark.parametrize(
    ("conf", "complaint"),
    [
        (order("bad id!", [{"sku": "SKU-HOT", "qty": 1}]), "order_id"),
        (order("it-bad-qty", [{"sku": "SKU-HOT", "qty": 0}]), "minimum of 1"),
        (order("it-no-items", []), "items"),
        (
            order("it-bad-tok", [{"sku": "SKU-HOT", "qty": 1}], payment_token="4111111111111111"),
            "payment_token",
        ),
    ],
)
def test_a_bad_conf_is_refused_before_a_run_starts(cluster, conf, complaint) -> None:
    before = {run["dag_run_id"] for run in cluster.runs(DAG_ID)}

    response = cluster.trigger(DAG_ID, conf)

    assert response.status_code == 400, response.text
    assert complaint in response.json()["detail"]
    assert {run["dag_run_id"] for run in cluster.runs(DAG_ID)} == before


def test_concurrent_checkouts_never_oversell_and_failures_alert(
    cluster, shop_db: ShopDb, alert_receiver
) -> None:
    # 18 orders compete for 12 SKU-HOT; one fails at its last step after reserving SKU-COLD; one
    # meets a payment gateway that times out twice (retried with backoff by the scheduler).
    confs = [
        order("it-cold-0", [{"sku": "SKU-COLD", "qty": 2}], fail_at="create_shipment"),
        order("it-flaky-1", [{"sku": "SKU-COLD", "qty": 1}], payment_token="tok_flaky"),
    ]
    confs += [
        order(f"it-hot-{i}", [{"sku": "SKU-HOT", "qty": 1}, {"sku": "SKU-WARM", "qty": 1}])
        for i in range(2, CONCURRENT)
    ]
    run_ids = {conf["order_id"]: trigger(cluster, conf) for conf in confs}
    assert len(run_ids) == CONCURRENT

    states = wait_all(cluster, list(run_ids.values()))

    by_order = {order_id: states[run_id] for order_id, run_id in run_ids.items()}
    completed = sorted(o for o, s in by_order.items() if s == "success")
    failed = sorted(o for o, s in by_order.items() if s == "failed")
    assert len(completed) + len(failed) == CONCURRENT
    assert "it-cold-0" in failed
    assert "it-flaky-1" in completed
    hot = [o for o in completed if o.startswith("it-hot-")]
    # exactly as many hot orders completed as there were units: no oversell, no lost sale
    assert len(hot) == INITIAL["SKU-HOT"][1]
    charge = cluster.api(
        "GET", f"/dags/{DAG_ID}/dagRuns/{run_ids['it-flaky-1']}/taskInstances/charge_payment"
    )
    assert charge.json()["try_number"] == 3

    stock, held = shop_db.stock(), shop_db.held()
    assert all(qty >= 0 for qty in stock.values()), stock
    assert {sku: stock[sku] + held.get(sku, 0) for sku in stock} == {
        sku: s for sku, (_, s) in INITIAL.items()
    }
    assert held == {"SKU-HOT": len(hot), "SKU-WARM": len(hot), "SKU-COLD": 1}
    for order_id in completed:
        rows = shop_db.order(order_id)
        assert (rows["charges"], rows["refunds"], rows["confirmations"], rows["shipments"]) == (1, 0, 1, 1)
    for order_id in failed:
        rows = shop_db.order(order_id)
        assert rows["charged"] == rows["refunded"] > 0, (order_id, rows)
        assert rows["shipments"] == 0
        assert rows["confirmations"] == rows["cancellations"]

    for order_id in failed:
        summary = cluster.xcom(DAG_ID, run_ids[order_id], "saga_result", key="saga")
        if order_id == "it-cold-0":
            assert summary["failed_step"] == "create_shipment"
        else:
            assert summary["failed_step"] == "reserve_inventory"
            assert summary["step_error"].startswith("StockShortage: order ")
            assert summary["compensations_run"] == ["refund_payment"]

    alert = alert_receiver.wait_for(lambda body: body.get("run_id") == run_ids["it-cold-0"])
    assert alert["dag_id"] == DAG_ID
    assert alert["failed_step"] == "create_shipment"
    assert alert["compensations_run"] == ["send_cancellation", "release_inventory", "refund_payment"]
    for order_id in failed:
        alert_receiver.wait_for(lambda body, run_id=run_ids[order_id]: body.get("run_id") == run_id)
    assert not {body["run_id"] for body in alert_receiver.received} & {run_ids[o] for o in completed}


def test_the_same_orders_triggered_again_change_nothing(cluster, shop_db: ShopDb) -> None:
    before = shop_db.snapshot()
    assert before["shipments"], "runs after the concurrent test"
    done = next(
        o for (o,) in shop_db.sql("SELECT order_id FROM shop.shipments ORDER BY order_id") if "hot" in o
    )
    undone = "it-cold-0"

    again = {
        done: trigger(cluster, order(done, [{"sku": "SKU-HOT", "qty": 1}, {"sku": "SKU-WARM", "qty": 1}])),
        undone: trigger(cluster, order(undone, [{"sku": "SKU-COLD", "qty": 2}])),
    }

    assert wait_all(cluster, list(again.values())) == {again[done]: "success", again[undone]: "failed"}
    assert shop_db.snapshot() == before
