"""Error reports are exact (issue 15, Errors): every broken rule at once,
the right rule for each, one violation per problem, and every reason the
server raises is in the README's error table."""

from __future__ import annotations

import re

import pytest

from paysig.server import load_config
from paysig.server.errors import PaysigError
from paysig.server.ops.sign_api_call import sign_api_call
from paysig.server.ops.sign_order import sign_order
from paysig.server.ops.verify_signature import verify_signature
from paysig.v1 import signer_pb2 as pb
from support import CONFORMANCE_CONFIG, REPO

GOOD_SIG = "0" * 64


@pytest.fixture(scope="module")
def config():
    return load_config(CONFORMANCE_CONFIG)


def violations(config, operation, request) -> list[tuple[str, str]]:
    with pytest.raises(PaysigError) as info:
        operation(config, request)
    assert info.value.code.value == "INVALID_ARGUMENT" and info.value.reason == "INVALID_REQUEST"
    assert all(v.description for v in info.value.violations)
    return sorted((v.field, v.rule.value) for v in info.value.violations)


def description(config, operation, request, field: str) -> str:
    with pytest.raises(PaysigError) as info:
        operation(config, request)
    return next(v.description for v in info.value.violations if v.field == field)


def order(app_id="mg", **fields) -> pb.SignOrderRequest:
    request = pb.SignOrderRequest(app_id=app_id, env=pb.ENV_PRODUCTION, api=pb.PAYMENT_API_GAME_ITEM,
                                  session_key="sk", order=pb.Order(product_id="sword", goods_price=600,
                                                                   buy_quantity=1, out_trade_no="order-0001"))
    for name, value in fields.items():
        setattr(request, name, value)
    return request


@pytest.mark.parametrize("api, rule", [(pb.PAYMENT_API_UNSPECIFIED, "REQUIRED"), (9, "FORMAT")])
def test_a_bad_api_does_not_hide_the_other_violations(config, api, rule):
    request = order(api=api, session_key="has space")
    request.order.out_trade_no = "_bad"
    request.order.buy_quantity = 0
    assert violations(config, sign_order, request) == [
        ("api", rule), ("order.buy_quantity", "REQUIRED"), ("order.out_trade_no", "FORMAT"), ("session_key", "FORMAT")]


def test_a_bad_api_still_applies_the_miniprogram_out_trade_no_minimum(config):
    request = order("mp", api=7, env=9)
    request.order.out_trade_no = "short"
    assert violations(config, sign_order, request) == [("api", "FORMAT"), ("env", "FORMAT"),
                                                       ("order.out_trade_no", "FORMAT")]


def vp(mode: int, **order_fields) -> pb.SignOrderRequest:
    return pb.SignOrderRequest(app_id="mp", env=pb.ENV_PRODUCTION, api=pb.PAYMENT_API_VIRTUAL_PAYMENT, mode=mode,
                               session_key="sk", order=pb.Order(product_id="vip", goods_price=1000, buy_quantity=1,
                                                                out_trade_no="mp-order-1", attach="a", **order_fields))


def test_unknown_enum_numbers_are_format(config):
    assert violations(config, sign_order, vp(7)) == [("mode", "FORMAT")]
    assert violations(config, sign_order, vp(0)) == [("mode", "REQUIRED")]
    assert violations(config, sign_order, order(env=7)) == [("env", "FORMAT")]
    verify = pb.VerifySignatureRequest(app_id="mg", scheme=9, payload="{}", signature=GOOD_SIG)
    assert violations(config, verify_signature, verify) == [("scheme", "FORMAT")]
    verify.scheme = 0
    verify.session_key = "k" * 257
    assert violations(config, verify_signature, verify) == [("scheme", "REQUIRED"), ("session_key", "TOO_LONG")]


def test_explicit_zero_activity_price_is_out_of_range(config):
    assert violations(config, sign_order, vp(1, activity_selling_price=0)) == [
        ("order.activity_selling_price", "OUT_OF_RANGE")]
    assert violations(config, sign_order, vp(1, activity_selling_price=-5)) == [
        ("order.activity_selling_price", "OUT_OF_RANGE")]
    assert '"activitySellingPrice"' not in sign_order(config, vp(1)).sign_data
    assert '"activitySellingPrice":1,' in sign_order(config, vp(1, activity_selling_price=1)).sign_data


