"""The checkout DAG on its embedded default: the shop in a SQLite file, as `make run` sets it up."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def sqlite_checkout(airflow_db: Path, tmp_path_factory, alert_receiver):
    from airflow.dag_processing.dagbag import DagBag

    home = tmp_path_factory.mktemp("airflow-home")
    # the connection exactly as include/sandbox/connections/shop.json defines it
    conns = json.loads((REPO / "include" / "sandbox" / "connections" / "shop.json").read_text())
    shop = json.loads(json.dumps(conns["shop_default"]).replace("{airflow_home}", str(home)))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PODIUM_SAGA_RETRY_DELAY_SECONDS", "1")
        mp.setenv("AIRFLOW_CONN_SHOP_DEFAULT", json.dumps(shop))
        mp.setenv(
            "AIRFLOW_CONN_PODIUM_ALERTS",
            json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": alert_receiver.port}),
        )
        bag = DagBag(dag_folder=str(REPO / "dags" / "checkout.py"))
        yield bag.dags["checkout"], home / "shop.db"


def rows(db: Path, query: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()


def test_orders_complete_and_compensate_on_the_sqlite_file(sqlite_checkout, alert_receiver) -> None:
    dag, db = sqlite_checkout
    base = {"customer_id": "c-1", "payment_token": "tok_ok", "fail_at": None}

    ok = dag.test(run_conf={**base, "order_id": "sq-1", "items": [{"sku": "SKU-CAP", "qty": 2}]})
    failed = dag.test(
        run_conf={
            **base,
            "order_id": "sq-2",
            "items": [{"sku": "SKU-CAP", "qty": 1}],
            "fail_at": "create_shipment",
        }
    )

    assert (ok.state, failed.state) == ("success", "failed")
    # the seeded catalogue: SKU-CAP started at 5; sq-1 holds 2, sq-2's unit went back
    assert rows(db, "SELECT stock FROM products WHERE sku = 'SKU-CAP'") == [(3,)]
    assert rows(db, "SELECT order_id, amount_cents FROM charges ORDER BY order_id") == [
        ("sq-1", 3600),
        ("sq-2", 1800),
    ]
    assert rows(db, "SELECT order_id, amount_cents FROM refunds") == [("sq-2", 1800)]
    assert rows(db, "SELECT order_id FROM shipments") == [("sq-1",)]
    assert rows(db, "SELECT order_id, kind FROM outbox ORDER BY order_id, kind") == [
        ("sq-1", "confirmation"),
        ("sq-2", "cancellation"),
        ("sq-2", "confirmation"),
    ]
    alert = alert_receiver.wait_for(lambda body: body.get("run_id") == failed.run_id)
    assert alert["compensations_run"] == ["send_cancellation", "release_inventory", "refund_payment"]
