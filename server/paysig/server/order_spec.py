"""SignOrder's rules, stated once: for each variant of a client payment call
(app kind x payment API x mode), what every `Order` field must hold, its
default, and the signData fields in order.

Two paths read this table and nothing else for these rules:
- the reference path, ops/sign_order.py, interprets it (check_order,
  sign_data_fields);
- `make generate` turns it into server/paysig/server/_fastsign_spec.h
  (order_spec_gen.py), which the compiled path (_fastsign.c) includes;
  `make checkgenerate` fails when that header is stale. The compiled path
  signs only the variants marked ``compiled`` and declines everything else.

Limits come from rules.py, the audit line's fields from audit.py.
tests/test_order_spec.py fails when a field of `Order` or
`SignOrderRequest` is not covered here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Union

from paysig.v1 import signer_pb2 as pb

from . import rules
from .config import AppKind
from .signdata import ENV, OFFER_ID, Const, Key

# ---- what a field must hold ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Text:
    """Free text: at most ``max_bytes`` of UTF-8, no control characters."""

    max_bytes: int


@dataclasses.dataclass(frozen=True)
class Positive:
    """A whole number from 1 to rules.MAX_SAFE_INTEGER; with ``not_above``,
    at most that other Order field (when it is positive)."""

    not_above: str | None = None


@dataclasses.dataclass(frozen=True)
class OutTradeNo:
    """rules.OUT_TRADE_NO, from ``min_length`` to rules.MAX_OUT_TRADE_NO_CHARS characters."""

    min_length: int


@dataclasses.dataclass(frozen=True)
class OneOf:
    """One of ``values`` (UNSUPPORTED otherwise, saying ``why``)."""

    values: tuple[str, ...]
    why: str


@dataclasses.dataclass(frozen=True)
class HostCurrency:
    """A superapp's currency: one of the app's configured currencies, or any
    active ISO 4217 code when it lists none. Depends on the config: never compiled."""


@dataclasses.dataclass(frozen=True)
class Unset:
    """Must be left unset (NOT_ALLOWED, saying ``why``)."""

    why: str


Check = Union[Text, Positive, OutTradeNo, OneOf, HostCurrency, Unset]


@dataclasses.dataclass(frozen=True)
class Field:
    """An Order field's rule in one variant. ``default`` stands in for an
    empty value before the check (and in signData)."""

    check: Check
    required: bool = False
    default: str | None = None


# ---- what signData holds -------------------------------------------------------------

# signdata.py's Key, Const, OFFER_ID and ENV say where each signData value comes from.


# ---- the variants --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    kind: AppKind
    api: int  # pb.PaymentApi
    mode: int  # pb.VirtualPaymentMode; VIRTUAL_PAYMENT_MODE_UNSPECIFIED for game items (mode must be unset)
    order: Mapping[str, Field]  # every Order field
    sign_data: tuple[Key, ...]
    sign_data_env: bool | None = None  # superapp game items: which value of the app's sign_data_env
    refused: str | None = None  # a mode the app kind does not support: mode UNSUPPORTED, saying this
    compiled: bool = False  # the fast path signs it (generated into _fastsign_spec.h)


METHODS = {
    pb.PAYMENT_API_GAME_ITEM: "requestMidasPaymentGameItem",
    pb.PAYMENT_API_VIRTUAL_PAYMENT: "requestVirtualPayment",
}
CLIENT_METHODS = tuple(METHODS.values())  # the METHODs of the client calls, game item first
MODE_NAMES = {  # client_args_json's "mode" of requestVirtualPayment
    pb.VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS: "short_series_goods",
    pb.VIRTUAL_PAYMENT_MODE_SHORT_SERIES_COIN: "short_series_coin",
}
GOODS, COIN = pb.VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS, pb.VIRTUAL_PAYMENT_MODE_SHORT_SERIES_COIN
UNSPECIFIED = pb.VIRTUAL_PAYMENT_MODE_UNSPECIFIED

PRODUCT_ID = Field(Text(rules.MAX_PRODUCT_ID_BYTES), required=True)
GOODS_PRICE = Field(Positive(), required=True)
BUY_QUANTITY = Field(Positive(), required=True)
ATTACH_OPTIONAL = Field(Text(rules.MAX_ATTACH_BYTES))
ATTACH_REQUIRED = Field(Text(rules.MAX_ATTACH_BYTES), required=True)
DEFAULT_CURRENCY = "CNY"
HOST_CURRENCY = Field(HostCurrency(), default=DEFAULT_CURRENCY)
NOT_IN_VIRTUAL_PAYMENT = "requestVirtualPayment signData has no {}"
COIN_HAS_NO_ITEM = Unset("short_series_coin has no item: buy_quantity is the number of coins")


def _game_item(kind: AppKind, currency: Field, platform: Field, zone_id: Field) -> dict[str, Field]:
    return {
        "product_id": PRODUCT_ID,
        "goods_price": GOODS_PRICE,
        "buy_quantity": BUY_QUANTITY,
        "out_trade_no": Field(OutTradeNo(1), required=True),
        "attach": ATTACH_OPTIONAL,
        "currency_type": currency,
        "platform": platform,
        "zone_id": zone_id,
        "activity_selling_price": Field(Unset("activity_selling_price belongs to requestVirtualPayment")),
    }


def _virtual_payment(goods: bool, *, min_out_trade_no: int, currency: Field,
                     activity_selling_price: Field) -> dict[str, Field]:
    return {
        "product_id": PRODUCT_ID if goods else Field(COIN_HAS_NO_ITEM),
        "goods_price": GOODS_PRICE if goods else Field(COIN_HAS_NO_ITEM),
        "buy_quantity": BUY_QUANTITY,
        "out_trade_no": Field(OutTradeNo(min_out_trade_no), required=True),
        "attach": ATTACH_REQUIRED,
        "currency_type": currency,
        "platform": Field(Unset(NOT_IN_VIRTUAL_PAYMENT.format("platform"))),
        "zone_id": Field(Unset(NOT_IN_VIRTUAL_PAYMENT.format("zoneId"))),
        "activity_selling_price": activity_selling_price if goods else Field(COIN_HAS_NO_ITEM),
    }


def _game_item_sign_data(offer_id: bool, env: bool, zone_id: bool) -> tuple[Key, ...]:
    keys = [Key("mode", Const("goods")), Key("offerId", OFFER_ID), Key("buyQuantity", "buy_quantity"),
            Key("env", ENV), Key("currencyType", "currency_type"), Key("platform", "platform"),
            Key("zoneId", "zone_id"), Key("productId", "product_id"), Key("goodsPrice", "goods_price"),
            Key("outTradeNo", "out_trade_no"), Key("attach", "attach", omit_empty=True)]
    left_out = {"offerId": not offer_id, "env": not env, "zoneId": not zone_id}
    return tuple(k for k in keys if not left_out.get(k.name))


def _virtual_payment_sign_data(goods: bool, env: bool, activity: bool = False) -> tuple[Key, ...]:
    keys = [Key("offerId", OFFER_ID), Key("buyQuantity", "buy_quantity"), Key("env", ENV),
            Key("currencyType", "currency_type")]
    if goods:
        keys += [Key("productId", "product_id"), Key("goodsPrice", "goods_price")]
        if activity:
            keys.append(Key("activitySellingPrice", "activity_selling_price", omit_empty=True))
    keys += [Key("outTradeNo", "out_trade_no"), Key("attach", "attach")]
    return tuple(k for k in keys if env or k.name != "env")


_MINIGAME_ORDER = _game_item(
    AppKind.MINIGAME,
    Field(OneOf(("CNY",), "must be CNY for minigame apps"), default=DEFAULT_CURRENCY),
    Field(OneOf(("android",), "must be android: iOS payment is forbidden (WeChat 701001)"), default="android"),
    Field(Text(rules.MAX_ZONE_ID_BYTES), required=True, default="1"))
_SUPERAPP_GAME_ITEM_ORDER = _game_item(
    AppKind.SUPERAPP, HOST_CURRENCY,
    Field(OneOf(("android", "ios"), "must be android or ios"), default="android"),
    Field(Unset("superapp signData has no zoneId")))
_MINIPROGRAM_ACTIVITY = Field(Positive(not_above="goods_price"))
_MINIPROGRAM_CURRENCY = Field(OneOf(("CNY",), "must be CNY for miniprogram apps"), default=DEFAULT_CURRENCY)
_SUPERAPP_ACTIVITY = Field(Unset("the super-app's requestVirtualPayment signData has no activitySellingPrice"))

VARIANTS: tuple[Variant, ...] = (
    Variant("minigame game item", AppKind.MINIGAME, pb.PAYMENT_API_GAME_ITEM, UNSPECIFIED, _MINIGAME_ORDER,
            _game_item_sign_data(offer_id=True, env=True, zone_id=True), compiled=True),
    Variant("miniprogram virtual payment goods", AppKind.MINIPROGRAM, pb.PAYMENT_API_VIRTUAL_PAYMENT, GOODS,
            _virtual_payment(True, min_out_trade_no=8, currency=_MINIPROGRAM_CURRENCY,
                             activity_selling_price=_MINIPROGRAM_ACTIVITY),
            _virtual_payment_sign_data(True, env=True, activity=True), compiled=True),
    Variant("miniprogram virtual payment coin", AppKind.MINIPROGRAM, pb.PAYMENT_API_VIRTUAL_PAYMENT, COIN,
            _virtual_payment(False, min_out_trade_no=8, currency=_MINIPROGRAM_CURRENCY,
                             activity_selling_price=_MINIPROGRAM_ACTIVITY),
            _virtual_payment_sign_data(False, env=True), compiled=True),
    Variant("superapp game item", AppKind.SUPERAPP, pb.PAYMENT_API_GAME_ITEM, UNSPECIFIED, _SUPERAPP_GAME_ITEM_ORDER,
            _game_item_sign_data(offer_id=False, env=False, zone_id=False), sign_data_env=False),
    Variant("superapp game item with env", AppKind.SUPERAPP, pb.PAYMENT_API_GAME_ITEM, UNSPECIFIED,
            _SUPERAPP_GAME_ITEM_ORDER, _game_item_sign_data(offer_id=False, env=True, zone_id=False),
            sign_data_env=True),
    # The super-app page's own sample uses a 6-character outTradeNo: its orders keep the game-item rule.
    Variant("superapp virtual payment goods", AppKind.SUPERAPP, pb.PAYMENT_API_VIRTUAL_PAYMENT, GOODS,
            _virtual_payment(True, min_out_trade_no=1, currency=HOST_CURRENCY,
                             activity_selling_price=_SUPERAPP_ACTIVITY),
            _virtual_payment_sign_data(True, env=False)),
    Variant("superapp virtual payment coin", AppKind.SUPERAPP, pb.PAYMENT_API_VIRTUAL_PAYMENT, COIN,
            _virtual_payment(False, min_out_trade_no=1, currency=HOST_CURRENCY,
                             activity_selling_price=_SUPERAPP_ACTIVITY),
            (), refused="the super-app supports item purchase only: VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS"),
)

# SignOrderRequest's fields besides `order`, and the rule each follows in ops/sign_order.py.
REQUEST_FIELDS = {
    "app_id": "a configured app (lookup_app); its kind picks the variants",
    "env": "ENV_PRODUCTION or ENV_SANDBOX (superapps: production only); picks the key and signData's env",
    "api": "METHODS' keys; must be the api of one of the app kind's variants",
    "mode": "requestVirtualPayment: MODE_NAMES' keys, picks the variant; game items: unset",
    "session_key": "rules.check_session_key; keys the user-state signature",
    "order": "required; each field checked by the variant's `order` rules",
}

# SignOrderResponse's fields and the value each carries (both paths fill exactly these).
RESPONSE_FIELDS = {
    "sign_data": "sign_data", "pay_sig": "pay_sig", "signature": "signature", "method": "method",
    "key_version": "key_version", "env": "env", "client_args_json": "client_args",
}
# client_args_json: these keys, then "mode" (MODE_NAMES) for requestVirtualPayment.
CLIENT_ARGS = (("signData", "sign_data"), ("paySig", "pay_sig"), ("signature", "signature"))
CLIENT_ARGS_MODE = "mode"

ORDER_FIELDS = tuple(pb.Order.DESCRIPTOR.fields_by_name)


APIS_OF_KIND = {kind: tuple(dict.fromkeys(v.api for v in VARIANTS if v.kind is kind and not v.refused))
                for kind in AppKind}
NEEDS_OFFER_ID = frozenset((v.kind, v.api) for v in VARIANTS if any(k.source == OFFER_ID for k in v.sign_data))


def find(kind: AppKind, api: int, mode: int, sign_data_env: bool) -> Variant | None:
    """The variant of a request; game items ignore ``mode`` (which must be unset)."""
    if api == pb.PAYMENT_API_GAME_ITEM:
        mode = UNSPECIFIED
    for v in VARIANTS:  # a scan, not a dict: hashing an Enum runs Python code
        if v.kind is kind and v.api == api and v.mode == mode and v.sign_data_env in (None, sign_data_env):
            return v
    return None


def common_rules(variants: list[Variant], presence_from: tuple[Variant, ...] | None = None) -> dict[str, Field]:
    """The rules that hold whichever of ``variants`` the request meant, for a
    request whose api or mode names none of them: a field left unset by all
    must stay unset; a field whose other variants check it alike is checked
    when set, and required when every variant of ``presence_from`` (default:
    ``variants``) requires it; the others are not checked."""
    out: dict[str, Field] = {}
    for name in ORDER_FIELDS:
        fields = [v.order[name] for v in variants]
        used = [f for f in fields if not isinstance(f.check, Unset)]
        if not used:
            out[name] = fields[0]
        elif all(f.check == used[0].check and f.default == used[0].default for f in used):
            required = all(v.order[name].required for v in (variants if presence_from is None else presence_from))
            out[name] = dataclasses.replace(used[0], required=required)
    return out


def _check_table() -> None:
    for v in VARIANTS:
        missing = set(ORDER_FIELDS) ^ set(v.order)
        if missing:
            raise AssertionError(f"order_spec: variant {v.name!r} does not state the rule of {sorted(missing)}")
        for key in v.sign_data:
            if isinstance(key.source, str) and key.source not in (OFFER_ID, ENV) + ORDER_FIELDS:
                raise AssertionError(f"order_spec: variant {v.name!r}: signData {key.name} from {key.source!r}")
            if key.source in v.order and isinstance(v.order[key.source].check, Unset):
                raise AssertionError(f"order_spec: variant {v.name!r}: signData {key.name} from an unset field")


_check_table()
