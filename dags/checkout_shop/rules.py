"""The checkout example's rules, as plain functions: conf schema, idempotency keys, payment tokens.

The fake payment service behaves according to the token it is given:

* ``tok_ok`` (or any other ``tok_...``): the charge succeeds.
* ``tok_declined``: the card is declined, a permanent error (never retried).
* ``tok_flaky``: the payment gateway times out on the first two attempts, then succeeds. Attempts are
  counted in the shop database per idempotency key, so the count survives task retries.

``fail_at`` in the conf injects a permanent failure at one step (for demos and tests).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ORDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$"
CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
SKU_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{1,31}$"
TOKEN_PATTERN = r"^tok_[a-z0-9_]{1,60}$"

STEPS = ("validate_cart", "charge_payment", "reserve_inventory", "send_confirmation", "create_shipment")
COMPENSATIONS = {
    "charge_payment": "refund_payment",
    "reserve_inventory": "release_inventory",
    "send_confirmation": "send_cancellation",
}
DECLINED_TOKEN = "tok_declined"
FLAKY_TOKEN = "tok_flaky"
FLAKY_FAILURES = 2

ITEMS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "maxItems": 50,
    "items": {
        "type": "object",
        "properties": {
            "sku": {"type": "string", "pattern": SKU_PATTERN},
            "qty": {"type": "integer", "minimum": 1, "maximum": 1000},
        },
        "required": ["sku", "qty"],
        "additionalProperties": False,
    },
}


def idempotency_key(order_id: str, step: str) -> str:
    """The key every write of ``step`` for ``order_id`` carries: one row per order and step."""
    return f"{order_id}:{step}"


@dataclass(frozen=True)
class Line:
    sku: str
    qty: int


def cart_lines(items: Sequence[Mapping[str, Any]]) -> tuple[Line, ...]:
    """Merge the cart's items per SKU, sorted by SKU (a fixed lock order for stock updates).

    :raises ValueError: an item without a SKU or with a quantity below 1.
    """
    totals: dict[str, int] = {}
    for index, item in enumerate(items):
        sku, qty = item.get("sku"), item.get("qty")
        if not isinstance(sku, str) or not sku:
            raise ValueError(f"items[{index}]: no sku")
        if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
            raise ValueError(f"items[{index}]: qty must be an integer >= 1, got {qty!r}")
        totals[sku] = totals.get(sku, 0) + qty
    if not totals:
        raise ValueError("the cart is empty")
    return tuple(Line(sku, qty) for sku, qty in sorted(totals.items()))


def canonical_items(lines: Sequence[Line]) -> str:
    """The cart as stored with the order: compared when the same order id comes again."""
    return json.dumps([{"sku": line.sku, "qty": line.qty} for line in lines], separators=(",", ":"))


def order_total(lines: Sequence[Line], prices: Mapping[str, int]) -> int:
    """Total in cents. :raises KeyError: naming the SKUs that are not in the catalogue."""
    unknown = [line.sku for line in lines if line.sku not in prices]
    if unknown:
        raise KeyError(", ".join(unknown))
    return sum(prices[line.sku] * line.qty for line in lines)


def payment_outcome(token: str, attempt: int) -> str:
    """What the fake payment gateway answers on ``attempt`` (1-based): ok, declined or transient."""
    if token == DECLINED_TOKEN:
        return "declined"
    if token == FLAKY_TOKEN and attempt <= FLAKY_FAILURES:
        return "transient"
    return "ok"
