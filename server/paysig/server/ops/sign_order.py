"""SignOrder: build signData from typed fields, then sign it."""

from __future__ import annotations


from paysig.v1 import signer_pb2 as pb

from .. import rules
from ..config import App, AppKind, Config
from ..errors import Code, PaysigError, Rule, Violations, key_not_configured
from ..keys import Env
from ..mac import compute_mac
from ..signdata import (COMPACT_JSON, GameItemOrder, VirtualPaymentOrder, game_item_sign_data,
                        virtual_payment_sign_data)
from .common import ENV_TO_PROTO, lookup_app, request_env, require_ring

REQUEST = "SignOrderRequest"
METHODS = {
    pb.PAYMENT_API_GAME_ITEM: "requestMidasPaymentGameItem",
    pb.PAYMENT_API_VIRTUAL_PAYMENT: "requestVirtualPayment",
}
APIS_OF_KIND = {
    AppKind.MINIGAME: (pb.PAYMENT_API_GAME_ITEM,),
    AppKind.MINIPROGRAM: (pb.PAYMENT_API_VIRTUAL_PAYMENT,),
    AppKind.SUPERAPP: (pb.PAYMENT_API_GAME_ITEM, pb.PAYMENT_API_VIRTUAL_PAYMENT),
}
MODE_NAMES = {
    pb.VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS: "short_series_goods",
    pb.VIRTUAL_PAYMENT_MODE_SHORT_SERIES_COIN: "short_series_coin",
}
DEFAULT_CURRENCY = "CNY"
DEFAULT_PLATFORM = "android"
DEFAULT_ZONE_ID = "1"


def sign_order(config: Config, req: pb.SignOrderRequest) -> pb.SignOrderResponse:
    app = lookup_app(config, req.app_id, REQUEST)
    v = Violations()
    api_known = req.api in METHODS
    if not api_known:
        rules.check_enum(v, "api", req.api, "PAYMENT_API_GAME_ITEM or PAYMENT_API_VIRTUAL_PAYMENT")
    elif req.api not in APIS_OF_KIND[app.kind]:
        raise PaysigError(
            Code.FAILED_PRECONDITION,
            "API_NOT_SUPPORTED_FOR_APP_KIND",
            f"api: {pb.PaymentApi.Name(req.api)} does not fit app {app.app_id!r} of kind {app.kind.value}; "
            f"use {' or '.join(pb.PaymentApi.Name(api) for api in APIS_OF_KIND[app.kind])}",
        )
    elif req.api == pb.PAYMENT_API_VIRTUAL_PAYMENT and not app.offer_id:
        raise PaysigError(
            Code.FAILED_PRECONDITION,
            "OFFER_ID_NOT_CONFIGURED",
            f"api: app {app.app_id!r} has no offer_id configured; requestVirtualPayment signData needs one",
        )

    env = _order_env(v, app, req.env)
    rules.check_session_key(v, "session_key", req.session_key, required=True)
    if not req.HasField("order"):
        v.add("order", Rule.REQUIRED, "required")
        v.raise_if_any(REQUEST)
    if not api_known:
        _api_independent(v, app, req.order)
        v.raise_if_any(REQUEST)
    sign_data = build_sign_data(v, app, env, req)
    v.raise_if_any(REQUEST)

    if env is None:  # superapp: one key; env in signData only with sign_data_env
        env = Env.PRODUCTION
    key = require_ring(app, env).primary
    method = METHODS[req.api]
    pay_sig = compute_mac(key.secret.reveal(), f"{method}&{sign_data}")
    signature = compute_mac(req.session_key.encode("utf-8"), sign_data)
    args = {"signData": sign_data, "paySig": pay_sig, "signature": signature}
    if req.api == pb.PAYMENT_API_VIRTUAL_PAYMENT:
        args["mode"] = MODE_NAMES[req.mode]
    return pb.SignOrderResponse(
        sign_data=sign_data,
        pay_sig=pay_sig,
        signature=signature,
        method=method,
        key_version=key.version,
        env=ENV_TO_PROTO[env],
        client_args_json=COMPACT_JSON.encode(args),
    )


def build_sign_data(v: Violations, app: App, env: Env | None, req: pb.SignOrderRequest) -> str:
    """The signData of ``req`` (whose api fits the app), or "" with the broken
    rules added to ``v``. DiagnoseSignature checks a team's signData with it."""
    if req.api == pb.PAYMENT_API_GAME_ITEM:
        return _game_item(v, app, env, req)
    return _virtual_payment(v, app, env, req)


def _order_env(v: Violations, app: App, value: int) -> Env | None:
    env = request_env(v, value)
    if app.kind is AppKind.SUPERAPP:
        if env is Env.SANDBOX:
            raise key_not_configured(app.app_id, "sandbox")
        return None
    if env is None and value == pb.ENV_UNSPECIFIED:
        v.add("env", Rule.REQUIRED, "required: ENV_PRODUCTION or ENV_SANDBOX picks the AppKey and signData's env")
    return env


def _api_independent(v: Violations, app: App, o: pb.Order) -> None:
    """The order rules that hold whatever the payment API, so that a request
    without a valid api still hears about every other broken rule."""
    _common_order_fields(v, o, min_out_trade_no=8 if app.kind is AppKind.MINIPROGRAM else 1, attach_required=False)
    if o.product_id:
        rules.check_text(v, "order.product_id", o.product_id, max_bytes=rules.MAX_PRODUCT_ID_BYTES, required=True)


def _common_order_fields(v: Violations, o: pb.Order, *, min_out_trade_no: int, attach_required: bool) -> None:
    rules.check_positive(v, "order.buy_quantity", o.buy_quantity)
    rules.check_out_trade_no(v, "order.out_trade_no", o.out_trade_no, min_length=min_out_trade_no)
    rules.check_text(v, "order.attach", o.attach, max_bytes=rules.MAX_ATTACH_BYTES, required=attach_required)


