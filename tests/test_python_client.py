"""paysig.client specifics: typed errors, options, connections (push handlers: test_push_handlers.py)."""

import grpc
import pytest

from paysig.client import Client, PaysigError
from paysig.v1 import signer_pb2 as pb
from paysig.server import create_server, load_config
from support import CONFORMANCE_CONFIG


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
