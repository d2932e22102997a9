"""Batch RPCs: each item is answered exactly as the unary call would be."""

import hashlib
import json

import grpc
import pytest

from conformance.runner import CASES, check, request_of
from paysig.client import Client, FieldViolation, PaysigError
from paysig.v1 import signer_pb2 as pb
from support import openssl_hmac, running_server, write_config
from test_security import APPS, TOKEN_A, TOKEN_CALLERS, order


def as_error(item: pb.ItemError) -> PaysigError:
    return PaysigError(grpc.StatusCode[item.code], item.message, item.reason,
                       tuple(FieldViolation(v.field, v.reason, v.description) for v in item.violations))


@pytest.fixture(scope="module")
def client(conformance_port):
    with Client(f"127.0.0.1:{conformance_port}") as c:
        yield c


@pytest.mark.parametrize("rpc, batch", [("SignOrder", "batch_sign_orders"), ("SignApiCall", "batch_sign_api_calls")])
def test_every_conformance_case_as_a_batch_item(client, rpc, batch):
    cases = [c for c in CASES if c["rpc"] == rpc]
    results = getattr(client, batch)([request_of(c) for c in cases])
    assert len(results) == len(cases) > 20
    for case, result in zip(cases, results):
        if result.WhichOneof("outcome") == "error":
            check(case, error=as_error(result.error))
        else:
            check(case, result.response)


def test_batch_size_limits(client):
    with pytest.raises(PaysigError) as info:
        client.batch_sign_orders([])
    assert info.value.violation("requests").reason == "REQUIRED"
    with pytest.raises(PaysigError) as info:
        client.batch_sign_orders([order("mg", f"n{i}") for i in range(1001)])
    assert info.value.violation("requests").reason == "TOO_LONG"


def test_a_full_batch_at_every_field_limit_fits(client):
    attach = '"\\' * 512  # 1024 bytes that JSON escaping doubles, twice
    requests = []
    for i in range(1000):
        r = order("mg", f"full-{i:04d}")
        r.order.attach = attach
        r.order.product_id = "p" * 256
        requests.append(r)
    results = client.batch_sign_orders(requests, timeout=60)
    assert [r.WhichOneof("outcome") for r in results] == ["response"] * 1000
    last = results[-1].response
    assert json.loads(last.sign_data)["outTradeNo"] == "full-0999"
    assert last.pay_sig == openssl_hmac("12345", "requestMidasPaymentGameItem&" + last.sign_data)


def test_items_are_authorized_and_audited_one_by_one(tmp_path):
    audit = tmp_path / "audit.log"
    config = write_config(tmp_path, APPS + TOKEN_CALLERS.replace('rpcs = ["SignOrder", "VerifySignature"]',
                                                                 'rpcs = ["BatchSignOrders"]')
                          + f'\n[audit]\npath = "{audit}"\n')
    with running_server(config) as (_, port), Client(f"127.0.0.1:{port}", token=TOKEN_A,
                                                      allow_token_without_tls=True) as a:
        results = a.batch_sign_orders([order("g1", "b-1"), order("g2", "b-2"), order("g1", "_bad")])
        assert [r.WhichOneof("outcome") for r in results] == ["response", "error", "error"]
        assert (results[1].error.code, results[1].error.reason) == ("PERMISSION_DENIED", "APP_NOT_ALLOWED")
        assert [(v.field, v.reason) for v in results[2].error.violations] == [("order.out_trade_no", "FORMAT")]
        with pytest.raises(PaysigError) as info:
            a.batch_sign_api_calls([pb.SignApiCallRequest(app_id="g1")])
        assert info.value.reason == "RPC_NOT_ALLOWED"
    lines = [json.loads(x) for x in audit.read_text().splitlines()]
    assert [(x["rpc"], x.get("out_trade_no"), x["code"]) for x in lines] == [
        ("BatchSignOrders", "b-1", "OK"), ("BatchSignOrders", "b-2", "PERMISSION_DENIED"),
        ("BatchSignOrders", "_bad", "INVALID_ARGUMENT"), ("BatchSignApiCalls", None, "PERMISSION_DENIED")]
    assert lines[0]["signature_fp"] == hashlib.sha256(results[0].response.pay_sig.encode()).hexdigest()[:16]


def test_rate_limit_charges_every_item(tmp_path):
    config = write_config(tmp_path, APPS + TOKEN_CALLERS + '\n[audit]\npath = "/dev/null"\n')
    from test_security import TOKEN_B

    with running_server(config) as (_, port), Client(f"127.0.0.1:{port}", token=TOKEN_B,
                                                      allow_token_without_tls=True) as b:
        with pytest.raises(PaysigError) as info:
            b.batch_sign_orders([order("g2", f"r{i}") for i in range(3)])  # burst is 2
        assert (info.value.code, info.value.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED")
        assert [r.WhichOneof("outcome") for r in b.batch_sign_orders([order("g2", "r1"), order("g2", "r2")])] == \
            ["response", "response"]
