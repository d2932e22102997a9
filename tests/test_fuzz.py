"""Hostile input. Random requests for every RPC: never INTERNAL or UNKNOWN,
never a signature over data that breaks a rule. Garbage on the wire: the
server keeps serving everybody else."""

import json
import re
import socket
import time

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paysig.v1 import signer_pb2 as pb
from support import signer_stub

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ALLOWED_CODES = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION}
INT64 = st.one_of(st.integers(-2**63, 2**63 - 1), st.sampled_from([0, 1, -1, 2**53, 2**53 - 1, 2**63 - 1, -2**63]))
ENUM = st.integers(-5, 10)
APP = st.sampled_from(["mg", "mp", "sa", "sa-mp", "sa-env", "mg-prod-only", "nope", "", "mg\x00"])
TEXT = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=3000),
    st.sampled_from(["", " ", "_x", "x" * 33, "a\nb", "\x7f", "\u2028", "order-0001", "/xpay/query_order",
                     "{}", '{"env":0}', '{"env":1}', '{"env":0,"env":1}', '{"env":"0"}', "[]", "null", "1e400",
                     '{"Env":1}', '{"Env":"0"}', "0" * 64, "A" * 64, "requestMidasPaymentGameItem",
                     "9hAb/NEYUlkaMBEsmFgzig==", "/xpay/download_bill", "/xpay/query_subscribe_contract",
                     '{"a":' + "[" * 2000 + "]" * 2000 + "}", '{"n":' + "1" * 5000 + "}"]),
)
OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,32}")


@st.composite
def orders(draw):
    order = pb.Order(product_id=draw(TEXT), goods_price=draw(INT64), buy_quantity=draw(INT64),
                     out_trade_no=draw(TEXT), attach=draw(TEXT), currency_type=draw(TEXT), platform=draw(TEXT),
                     zone_id=draw(TEXT))
    if draw(st.booleans()):
        order.activity_selling_price = draw(INT64)
    request = pb.SignOrderRequest(app_id=draw(APP), env=draw(ENUM), api=draw(ENUM), mode=draw(ENUM),
                                  session_key=draw(TEXT))
    if draw(st.booleans()):
        request.order.CopyFrom(order)
    return request


def call(stub, method, request):
    try:
        return getattr(stub, method)(request, timeout=10)
    except grpc.RpcError as error:
        assert error.code() in ALLOWED_CODES, (error.code(), error.details())
        return None


def assert_sign_data_keeps_the_rules(sign_data: str, request: pb.SignOrderRequest) -> None:
    data = json.loads(sign_data)
    assert OUT_TRADE_NO.fullmatch(data["outTradeNo"]) and not data["outTradeNo"].startswith("_")
    assert 1 <= data["buyQuantity"] <= 2**53 - 1
    if "goodsPrice" in data:
        assert 1 <= data["goodsPrice"] <= 2**53 - 1
        assert data.get("activitySellingPrice", 1) <= data["goodsPrice"]
    assert data.get("env", 0) in (0, 1) and data.get("env", 0) == (1 if request.env == pb.ENV_SANDBOX else 0)
    assert all(not re.search("[\x00-\x1f\x7f-\x9f]", v) for v in data.values() if isinstance(v, str))
    assert len(data.get("attach", "").encode()) <= 1024


@FUZZ
@given(request=orders())
def test_fuzz_sign_order(stub, request):
    response = call(stub, "SignOrder", request)
    if response is not None:
        assert_sign_data_keeps_the_rules(response.sign_data, request)


@FUZZ
@given(app_id=APP, env=ENUM, uri=TEXT, body=TEXT, session_key=TEXT)
def test_fuzz_sign_api_call(stub, app_id, env, uri, body, session_key):
    request = pb.SignApiCallRequest(app_id=app_id, env=env, uri=uri, body=body, session_key=session_key)
    response = call(stub, "SignApiCall", request)
    if response is not None:
        assert uri.startswith("/") and "?" not in uri and json.loads(body).get("env", 0) in (0, 1)
        assert re.fullmatch("[0-9a-f]{64}", response.pay_sig)


@FUZZ
@given(app_id=APP, env=ENUM, scheme=ENUM, method=TEXT, payload=TEXT, signature=TEXT, session_key=TEXT)
def test_fuzz_verify_signature(stub, app_id, env, scheme, method, payload, signature, session_key):
    request = pb.VerifySignatureRequest(app_id=app_id, env=env, scheme=scheme, method=method, payload=payload,
                                        signature=signature, session_key=session_key)
    response = call(stub, "VerifySignature", request)
    if response is not None:
        assert response.result in (pb.VERIFY_RESULT_VALID, pb.VERIFY_RESULT_INVALID)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests=st.lists(orders(), min_size=1, max_size=40))
def test_fuzz_batch(stub, requests):
    response = call(stub, "BatchSignOrders", pb.BatchSignOrdersRequest(requests=requests))
    assert response is not None and len(response.results) == len(requests)
    for request, result in zip(requests, response.results):
        if result.WhichOneof("outcome") == "response":
            assert_sign_data_keeps_the_rules(result.response.sign_data, request)
        else:
            assert result.error.code in {c.name for c in ALLOWED_CODES} | {"PERMISSION_DENIED"}


def test_undecodable_request_is_invalid_argument(conformance_port):
    """Bytes that are not a message (here: a string field that is not UTF-8)."""
    raw = pb.SignOrderRequest(app_id="mg").SerializeToString() + b"\x32\x02\xff\xfe"  # session_key = FF FE
    with grpc.insecure_channel(f"127.0.0.1:{conformance_port}") as channel:
        method = channel.unary_unary("/paysig.v1.SignerService/SignOrder", request_serializer=lambda b: b,
                                     response_deserializer=lambda b: b)
        for payload in (raw, b"\xff\xff\xff"):
            with pytest.raises(grpc.RpcError) as info:
                method(payload, timeout=5)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
            assert "paysig.v1.SignOrderRequest" in info.value.details()
    assert healthy(conformance_port)


def healthy(port: int) -> bool:
    with signer_stub(port) as s:
        response = s.VerifySignature(pb.VerifySignatureRequest(
            app_id="mg", scheme=pb.SIGNATURE_SCHEME_USER_SIGNATURE, payload="{}", signature="0" * 64,
            session_key="k"), timeout=5)
        return response.result == pb.VERIFY_RESULT_INVALID


def test_garbage_half_open_and_oversize_leave_others_served(conformance_port):
    port = conformance_port
    garbage = socket.create_connection(("127.0.0.1", port))
    garbage.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)) * 64)
    half_open = socket.create_connection(("127.0.0.1", port))
    half_open.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00")  # a preface, then an unfinished frame
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    try:
        assert healthy(port)
        with signer_stub(port) as s, pytest.raises(grpc.RpcError) as info:
            s.SignApiCall(pb.SignApiCallRequest(app_id="mg", uri="/x", body="x" * (3 * 1024 * 1024)), timeout=10)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        time.sleep(0.2)
        assert healthy(port)
    finally:
        for s in [garbage, half_open, *idle]:
            s.close()
    assert healthy(port)
