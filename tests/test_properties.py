"""Property-based: any valid order signs, verifies, and its signData holds exactly the fields given."""

import json
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paysig.v1 import signer_pb2 as pb
from support import openssl_hmac

MAX_SAFE = 2**53 - 1
KEYS = {("mg", 0): "12345", ("mg", 1): "mg-sandbox-key-v2", ("mp", 0): "mp-production-key",
        ("mp", 1): "mp-sandbox-key", ("sa", None): "sa-single-key"}
TRADE_ALPHABET = string.ascii_letters + string.digits + "_-|*@"
text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40)


def out_trade_no(min_size):
    return st.text(TRADE_ALPHABET, min_size=min_size, max_size=32).filter(lambda s: not s.startswith("_"))


@st.composite
def orders(draw):
    kind = draw(st.sampled_from(["mg", "mp-goods", "mp-coin", "sa"]))
    env = draw(st.sampled_from([0, 1]))
    quantity = draw(st.integers(1, MAX_SAFE))
    session_key = draw(st.text(string.ascii_letters + string.digits + "/+=", min_size=1, max_size=40))
    if kind == "mg" or kind == "sa":
        price = draw(st.integers(1, MAX_SAFE))
        order = pb.Order(product_id=draw(text), goods_price=price, buy_quantity=quantity,
                         out_trade_no=draw(out_trade_no(1)), attach=draw(st.one_of(st.just(""), text)))
        expected = {"mode": "goods", "buyQuantity": quantity, "currencyType": "CNY", "platform": "android",
                    "productId": order.product_id, "goodsPrice": price, "outTradeNo": order.out_trade_no}
        if kind == "mg":
            order.zone_id = draw(st.one_of(st.just(""), text.filter(lambda z: len(z.encode()) <= 64)))
            expected |= {"offerId": "1450000001", "env": env, "zoneId": order.zone_id or "1"}
        else:
            order.currency_type = draw(st.sampled_from(["USD", "EUR", "JPY", "CNY"]))
            order.platform = draw(st.sampled_from(["android", "ios"]))
            expected |= {"currencyType": order.currency_type, "platform": order.platform}
            env = None
        if order.attach:
            expected["attach"] = order.attach
        request = pb.SignOrderRequest(app_id=kind, api=pb.PAYMENT_API_GAME_ITEM, order=order, session_key=session_key)
        method = "requestMidasPaymentGameItem"
    else:
        order = pb.Order(buy_quantity=quantity, out_trade_no=draw(out_trade_no(8)), attach=draw(text))
        expected = {"offerId": "1450000002", "buyQuantity": quantity, "env": env, "currencyType": "CNY",
                    "outTradeNo": order.out_trade_no, "attach": order.attach}
        mode = pb.VIRTUAL_PAYMENT_MODE_SHORT_SERIES_COIN
        if kind == "mp-goods":
            mode = pb.VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS
            order.product_id = draw(text)
            order.goods_price = draw(st.integers(1, MAX_SAFE))
            expected |= {"productId": order.product_id, "goodsPrice": order.goods_price}
            if draw(st.booleans()):
                order.activity_selling_price = draw(st.integers(1, order.goods_price))
                expected["activitySellingPrice"] = order.activity_selling_price
        request = pb.SignOrderRequest(app_id="mp", api=pb.PAYMENT_API_VIRTUAL_PAYMENT, mode=mode, order=order,
                                      session_key=session_key)
        method = "requestVirtualPayment"
    if env is not None:
        request.env = pb.ENV_PRODUCTION if env == 0 else pb.ENV_SANDBOX
    return request, expected, KEYS[(request.app_id, env)], method


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=orders())
def test_any_valid_order_signs_verifies_and_round_trips(stub, case):
    request, expected, app_key, method = case
    response = stub.SignOrder(request, timeout=5)
    assert json.loads(response.sign_data) == expected
    assert response.method == method
    assert response.pay_sig == openssl_hmac(app_key, f"{method}&{response.sign_data}")
    verdict = stub.VerifySignature(pb.VerifySignatureRequest(
        app_id=request.app_id, scheme=pb.SIGNATURE_SCHEME_PAY_SIG, method=method, payload=response.sign_data,
        signature=response.pay_sig), timeout=5)
    assert verdict.valid and verdict.result == pb.VERIFY_RESULT_VALID
    user = stub.VerifySignature(pb.VerifySignatureRequest(
        app_id=request.app_id, scheme=pb.SIGNATURE_SCHEME_USER_SIGNATURE, payload=response.sign_data,
        signature=response.signature, session_key=request.session_key), timeout=5)
    assert user.valid
    args = json.loads(response.client_args_json)
    assert (args["signData"], args["paySig"], args["signature"]) == (
        response.sign_data, response.pay_sig, response.signature)
