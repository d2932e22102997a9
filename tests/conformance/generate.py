#!/usr/bin/env python3
"""Writes cases.json, the language-neutral conformance cases.

Every expected signature is either a published WeChat vector
(tests/vectors/wechat-official.json) or computed here by the openssl command
line tool; every expected signData string is written out by hand. Nothing in
this file imports paysig. Run `make generate` after editing; `make
checkgenerate` fails when cases.json is stale.

Case shape:
  {"name": ..., "rpc": "SignOrder" | "SignApiCall" | "VerifySignature",
   "request": {proto JSON, proto field names},
   "expect": {"response": {field: value, ...}}          # these fields, exactly
          or {"error": {"code": "INVALID_ARGUMENT", "reason": "...",
                        "violations": [[field, rule], ...]}}}  # exactly these
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = tomllib.loads((HERE / "config.toml").read_text())
VECTORS = json.loads((HERE.parent / "vectors" / "wechat-official.json").read_text())["vectors"]
SESSION_KEY = "9hAb/NEYUlkaMBEsmFgzig=="
GAME_ITEM = "requestMidasPaymentGameItem"
VIRTUAL_PAYMENT = "requestVirtualPayment"


def openssl_hmac(key: str, message: str) -> str:
    out = subprocess.run(
        ["openssl", "dgst", "-sha256", "-hmac", key],
        input=message.encode("utf-8"),
        capture_output=True,
        check=True,
    ).stdout.decode()
    return out.strip().split()[-1]


def key(app_id: str, env: str, version: int = 1) -> str:
    app = next(a for a in CONFIG["apps"] if a["app_id"] == app_id)
    ring = app["keys"][env]
    if isinstance(ring, dict):
        assert version == 1
        return ring["value"]
    return next(k["value"] for k in ring if k["version"] == version)


cases: list[dict] = []


def ok(name: str, rpc: str, request: dict, **response) -> None:
    cases.append({"name": name, "rpc": rpc, "request": request, "expect": {"response": response}})


def err(name: str, rpc: str, request: dict, code: str, reason: str, *violations: tuple[str, str]) -> None:
    error = {"code": code, "reason": reason}
    if violations:
        error["violations"] = [list(v) for v in violations]
    cases.append({"name": name, "rpc": rpc, "request": request, "expect": {"error": error}})


def invalid(name: str, rpc: str, request: dict, *violations: tuple[str, str]) -> None:
    err(name, rpc, request, "INVALID_ARGUMENT", "INVALID_REQUEST", *violations)


# ---- SignOrder: successes ---------------------------------------------------------


def order_ok(name, request, sign_data, app_key, method, *, key_version=1, env, mode=None):
    pay_sig = openssl_hmac(app_key, f"{method}&{sign_data}")
    signature = openssl_hmac(request["session_key"], sign_data)
    args = {"signData": sign_data, "paySig": pay_sig, "signature": signature}
    if mode:
        args["mode"] = mode
    ok(name, "SignOrder", request, sign_data=sign_data, pay_sig=pay_sig, signature=signature, method=method,
       key_version=key_version, env=env, client_args_json=json.dumps(args, ensure_ascii=False, separators=(",", ":")))


def game_item(app_id="mg", env="ENV_PRODUCTION", **order):
    base = {"product_id": "sword", "goods_price": "600", "buy_quantity": "1", "out_trade_no": "order-0001"}
    base.update(order)
    request = {"app_id": app_id, "api": "PAYMENT_API_GAME_ITEM", "order": base, "session_key": SESSION_KEY}
    if env:
        request["env"] = env
    return request


def virtual_payment(mode="VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS", env="ENV_PRODUCTION", **order):
    base = {"product_id": "vip", "goods_price": "1000", "buy_quantity": "2", "out_trade_no": "mp-order-0001",
            "attach": "a"}
    if mode == "VIRTUAL_PAYMENT_MODE_SHORT_SERIES_COIN":
        base = {"buy_quantity": "60", "out_trade_no": "coin0001", "attach": "coins"}
    base.update(order)
    request = {"app_id": "mp", "api": "PAYMENT_API_VIRTUAL_PAYMENT", "order": base, "session_key": SESSION_KEY}
    if env:
        request["env"] = env
    if mode:
        request["mode"] = mode
    return request


order_ok(
    "official mini-game example signData, byte for byte",
    game_item("mg-official", product_id="testproductId", goods_price="10", out_trade_no="xxxxxx", attach="testdata"),
    '{"mode":"goods","offerId":"123","buyQuantity":1,"env":0,"currencyType":"CNY","platform":"android",'
    '"zoneId":"1","productId":"testproductId","goodsPrice":10,"outTradeNo":"xxxxxx","attach":"testdata"}',
    key("mg-official", "production"), GAME_ITEM, env="ENV_PRODUCTION",
)
order_ok(
    "mini-game production order with defaults",
    game_item(attach="player=42"),
    '{"mode":"goods","offerId":"1450000001","buyQuantity":1,"env":0,"currencyType":"CNY","platform":"android",'
    '"zoneId":"1","productId":"sword","goodsPrice":600,"outTradeNo":"order-0001","attach":"player=42"}',
    key("mg", "production"), GAME_ITEM, env="ENV_PRODUCTION",
)
order_ok(
    "mini-game sandbox order signs with the newest sandbox key, no attach, explicit zone, full outTradeNo alphabet",
    game_item(env="ENV_SANDBOX", product_id="gem.pack", goods_price="100", buy_quantity="3",
              out_trade_no="A-z_9|*@x", zone_id="7", currency_type="CNY", platform="android"),
    '{"mode":"goods","offerId":"1450000001","buyQuantity":3,"env":1,"currencyType":"CNY","platform":"android",'
    '"zoneId":"7","productId":"gem.pack","goodsPrice":100,"outTradeNo":"A-z_9|*@x"}',
    key("mg", "sandbox", 2), GAME_ITEM, key_version=2, env="ENV_SANDBOX",
)
order_ok(
    "non-ASCII attach stays raw UTF-8; quotes and backslashes are escaped",
    game_item(attach='礼包 "vip" \\ /', out_trade_no="u-0001"),
    '{"mode":"goods","offerId":"1450000001","buyQuantity":1,"env":0,"currencyType":"CNY","platform":"android",'
    '"zoneId":"1","productId":"sword","goodsPrice":600,"outTradeNo":"u-0001","attach":"礼包 \\"vip\\" \\\\ /"}',
    key("mg", "production"), GAME_ITEM, env="ENV_PRODUCTION",
)
order_ok(
    "largest safe integers",
    game_item(goods_price="9007199254740991", buy_quantity="9007199254740991", out_trade_no="big"),
    '{"mode":"goods","offerId":"1450000001","buyQuantity":9007199254740991,"env":0,"currencyType":"CNY",'
    '"platform":"android","zoneId":"1","productId":"sword","goodsPrice":9007199254740991,"outTradeNo":"big"}',
    key("mg", "production"), GAME_ITEM, env="ENV_PRODUCTION",
)
order_ok(
    "mini-program goods order with activity price",
    virtual_payment(activity_selling_price="800"),
    '{"offerId":"1450000002","buyQuantity":2,"env":0,"currencyType":"CNY","productId":"vip","goodsPrice":1000,'
    '"activitySellingPrice":800,"outTradeNo":"mp-order-0001","attach":"a"}',
    key("mp", "production"), VIRTUAL_PAYMENT, env="ENV_PRODUCTION", mode="short_series_goods",
)
order_ok(
    "mini-program official example fields (outTradeNo lengthened to the 8-character minimum)",
    virtual_payment(product_id="testproductId", goods_price="10", buy_quantity="1", out_trade_no="xxxxxxxx",
                    attach="testdata"),
    '{"offerId":"1450000002","buyQuantity":1,"env":0,"currencyType":"CNY","productId":"testproductId",'
    '"goodsPrice":10,"outTradeNo":"xxxxxxxx","attach":"testdata"}',
    key("mp", "production"), VIRTUAL_PAYMENT, env="ENV_PRODUCTION", mode="short_series_goods",
)
order_ok(
    "mini-program coin top-up in sandbox",
    virtual_payment(mode="VIRTUAL_PAYMENT_MODE_SHORT_SERIES_COIN", env="ENV_SANDBOX"),
    '{"offerId":"1450000002","buyQuantity":60,"env":1,"currencyType":"CNY","outTradeNo":"coin0001",'
    '"attach":"coins"}',
    key("mp", "sandbox"), VIRTUAL_PAYMENT, env="ENV_SANDBOX", mode="short_series_coin",
)
order_ok(
    "super-app order: no offerId, env or zoneId; USD on iOS",
    game_item("sa", env=None, product_id="testproductId", goods_price="10", out_trade_no="xxxxxx",
              attach="testdata", currency_type="USD", platform="ios"),
    '{"mode":"goods","buyQuantity":1,"currencyType":"USD","platform":"ios","productId":"testproductId",'
    '"goodsPrice":10,"outTradeNo":"xxxxxx","attach":"testdata"}',
    key("sa", "production"), GAME_ITEM, env="ENV_PRODUCTION",
)

order_ok(
    "super-app order, the platform reference's signData byte for byte: no offerId, env or zoneId",
    game_item("sa", env=None, product_id="testproductId", goods_price="10", out_trade_no="xxxxxx",
              attach="testdata", currency_type="USD", platform="android"),
    '{"mode":"goods","buyQuantity":1,"currencyType":"USD","platform":"android","productId":"testproductId",'
    '"goodsPrice":10,"outTradeNo":"xxxxxx","attach":"testdata"}',
    key("sa", "production"), GAME_ITEM, env="ENV_PRODUCTION",
)
order_ok(
    "super-app order with sign_data_env, the seed page's signData byte for byte",
    game_item("sa-env", env=None, product_id="testproductId", goods_price="10", out_trade_no="xxxxxx",
              attach="testdata", currency_type="USD", platform="android"),
    '{"mode":"goods","buyQuantity":1,"env":0,"currencyType":"USD","platform":"android","productId":"testproductId",'
    '"goodsPrice":10,"outTradeNo":"xxxxxx","attach":"testdata"}',
    key("sa-env", "production"), GAME_ITEM, env="ENV_PRODUCTION",
)
order_ok(
    "super-app game item leaves offerId out even when the app has one",
    game_item("sa-mp", env="ENV_PRODUCTION", product_id="gem", goods_price="99", out_trade_no="sg-1",
              currency_type="SGD"),
    '{"mode":"goods","buyQuantity":1,"currencyType":"SGD","platform":"android","productId":"gem",'
    '"goodsPrice":99,"outTradeNo":"sg-1"}',
    key("sa-mp", "production"), GAME_ITEM, env="ENV_PRODUCTION",
)


def superapp_vp(app_id="sa-mp", mode="VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS", **order):
    base = {"product_id": "testproductId", "goods_price": "10", "buy_quantity": "1", "out_trade_no": "xxxxxx",
            "attach": "testdata", "currency_type": "USD"}
    base.update(order)
    request = {"app_id": app_id, "api": "PAYMENT_API_VIRTUAL_PAYMENT", "order": base, "session_key": SESSION_KEY}
    if mode:
        request["mode"] = mode
    return request


order_ok(
    "super-app requestVirtualPayment, the page's JS sample signData byte for byte",
    superapp_vp(),
    '{"offerId":"123","buyQuantity":1,"currencyType":"USD","productId":"testproductId","goodsPrice":10,'
    '"outTradeNo":"xxxxxx","attach":"testdata"}',
    key("sa-mp", "production"), VIRTUAL_PAYMENT, env="ENV_PRODUCTION", mode="short_series_goods",
)

# ---- SignOrder: errors -----------------------------------------------------------

R = "SignOrder"
err("sign order for an unknown app", R, game_item("nope"), "NOT_FOUND", "APP_NOT_FOUND")
invalid("missing app_id", R, game_item(""), ("app_id", "REQUIRED"))
invalid("missing api", R, {**game_item(), "api": "PAYMENT_API_UNSPECIFIED"}, ("api", "REQUIRED"))
err("game item for a mini program", R, {**game_item(), "app_id": "mp"}, "FAILED_PRECONDITION",
    "API_NOT_SUPPORTED_FOR_APP_KIND")
err("virtual payment for a mini game", R, {**virtual_payment(), "app_id": "mg"}, "FAILED_PRECONDITION",
    "API_NOT_SUPPORTED_FOR_APP_KIND")
err("sandbox without a sandbox key", R, game_item("mg-prod-only", env="ENV_SANDBOX"), "FAILED_PRECONDITION",
    "KEY_NOT_CONFIGURED")
err("super app has no sandbox key", R, game_item("sa", env="ENV_SANDBOX"), "FAILED_PRECONDITION",
    "KEY_NOT_CONFIGURED")
invalid("mini game without env", R, game_item(env=None), ("env", "REQUIRED"))
invalid("missing order", R, {k: v for k, v in game_item().items() if k != "order"}, ("order", "REQUIRED"))
invalid("missing session_key", R, {**game_item(), "session_key": ""}, ("session_key", "REQUIRED"))
invalid("session_key with a space", R, {**game_item(), "session_key": "ab cd"}, ("session_key", "FORMAT"))
invalid("outTradeNo starting with _", R, game_item(out_trade_no="_order1"), ("order.out_trade_no", "FORMAT"))
invalid("outTradeNo of 33 characters", R, game_item(out_trade_no="a" * 33), ("order.out_trade_no", "FORMAT"))
invalid("outTradeNo with a space", R, game_item(out_trade_no="order 1"), ("order.out_trade_no", "FORMAT"))
invalid("outTradeNo with a dot", R, game_item(out_trade_no="order.1"), ("order.out_trade_no", "FORMAT"))
invalid("missing outTradeNo", R, game_item(out_trade_no=""), ("order.out_trade_no", "REQUIRED"))
invalid("virtual payment outTradeNo of 7 characters", R, virtual_payment(out_trade_no="abcdefg"),
        ("order.out_trade_no", "FORMAT"))
invalid("zero quantity", R, game_item(buy_quantity="0"), ("order.buy_quantity", "REQUIRED"))
invalid("negative quantity", R, game_item(buy_quantity="-1"), ("order.buy_quantity", "OUT_OF_RANGE"))
invalid("quantity above 2^53-1", R, game_item(buy_quantity="9007199254740992"), ("order.buy_quantity", "OUT_OF_RANGE"))
invalid("zero price", R, game_item(goods_price="0"), ("order.goods_price", "REQUIRED"))
invalid("negative price", R, game_item(goods_price="-600"), ("order.goods_price", "OUT_OF_RANGE"))
invalid("missing product", R, game_item(product_id=""), ("order.product_id", "REQUIRED"))
invalid("mini game in USD", R, game_item(currency_type="USD"), ("order.currency_type", "UNSUPPORTED"))
invalid("mini game on iOS", R, game_item(platform="ios"), ("order.platform", "UNSUPPORTED"))
invalid("mini game with a mode", R, {**game_item(), "mode": "VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS"},
        ("mode", "NOT_ALLOWED"))
invalid("mini game with an activity price", R, game_item(activity_selling_price="1"),
        ("order.activity_selling_price", "NOT_ALLOWED"))
invalid("super app in an unknown currency", R, game_item("sa", env=None, currency_type="XYZ"),
        ("order.currency_type", "UNSUPPORTED"))
invalid("super app on an unknown platform", R, game_item("sa", env=None, platform="windows"),
        ("order.platform", "UNSUPPORTED"))
invalid("super app with a zone", R, game_item("sa", env=None, zone_id="1"), ("order.zone_id", "NOT_ALLOWED"))
invalid("virtual payment without mode", R, virtual_payment(mode=None), ("mode", "REQUIRED"))
err("super-app requestVirtualPayment without an offer_id", R, superapp_vp("sa"), "FAILED_PRECONDITION",
    "OFFER_ID_NOT_CONFIGURED")
invalid("super-app requestVirtualPayment in coin mode", R,
        superapp_vp(mode="VIRTUAL_PAYMENT_MODE_SHORT_SERIES_COIN", product_id="", goods_price="0"),
        ("mode", "UNSUPPORTED"))
invalid("super-app requestVirtualPayment with platform, zone and activity price", R,
        superapp_vp(platform="android", zone_id="1", activity_selling_price="5"),
        ("order.platform", "NOT_ALLOWED"), ("order.zone_id", "NOT_ALLOWED"),
        ("order.activity_selling_price", "NOT_ALLOWED"))
invalid("super-app currency outside the host's list", R, superapp_vp(currency_type="EUR"),
        ("order.currency_type", "UNSUPPORTED"))
invalid("super-app game item in a currency outside the host's list", R,
        game_item("sa-mp", env=None, currency_type="JPY"), ("order.currency_type", "UNSUPPORTED"))
err("super-app requestVirtualPayment in the sandbox", R, {**superapp_vp(), "env": "ENV_SANDBOX"},
    "FAILED_PRECONDITION", "KEY_NOT_CONFIGURED")

invalid("activity price above goods price", R, virtual_payment(activity_selling_price="1001"),
        ("order.activity_selling_price", "OUT_OF_RANGE"))
invalid("coin mode with an item", R,
        virtual_payment(mode="VIRTUAL_PAYMENT_MODE_SHORT_SERIES_COIN", product_id="vip", goods_price="5"),
        ("order.product_id", "NOT_ALLOWED"), ("order.goods_price", "NOT_ALLOWED"))
invalid("virtual payment without attach", R, virtual_payment(attach=""), ("order.attach", "REQUIRED"))
invalid("virtual payment with platform and zone", R, virtual_payment(platform="android", zone_id="1"),
        ("order.platform", "NOT_ALLOWED"), ("order.zone_id", "NOT_ALLOWED"))
invalid("virtual payment in USD", R, virtual_payment(currency_type="USD"), ("order.currency_type", "UNSUPPORTED"))
invalid("attach over 1024 bytes", R, game_item(attach="界" * 342), ("order.attach", "TOO_LONG"))
invalid("attach with a control character", R, game_item(attach="a\u0001b"), ("order.attach", "FORMAT"))
invalid("product id with a newline", R, game_item(product_id="a\nb"), ("order.product_id", "FORMAT"))
invalid(
    "every broken rule is reported at once", R,
    {**game_item(env=None, out_trade_no="_x", buy_quantity="0", goods_price="-1", platform="ios"), "session_key": ""},
    ("env", "REQUIRED"), ("session_key", "REQUIRED"), ("order.goods_price", "OUT_OF_RANGE"),
    ("order.buy_quantity", "REQUIRED"), ("order.out_trade_no", "FORMAT"), ("order.platform", "UNSUPPORTED"),
)

# ---- SignApiCall ------------------------------------------------------------------

A = "SignApiCall"


def api_ok(name, request, app_key, *, key_version=1, env, sig_method=False, pay_sig=None, signature=None):
    pay_sig = pay_sig or openssl_hmac(app_key, f"{request['uri']}&{request['body']}")
    if signature is None:
        signature = openssl_hmac(request["session_key"], request["body"]) if request.get("session_key") else ""
    query = f"pay_sig={pay_sig}" + (f"&signature={signature}" if signature else "")
    if sig_method:
        query += "&sig_method=hmac_sha256"
    ok(name, A, request, pay_sig=pay_sig, signature=signature, query=query, key_version=key_version, env=env)


for vector in VECTORS:
    if vector["kind"] != "api_pay_sig":
        continue
    user = next(u for u in VECTORS if u["kind"] == "user_signature" and u["payload"] == vector["payload"])
    uri = vector["prefix"].removesuffix("&")
    assert vector["key"] == key("mg", "production")
    api_ok(
        f"published vector: {uri}",
        {"app_id": "mg", "env": "ENV_PRODUCTION", "uri": uri, "body": vector["payload"], "session_key": user["key"]},
        vector["key"], env="ENV_PRODUCTION", sig_method=uri.startswith("/wxa/game/"),
        pay_sig=vector["hmac_sha256_hex"], signature=user["hmac_sha256_hex"],
    )

api_ok("env taken from the body picks the sandbox key",
       {"app_id": "mg", "uri": "/wxa/game/pay", "body": '{"openid":"o1","env":1,"amount":10}',
        "session_key": SESSION_KEY},
       key("mg", "sandbox", 2), key_version=2, env="ENV_SANDBOX", sig_method=True)
api_ok("pay_sig-only API without a session key",
       {"app_id": "mp", "env": "ENV_PRODUCTION", "uri": "/xpay/query_order",
        "body": '{"openid":"o1","env":0,"order_id":"mp-order-0001"}'},
       key("mp", "production"), env="ENV_PRODUCTION")
api_ok("body bytes are signed as sent, spaces and newlines included",
       {"app_id": "mp", "env": "ENV_SANDBOX", "uri": "/xpay/notify_provide_goods",
        "body": '{\n  "order_id": "x1",\n  "env": 1\n}'},
       key("mp", "sandbox"), env="ENV_SANDBOX")
api_ok("super app body without env uses its single key",
       {"app_id": "sa", "uri": "/xpay/query_order", "body": '{"order_id":"x1"}'},
       key("sa", "production"), env="ENV_PRODUCTION")

api_ok("a body without env is a production call",
       {"app_id": "mg", "uri": "/xpay/query_order", "body": '{"openid":"o1"}'},
       key("mg", "production"), env="ENV_PRODUCTION")
api_ok("a body without env with ENV_PRODUCTION",
       {"app_id": "mp", "env": "ENV_PRODUCTION", "uri": "/xpay/get_complaint_list",
        "body": '{"begin_date":"2023-01-01","end_date":"2023-01-31","offset":0,"limit":10}'},
       key("mp", "production"), env="ENV_PRODUCTION")
api_ok("WeChat's misspelt bind_transfer_accout signs in the sandbox",
       {"app_id": "mp", "uri": "/xpay/bind_transfer_accout", "body": '{"transfer_account_uid":1,"env":1}'},
       key("mp", "sandbox"), env="ENV_SANDBOX")

BODY = '{"openid":"o1","env":0}'
api = {"app_id": "mg", "env": "ENV_PRODUCTION", "uri": "/xpay/query_order", "body": BODY}
invalid("uri without leading slash", A, {**api, "uri": "xpay/query_order"}, ("uri", "FORMAT"))
invalid("uri with a query string", A, {**api, "uri": "/xpay/query_order?access_token=t"}, ("uri", "FORMAT"))
invalid("uri with scheme and host", A, {**api, "uri": "https://api.weixin.qq.com/xpay/query_order"}, ("uri", "FORMAT"))
invalid("uri with host only", A, {**api, "uri": "//api.weixin.qq.com/xpay/query_order"}, ("uri", "FORMAT"))
invalid("missing uri", A, {**api, "uri": ""}, ("uri", "REQUIRED"))
invalid("body is not JSON", A, {**api, "body": "openid=o1"}, ("body", "FORMAT"))
invalid("body is a JSON array", A, {**api, "body": "[1]"}, ("body", "FORMAT"))
invalid("missing body", A, {**api, "body": ""}, ("body", "REQUIRED"))
invalid("body repeats a key", A, {**api, "body": '{"env":0,"env":1}'}, ("body", "FORMAT"))
invalid("body env as a string", A, {**api, "body": '{"env":"0"}'}, ("body.env", "FORMAT"))
invalid("body env 2", A, {**api, "body": '{"env":2}'}, ("body.env", "FORMAT"))
invalid("body env disagrees with env", A, {**api, "env": "ENV_SANDBOX"}, ("body.env", "MISMATCH"))
invalid("sandbox over a body without env", A, {**api, "env": "ENV_SANDBOX", "body": '{"openid":"o1"}'},
        ("body.env", "MISMATCH"))
invalid("sandbox for an API whose body has no env", A,
        {**api, "app_id": "mp", "env": "ENV_SANDBOX", "uri": "/xpay/download_bill",
         "body": '{"begin_ds":20230801,"end_ds":20230810}'}, ("env", "NOT_ALLOWED"))
invalid("subscription API takes no pay_sig", A,
        {**api, "uri": "/xpay/query_subscribe_contract", "body": '{"openid":"o1"}'}, ("uri", "UNSUPPORTED"))
invalid("user-signature API without session_key", A, {**api, "uri": "/xpay/currency_pay"},
        ("session_key", "REQUIRED"))
invalid("mini-game API without session_key", A, {**api, "uri": "/wxa/game/getbalance"}, ("session_key", "REQUIRED"))
err("body env names a missing key", A, {**api, "app_id": "mg-prod-only", "env": "ENV_UNSPECIFIED",
                                        "body": '{"env":1}'}, "FAILED_PRECONDITION", "KEY_NOT_CONFIGURED")
err("sign API call for an unknown app", A, {**api, "app_id": "nope"}, "NOT_FOUND", "APP_NOT_FOUND")

# ---- VerifySignature ------------------------------------------------------------

V = "VerifySignature"


def verdict(valid: bool, key_version: int = 0, env: str = "ENV_UNSPECIFIED") -> dict:
    return {"valid": valid, "result": "VERIFY_RESULT_VALID" if valid else "VERIFY_RESULT_INVALID",
            "key_version": key_version, "env": env}


for i, vector in enumerate(VECTORS):
    if vector["kind"] == "api_pay_sig":
        request = {"app_id": "mg", "scheme": "SIGNATURE_SCHEME_PAY_SIG", "method": vector["prefix"][:-1],
                   "payload": vector["payload"], "signature": vector["hmac_sha256_hex"]}
        ok(f"published pay_sig vector {i}", V, request, **verdict(True, 1, "ENV_PRODUCTION"))
        flipped = vector["hmac_sha256_hex"][:-1] + ("0" if vector["hmac_sha256_hex"][-1] != "0" else "1")
        ok(f"published pay_sig vector {i}, last digit changed", V, {**request, "signature": flipped},
           **verdict(False, 0, "ENV_PRODUCTION"))
    else:
        request = {"app_id": "mg", "scheme": "SIGNATURE_SCHEME_USER_SIGNATURE", "payload": vector["payload"],
                   "signature": vector["hmac_sha256_hex"], "session_key": vector["key"]}
        ok(f"published user signature vector {i}", V, request, **verdict(True))
        ok(f"published user signature vector {i}, other session key", V,
           {**request, "session_key": "o0q0otL8aEzpcZL/FT9WsQ==" if vector["key"] != "o0q0otL8aEzpcZL/FT9WsQ==" else SESSION_KEY},
           **verdict(False))

SANDBOX_SIGN_DATA = ('{"mode":"goods","offerId":"1450000001","buyQuantity":1,"env":1,"currencyType":"CNY",'
                     '"platform":"android","zoneId":"1","productId":"sword","goodsPrice":600,"outTradeNo":"old-0001"}')
pay = {"app_id": "mg", "scheme": "SIGNATURE_SCHEME_PAY_SIG", "method": GAME_ITEM, "payload": SANDBOX_SIGN_DATA}
ok("older sandbox key version still verifies", V,
   {**pay, "signature": openssl_hmac(key("mg", "sandbox", 1), f"{GAME_ITEM}&{SANDBOX_SIGN_DATA}")},
   **verdict(True, 1, "ENV_SANDBOX"))
ok("newest sandbox key version verifies", V,
   {**pay, "signature": openssl_hmac(key("mg", "sandbox", 2), f"{GAME_ITEM}&{SANDBOX_SIGN_DATA}")},
   **verdict(True, 2, "ENV_SANDBOX"))
ok("signData saying env 1 signed with the production key is invalid", V,
   {**pay, "signature": openssl_hmac(key("mg", "production"), f"{GAME_ITEM}&{SANDBOX_SIGN_DATA}")},
   **verdict(False, 0, "ENV_SANDBOX"))
ok("method is part of the signed bytes", V,
   {**pay, "method": VIRTUAL_PAYMENT,
    "signature": openssl_hmac(key("mg", "sandbox", 2), f"{GAME_ITEM}&{SANDBOX_SIGN_DATA}")},
   **verdict(False, 0, "ENV_SANDBOX"))
ok("payload without env uses the request env", V,
   {"app_id": "sa", "scheme": "SIGNATURE_SCHEME_PAY_SIG", "method": GAME_ITEM, "env": "ENV_PRODUCTION",
    "payload": '{"mode":"goods"}', "signature": openssl_hmac(key("sa", "production"), GAME_ITEM + '&{"mode":"goods"}')},
   **verdict(True, 1, "ENV_PRODUCTION"))

EVENT = "minigame_game_pay_goods_deliver_notify"
for env_value, env_name, event_key, version in ((0, "ENV_PRODUCTION", key("mg", "production"), 1),
                                                (1, "ENV_SANDBOX", key("mg", "sandbox", 2), 2)):
    payload = (f'{{"OpenId":"oUrsf0001","Env":{env_value},"OutTradeNo":"order-0001",'
               '"GoodsInfo":{"ProductId":"sword","Quantity":1,"OrigPrice":600,"ActualPrice":600,"Attach":"x"}}')
    ok(f"PayEventSig, Env {env_value}", V,
       {"app_id": "mg", "scheme": "SIGNATURE_SCHEME_EVENT", "method": EVENT, "payload": payload,
        "signature": openssl_hmac(event_key, f"{EVENT}&{payload}")}, **verdict(True, version, env_name))
    ok(f"PayEventSig, Env {env_value}, other event name", V,
       {"app_id": "mg", "scheme": "SIGNATURE_SCHEME_EVENT", "method": "minigame_coin_deliver_completed",
        "payload": payload, "signature": openssl_hmac(event_key, f"{EVENT}&{payload}")},
       **verdict(False, 0, env_name))

API_BODY = '{"openid":"o1","order_id":"mp-order-0001"}'
api_verify = {"app_id": "mp", "scheme": "SIGNATURE_SCHEME_PAY_SIG", "method": "/xpay/query_order", "payload": API_BODY}
ok("API body without env verifies with the production key", V,
   {**api_verify, "signature": openssl_hmac(key("mp", "production"), f"/xpay/query_order&{API_BODY}")},
   **verdict(True, 1, "ENV_PRODUCTION"))
ok("API body without env signed with the sandbox key is invalid", V,
   {**api_verify, "signature": openssl_hmac(key("mp", "sandbox"), f"/xpay/query_order&{API_BODY}")},
   **verdict(False, 0, "ENV_PRODUCTION"))
SA_PUSH = ('{"OpenId":"oUrsf0001","Env":"0","OutTradeNo":"xxxxxx",'
           '"GoodsInfo":{"ProductId":"testproductId","Quantity":1,"OrigPrice":10,"ActualPrice":10,"Attach":"testdata"}}')
ok("super-app push with Env as a JSON string", V,
   {"app_id": "sa", "scheme": "SIGNATURE_SCHEME_EVENT", "method": EVENT, "payload": SA_PUSH,
    "signature": openssl_hmac(key("sa", "production"), f"{EVENT}&{SA_PUSH}")}, **verdict(True, 1, "ENV_PRODUCTION"))

good_sig = "0" * 64
verify = {**pay, "signature": good_sig}
invalid("uppercase hex signature", V, {**verify, "signature": "A" * 64}, ("signature", "FORMAT"))
invalid("short signature", V, {**verify, "signature": "a" * 63}, ("signature", "FORMAT"))
invalid("non-hex signature", V, {**verify, "signature": "g" * 64}, ("signature", "FORMAT"))
invalid("missing signature", V, {**verify, "signature": ""}, ("signature", "REQUIRED"))
invalid("missing scheme", V, {k: v for k, v in verify.items() if k != "scheme"}, ("scheme", "REQUIRED"))
invalid("pay_sig without method", V, {**verify, "method": ""}, ("method", "REQUIRED"))
invalid("pay_sig method without leading slash", V, {**verify, "method": "xpay/query_user_balance"},
        ("method", "FORMAT"))
invalid("pay_sig env disagrees with payload env", V, {**verify, "env": "ENV_PRODUCTION"},
        ("payload.env", "MISMATCH"))
invalid("payload without env and no env given", V, {**verify, "payload": "not json"}, ("env", "REQUIRED"))
invalid("event payload Env as a string", V,
        {"app_id": "mg", "scheme": "SIGNATURE_SCHEME_EVENT", "method": EVENT, "payload": '{"Env":"0"}',
         "signature": good_sig}, ("payload.Env", "FORMAT"))
invalid("sandbox over an API body without env", V, {**api_verify, "env": "ENV_SANDBOX", "signature": good_sig},
        ("payload.env", "MISMATCH"))
invalid("event name with a slash", V,
        {"app_id": "mg", "scheme": "SIGNATURE_SCHEME_EVENT", "method": "/xpay/x", "payload": '{"Env":0}',
         "signature": good_sig}, ("method", "FORMAT"))
invalid("user signature without session_key", V,
        {"app_id": "mg", "scheme": "SIGNATURE_SCHEME_USER_SIGNATURE", "payload": "{}", "signature": good_sig},
        ("session_key", "REQUIRED"))
invalid("user signature with a method", V,
        {"app_id": "mg", "scheme": "SIGNATURE_SCHEME_USER_SIGNATURE", "payload": "{}", "signature": good_sig,
         "session_key": SESSION_KEY, "method": GAME_ITEM}, ("method", "NOT_ALLOWED"))
err("verify for an unknown app", V, {**verify, "app_id": "nope"}, "NOT_FOUND", "APP_NOT_FOUND")
err("verify sandbox without a sandbox key", V, {**verify, "app_id": "mg-prod-only"}, "FAILED_PRECONDITION",
    "KEY_NOT_CONFIGURED")


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "cases.json"
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    document = {
        "description": "paysig conformance cases; generated by generate.py (openssl and published vectors). "
                       "Run against a server started with config.toml.",
        "cases": cases,
    }
    out.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
