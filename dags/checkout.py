"""checkout: the saga example. Each step is declared once with its compensation; podium builds the rest."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param

from checkout_shop.hook import ShopHook
from checkout_shop.rules import (
    CUSTOMER_ID_PATTERN,
    ITEMS_SCHEMA,
    ORDER_ID_PATTERN,
    STEPS,
    TOKEN_PATTERN,
    cart_lines,
)
from podium.dagbuilders.saga import RetrySettings, build_saga
from podium.exceptions import PermanentError
from podium.notifiers.email import EmailAlertNotifier
from podium.notifiers.webhook import WebhookNotifier
from podium.saga.plan import Step, StepContext

SHOP_CONN_ID = "shop_default"
ALERTS_CONN_ID = "podium_alerts"  # http: the webhook
ALERTS_SMTP_CONN_ID = "podium_alerts_smtp"  # smtp, with extra alert_to
# Retry timing; the environment may shorten it (tests) without touching the file.
RETRY = RetrySettings(
    step_retries=3,
    compensation_retries=10,
    retry_delay=timedelta(seconds=float(os.environ.get("PODIUM_SAGA_RETRY_DELAY_SECONDS", "2"))),
    backoff=2.0,
    max_retry_delay=timedelta(seconds=float(os.environ.get("PODIUM_SAGA_MAX_RETRY_DELAY_SECONDS", "60"))),
)


def _shop() -> ShopHook:
    return ShopHook(SHOP_CONN_ID)


def _order(ctx: StepContext) -> str:
    if ctx.params.get("fail_at") == ctx.step:
        raise PermanentError(f"failure injected at {ctx.step} (conf fail_at)")
    return str(ctx.params["order_id"])


def _lines(ctx: StepContext) -> Any:
    try:
        return cart_lines(ctx.params["items"])
    except ValueError as error:
        raise PermanentError(f"invalid cart: {error}") from error


def validate_cart(ctx: StepContext) -> dict[str, Any]:
    """Checks the cart against the catalogue, prices it and records the order."""
    order_id = _order(ctx)
    shop = _shop()
    shop.ensure_schema()
    return shop.record_order(order_id=order_id, customer_id=ctx.params["customer_id"], lines=_lines(ctx))


def charge_payment(ctx: StepContext) -> dict[str, Any]:
    """Charges the order's total with the payment token (declined: fails at once; timeouts: retried)."""
    amount = int(ctx.results["validate_cart"]["total_cents"])
    return _shop().charge(order_id=_order(ctx), amount_cents=amount, token=ctx.params["payment_token"])


def refund_payment(ctx: StepContext) -> dict[str, Any]:
    """Refunds the order's charge."""
    return _shop().refund(order_id=ctx.params["order_id"])


def reserve_inventory(ctx: StepContext) -> dict[str, Any]:
    """Takes the items out of stock, all or nothing (a shortage fails at once)."""
    return _shop().reserve(order_id=_order(ctx), lines=_lines(ctx))


def release_inventory(ctx: StepContext) -> dict[str, Any]:
    """Puts the reserved items back in stock."""
    return _shop().release(order_id=ctx.params["order_id"])


def send_confirmation(ctx: StepContext) -> dict[str, Any]:
    """Puts the order confirmation in the outbox."""
    order_id = _order(ctx)
    total = ctx.results["validate_cart"]["total_cents"]
    payload = {"order_id": order_id, "customer_id": ctx.params["customer_id"], "total_cents": total}
    return _shop().send_message(order_id=order_id, kind="confirmation", step=ctx.step, payload=payload)


def send_cancellation(ctx: StepContext) -> dict[str, Any]:
    """Puts a cancellation notice in the outbox."""
    order_id = ctx.params["order_id"]
    payload = {"order_id": order_id, "customer_id": ctx.params["customer_id"]}
    return _shop().send_message(
        order_id=order_id, kind="cancellation", step="send_cancellation", payload=payload
    )


def create_shipment(ctx: StepContext) -> dict[str, Any]:
    """Creates the shipment."""
    return _shop().create_shipment(order_id=_order(ctx), lines=_lines(ctx))


with DAG(
    dag_id="checkout",
    doc_md="""
### checkout (a saga)
Validate cart, charge payment, reserve inventory, send confirmation, create shipment. When a step
fails for good, the steps that completed are undone in reverse order (send cancellation, release
inventory, refund), the run ends **failed** and an alert is POSTed to the `podium_alerts` http
connection (and e-mailed through the `podium_alerts_smtp` smtp connection, when it exists).
Every write goes to the `shop` database (`shop_default` connection) under an
idempotency key `<order_id>:<step>`: re-running an order changes nothing.

**Params**: `order_id`, `customer_id`, `items` (`[{"sku": "SKU-MUG", "qty": 1}]`), `payment_token`
(`tok_ok`; `tok_declined` is declined; `tok_flaky` times out twice, then succeeds), `fail_at`
(inject a failure at one step).
""",
    schedule=None,
    catchup=False,
    max_active_runs=32,
    tags=["podium", "saga", "example"],
    default_args={"owner": "shop", "retries": RETRY.step_retries, "retry_delay": RETRY.retry_delay},
    params={
        "order_id": Param("order-0001", type="string", pattern=ORDER_ID_PATTERN, title="Order id"),
        "customer_id": Param("customer-1", type="string", pattern=CUSTOMER_ID_PATTERN, title="Customer id"),
        "items": Param([{"sku": "SKU-MUG", "qty": 1}], title="Items", **ITEMS_SCHEMA),
        "payment_token": Param("tok_ok", type="string", pattern=TOKEN_PATTERN, title="Payment token"),
        "fail_at": Param(
            None,
            type=["null", "string"],
            enum=[None, *STEPS],
            title="Inject a failure at",
            description="For demos and tests: this step fails permanently.",
        ),
    },
) as dag:
    build_saga(
        [
            Step("validate_cart", validate_cart),
            Step("charge_payment", charge_payment, refund_payment, "refund_payment"),
            Step("reserve_inventory", reserve_inventory, release_inventory, "release_inventory"),
            Step("send_confirmation", send_confirmation, send_cancellation, "send_cancellation"),
            Step("create_shipment", create_shipment),
        ],
        retry=RETRY,
        on_failure=[
            WebhookNotifier(http_conn_id=ALERTS_CONN_ID),
            EmailAlertNotifier(smtp_conn_id=ALERTS_SMTP_CONN_ID),
        ],
        source=__file__,
    )