def _product(v: Violations, o: pb.Order) -> None:
    rules.check_text(v, "order.product_id", o.product_id, max_bytes=rules.MAX_PRODUCT_ID_BYTES, required=True)
    rules.check_positive(v, "order.goods_price", o.goods_price)


def _game_item(v: Violations, app: App, env: Env | None, req: pb.SignOrderRequest) -> str:
    o = req.order
    superapp = app.kind is AppKind.SUPERAPP
    rules.check_unset(v, "mode", req.mode != pb.VIRTUAL_PAYMENT_MODE_UNSPECIFIED,
                      "mode belongs to requestVirtualPayment")
    rules.check_unset(v, "order.activity_selling_price", o.HasField("activity_selling_price"),
                      "activity_selling_price belongs to requestVirtualPayment")
    _product(v, o)
    _common_order_fields(v, o, min_out_trade_no=1, attach_required=False)

    currency = o.currency_type or DEFAULT_CURRENCY
    platform = o.platform or DEFAULT_PLATFORM
    if superapp:
        _host_currency(v, app, currency)
        if platform not in ("android", "ios"):
            v.add("order.platform", Rule.UNSUPPORTED, "must be android or ios")
        rules.check_unset(v, "order.zone_id", bool(o.zone_id), "superapp signData has no zoneId")
        zone_id = None
    else:
        if currency != "CNY":
            v.add("order.currency_type", Rule.UNSUPPORTED, "must be CNY for minigame apps")
        if platform != "android":
            v.add("order.platform", Rule.UNSUPPORTED, "must be android: iOS payment is forbidden (WeChat 701001)")
        zone_id = o.zone_id or DEFAULT_ZONE_ID
        rules.check_text(v, "order.zone_id", zone_id, max_bytes=rules.MAX_ZONE_ID_BYTES, required=True)
    if v:
        return ""
    return game_item_sign_data(
        GameItemOrder(
            offer_id=None if superapp else app.offer_id,
            env=Env.PRODUCTION if superapp and app.sign_data_env else env,
            zone_id=zone_id,
            product_id=o.product_id,
            goods_price=o.goods_price,
            buy_quantity=o.buy_quantity,
            currency_type=currency,
            platform=platform,
            out_trade_no=o.out_trade_no,
            attach=o.attach,
        )
    )


def _host_currency(v: Violations, app: App, currency: str) -> None:
    """A superapp's currency: one of the app's configured currencies, or any
    active ISO 4217 code when it lists none."""
    if app.currencies is not None:
        if currency not in app.currencies:
            v.add("order.currency_type", Rule.UNSUPPORTED,
                  f"must be one of app {app.app_id!r}'s currencies: {', '.join(app.currencies)}")
    elif currency not in rules.ISO_4217:
        v.add("order.currency_type", Rule.UNSUPPORTED, "must be an active ISO 4217 code such as USD")


def _virtual_payment(v: Violations, app: App, env: Env | None, req: pb.SignOrderRequest) -> str:
    o = req.order
    superapp = app.kind is AppKind.SUPERAPP
    goods = req.mode == pb.VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS
    if req.mode not in MODE_NAMES:
        rules.check_enum(v, "mode", req.mode,
                         "VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS or VIRTUAL_PAYMENT_MODE_SHORT_SERIES_COIN")
    elif superapp and not goods:
        v.add("mode", Rule.UNSUPPORTED, "the super-app supports item purchase only: "
              "VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS")
    elif goods:
        _product(v, o)
        if superapp:
            rules.check_unset(v, "order.activity_selling_price", o.HasField("activity_selling_price"),
                              "the super-app's requestVirtualPayment signData has no activitySellingPrice")
        elif o.HasField("activity_selling_price"):
            rules.check_positive(v, "order.activity_selling_price", o.activity_selling_price, required=False)
            if o.activity_selling_price > o.goods_price > 0:
                v.add("order.activity_selling_price", Rule.OUT_OF_RANGE, "must not be above goods_price")
    else:
        coin = "short_series_coin has no item: buy_quantity is the number of coins"
        rules.check_unset(v, "order.product_id", bool(o.product_id), coin)
        rules.check_unset(v, "order.goods_price", o.goods_price != 0, coin)
        rules.check_unset(v, "order.activity_selling_price", o.HasField("activity_selling_price"), coin)
    # The super-app page's own sample uses a 6-character outTradeNo: its orders keep the game-item rule.
    _common_order_fields(v, o, min_out_trade_no=1 if superapp else 8, attach_required=True)
    currency = o.currency_type or DEFAULT_CURRENCY
    if superapp:
        _host_currency(v, app, currency)
    elif currency != "CNY":
        v.add("order.currency_type", Rule.UNSUPPORTED, "must be CNY for miniprogram apps")
    no_field = "requestVirtualPayment signData has no {}"
    rules.check_unset(v, "order.platform", bool(o.platform), no_field.format("platform"))
    rules.check_unset(v, "order.zone_id", bool(o.zone_id), no_field.format("zoneId"))
    if v:
        return ""
    return virtual_payment_sign_data(
        VirtualPaymentOrder(
            offer_id=app.offer_id,
            env=env,
            product_id=o.product_id if goods else None,
            goods_price=o.goods_price if goods else None,
            activity_selling_price=o.activity_selling_price if goods and o.HasField("activity_selling_price") else None,
            buy_quantity=o.buy_quantity,
            currency_type=currency,
            out_trade_no=o.out_trade_no,
            attach=o.attach,
        )
    )
