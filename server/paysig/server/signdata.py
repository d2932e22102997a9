"""The canonical signData string: compact JSON, fields in the order of
WeChat's official examples, numbers as JSON numbers, strings as JSON strings.

The caller hands this exact string to the client; it is never re-serialised.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from .keys import Env


@dataclasses.dataclass(frozen=True)
class GameItemOrder:
    """signData of wx.requestMidasPaymentGameItem. Superapp orders have no
    offer_id or zone_id, and env only when the app sets sign_data_env (None
    leaves the field out)."""

    offer_id: str | None
    env: Env | None
    zone_id: str | None
    product_id: str
    goods_price: int
    buy_quantity: int
    currency_type: str
    platform: str
    out_trade_no: str
    attach: str


@dataclasses.dataclass(frozen=True)
class VirtualPaymentOrder:
    """signData of wx.requestVirtualPayment (mode is a call argument, not a field).
    Coin mode has no product_id, goods_price or activity_selling_price;
    superapp orders have no env (None leaves it out)."""

    offer_id: str
    env: Env | None
    product_id: str | None
    goods_price: int | None
    activity_selling_price: int | None
    buy_quantity: int
    currency_type: str
    out_trade_no: str
    attach: str


# Compact, non-ASCII kept as UTF-8; built once (json.dumps with options builds an encoder per call).
COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _dump(fields: list[tuple[str, Any]]) -> str:
    return COMPACT_JSON.encode({k: v for k, v in fields if v is not None})


def game_item_sign_data(o: GameItemOrder) -> str:
    return _dump(
        [
            ("mode", "goods"),
            ("offerId", o.offer_id),
            ("buyQuantity", o.buy_quantity),
            ("env", None if o.env is None else o.env.value),
            ("currencyType", o.currency_type),
            ("platform", o.platform),
            ("zoneId", o.zone_id),
            ("productId", o.product_id),
            ("goodsPrice", o.goods_price),
            ("outTradeNo", o.out_trade_no),
            ("attach", o.attach or None),
        ]
    )


def virtual_payment_sign_data(o: VirtualPaymentOrder) -> str:
    return _dump(
        [
            ("offerId", o.offer_id),
            ("buyQuantity", o.buy_quantity),
            ("env", None if o.env is None else o.env.value),
            ("currencyType", o.currency_type),
            ("productId", o.product_id),
            ("goodsPrice", o.goods_price),
            ("activitySellingPrice", o.activity_selling_price),
            ("outTradeNo", o.out_trade_no),
            ("attach", o.attach),
        ]
    )