def pay_sig(payload: str, **fields) -> pb.VerifySignatureRequest:
    return pb.VerifySignatureRequest(**{"app_id": "mg", "scheme": pb.SIGNATURE_SCHEME_PAY_SIG,
                                        "method": "/xpay/query_order", "payload": payload, "signature": GOOD_SIG,
                                        **fields})


def api_call(body: str, **fields) -> pb.SignApiCallRequest:
    return pb.SignApiCallRequest(app_id="mg", uri="/xpay/query_order", body=body, **fields)


@pytest.mark.parametrize("scheme, method", [(pb.SIGNATURE_SCHEME_PAY_SIG, "/xpay/query_order"),
                                            (pb.SIGNATURE_SCHEME_PAY_SIG, "requestMidasPaymentGameItem"),
                                            (pb.SIGNATURE_SCHEME_EVENT, "minigame_game_pay_goods_deliver_notify"),
                                            (pb.SIGNATURE_SCHEME_USER_SIGNATURE, "")])
def test_a_payload_over_64_kib_is_one_violation(config, scheme, method):
    payload = '{"env":0,"pad":"' + "x" * (64 * 1024) + '"}'
    request = pb.VerifySignatureRequest(app_id="mg", scheme=scheme, method=method, payload=payload, signature=GOOD_SIG,
                                        session_key="sk" if scheme == pb.SIGNATURE_SCHEME_USER_SIGNATURE else "")
    assert violations(config, verify_signature, request) == [("payload", "TOO_LONG")]
    assert violations(config, sign_api_call, api_call(payload)) == [("body", "TOO_LONG")]


def test_user_signature_needs_a_payload(config):
    request = pb.VerifySignatureRequest(app_id="mg", scheme=pb.SIGNATURE_SCHEME_USER_SIGNATURE, payload="",
                                        signature=GOOD_SIG, session_key="sk")
    assert violations(config, verify_signature, request) == [("payload", "REQUIRED")]


DEEP = '{"a":' + "[" * 2000 + "]" * 2000 + "}"
LONG_NUMBER = '{"a":' + "1" * 5000 + "}"


@pytest.mark.parametrize("text, words", [(DEEP, "64 deep"), (LONG_NUMBER, "numbers of at most 64 characters"),
                                         ('{"a":-0.' + "5" * 80 + "}", "numbers of at most 64 characters")])
def test_valid_json_over_a_limit_names_the_limit(config, text, words):
    assert violations(config, sign_api_call, api_call(text)) == [("body", "TOO_LONG")]
    assert words in description(config, sign_api_call, api_call(text), "body")
    assert violations(config, verify_signature, pay_sig(text)) == [("payload", "TOO_LONG")]
    assert words in description(config, verify_signature, pay_sig(text), "payload")


def test_json_just_within_the_limits_signs(config):
    within = '{"env":0,"a":' + "[" * 63 + "]" * 63 + ',"n":' + "9" * 64 + ',"s":"' + "[" * 100 + '"}'
    assert sign_api_call(config, api_call(within)).env == pb.ENV_PRODUCTION


def test_over_long_uri_and_session_key_are_too_long(config):
    request = api_call('{"env":0}', session_key="k" * 257)
    request.uri = "/xpay/" + "a" * 251
    assert violations(config, sign_api_call, request) == [("session_key", "TOO_LONG"), ("uri", "TOO_LONG")]
    request.uri = "/xpay/" + "a" * 250
    request.session_key = "k" * 256
    assert sign_api_call(config, request).signature
    assert violations(config, sign_order, order(session_key="k" * 257)) == [("session_key", "TOO_LONG")]
    assert violations(config, verify_signature, pay_sig('{"env":0}', method="/" + "m" * 256)) == [
        ("method", "TOO_LONG")]


def test_every_reason_the_server_raises_is_in_the_readme_error_table():
    source = "\n".join(p.read_text() for p in (REPO / "server" / "paysig" / "server").rglob("*.py"))
    raised = set(re.findall(r'PaysigError\(\s*Code\.(\w+),\s*"([A-Z_]+)"', source))
    assert ("INVALID_ARGUMENT", "MALFORMED_REQUEST") in raised
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Errors"):]
    rows = {(m.group(1), reason) for m in re.finditer(r"^\| `(\w+)` \| ([^|]+) \|", table, re.M)
            for reason in re.findall(r"`(\w+)`", m.group(2))}
    assert raised <= rows
