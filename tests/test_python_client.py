"""paysig.client specifics: typed errors, request ids, options, connections (push handlers: test_push_handlers.py)."""

import asyncio
import json

import grpc
import pytest

from google.rpc import error_details_pb2

from paysig.client import AsyncClient, CallInfo, Client, PaysigError
from paysig.v1 import signer_pb2 as pb
from paysig.server import create_server, load_config
from support import CONFORMANCE_CONFIG, running_server, token_sha256


@pytest.fixture(scope="module")
def client(conformance_port):
    with Client(f"127.0.0.1:{conformance_port}", connections=3) as c:
        yield c


def test_server_errors_are_typed(client):
    with pytest.raises(PaysigError) as info:
        client.sign_api_call(pb.SignApiCallRequest(app_id="mg", env=pb.ENV_SANDBOX, uri="/xpay/query_order",
                                                   body='{"env":0}'))
    error = info.value
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")
    assert error.violation("body.env").reason == "MISMATCH"
    with pytest.raises(PaysigError) as info:
        client.sign_api_call(pb.SignApiCallRequest(app_id="nope"))
    assert (info.value.code, info.value.reason) == (grpc.StatusCode.NOT_FOUND, "APP_NOT_FOUND")


def test_unreachable_server_is_unavailable_without_reason():
    with Client("127.0.0.1:1", connections=1, timeout=1) as c, pytest.raises(PaysigError) as info:
        c.verify_signature(pb.VerifySignatureRequest(app_id="mg"))
    assert info.value.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    assert info.value.reason == ""


def test_options_are_checked():
    with pytest.raises(ValueError):
        Client("127.0.0.1:1", connections=0)
    with pytest.raises(ValueError):
        Client("127.0.0.1:1", token="t")
    Client("127.0.0.1:1", token="t", allow_token_without_tls=True).close()


class _RecordPeers(grpc.ServerInterceptor):
    """Records the client address of every call: one per connection."""

    def __init__(self):
        self.peers = []

    def intercept_service(self, continuation, details):
        handler = continuation(details)

        def record(request, context):
            self.peers.append(context.peer())
            return handler.unary_unary(request, context)

        return grpc.unary_unary_rpc_method_handler(record, handler.request_deserializer, handler.response_serializer)


def test_calls_are_spread_over_distinct_connections():
    recorder = _RecordPeers()
    server, port = create_server("127.0.0.1:0", load_config(CONFORMANCE_CONFIG), interceptors=[recorder])
    server.start()
    try:
        with Client(f"127.0.0.1:{port}", connections=3) as c:
            for _ in range(6):
                c.verify_signature(pb.VerifySignatureRequest(
                    app_id="mg", scheme=pb.SIGNATURE_SCHEME_USER_SIGNATURE, payload="{}", signature="0" * 64,
                    session_key="k"))
    finally:
        server.stop(1)
    assert len(recorder.peers) == 6
    assert len(set(recorder.peers)) == 3


TOKEN = "py-client-token-0123456789"


@pytest.fixture
def limited_server(tmp_path):
    """A token server whose caller may make one call an hour; yields (address, audit path)."""
    audit = tmp_path / "audit.log"
    config = tmp_path / "paysig.toml"
    config.write_text(CONFORMANCE_CONFIG.read_text() + f"""
[auth]
mode = "token"

[audit]
path = "{audit}"

[[callers]]
name = "py-test"
token_sha256 = "{token_sha256(TOKEN)}"
apps = ["mg"]
rate_per_second = 0.0003
burst = 1
""")
    with running_server(config) as (_, port):
        yield f"127.0.0.1:{port}", audit


def order(out_trade_no: str) -> pb.SignOrderRequest:
    return pb.SignOrderRequest(app_id="mg", env=pb.ENV_PRODUCTION, api=pb.PAYMENT_API_GAME_ITEM,
                               session_key="9hAb/NEYUlkaMBEsmFgzig==",
                               order=pb.Order(product_id="sword", goods_price=600, buy_quantity=1,
                                              out_trade_no=out_trade_no))


def audit_ids(path) -> dict[str, str]:
    return {line["out_trade_no"]: line["request_id"]
            for line in map(json.loads, path.read_text().splitlines())}


def check_rate_limited(error: PaysigError, failed: CallInfo, succeeded: CallInfo, audit) -> None:
    assert (error.code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED")
    retry = [d for d in error.status.details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
    assert len(retry) == 1
    sent = error_details_pb2.RetryInfo()
    retry[0].Unpack(sent)
    # One token at 0.0003/s takes 3,333 s (times the workers sharing the rate).
    assert error.retry_delay == sent.retry_delay.ToNanoseconds() / 1e9 and error.retry_delay >= 3000
    assert succeeded.request_id and succeeded.request_id == audit_ids(audit)["pyrid-0001"]
    assert error.request_id and error.request_id == failed.request_id != succeeded.request_id
    assert f"[request id {error.request_id}]" in str(error)


def test_request_id_and_retry_delay(limited_server):
    address, audit = limited_server
    with Client(address, token=TOKEN, allow_token_without_tls=True, connections=1) as c:
        succeeded, failed = CallInfo(), CallInfo()
        c.sign_order(order("pyrid-0001"), info=succeeded)
        with pytest.raises(PaysigError) as raised:
            c.sign_order(order("pyrid-0002"), info=failed)
    check_rate_limited(raised.value, failed, succeeded, audit)


def test_request_id_and_retry_delay_async(limited_server):
    address, audit = limited_server

    async def main():
        async with AsyncClient(address, token=TOKEN, allow_token_without_tls=True, connections=1) as c:
            succeeded, failed = CallInfo(), CallInfo()
            await c.sign_order(order("pyrid-0001"), info=succeeded)
            with pytest.raises(PaysigError) as raised:
                await c.sign_order(order("pyrid-0002"), info=failed)
        return raised.value, failed, succeeded

    check_rate_limited(*asyncio.run(main()), audit)


def test_errors_without_retry_info_or_server(client):
    info = CallInfo()
    with pytest.raises(PaysigError) as raised:
        client.batch_sign_orders([], info=info)
    assert raised.value.request_id == info.request_id != ""
    assert raised.value.retry_delay is None and raised.value.status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    with Client("127.0.0.1:1", connections=1, timeout=1) as c, pytest.raises(PaysigError) as raised:
        c.sign_order(order("pyrid-0003"), info=info)
    assert (raised.value.request_id, info.request_id, raised.value.status) == ("", "", None)
