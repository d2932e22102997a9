"""The running server: key selection, rotation across reloads, drain, internal errors."""

import threading
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from paysig.server import Config
from paysig.server.config import parse_config
from paysig.v1 import signer_pb2 as pb
from support import error_details, openssl_hmac, running_server, signer_stub

SESSION_KEY = "9hAb/NEYUlkaMBEsmFgzig=="
ORDER = pb.Order(product_id="sword", goods_price=600, buy_quantity=1, out_trade_no="rot-0001")


def config_with(production_versions: dict[int, str], sandbox: str = "sb-key") -> Config:
    return parse_config(
        {"apps": [{"app_id": "g", "kind": "minigame", "offer_id": "1450000001",
                   "keys": {"production": [{"version": n, "value": k} for n, k in production_versions.items()],
                            "sandbox": {"value": sandbox}}}]},
        source="test", base_dir=Path("."),
    )


def sign(stub, env=pb.ENV_PRODUCTION):
    return stub.SignOrder(pb.SignOrderRequest(app_id="g", env=env, api=pb.PAYMENT_API_GAME_ITEM, order=ORDER,
                                              session_key=SESSION_KEY), timeout=5)


def verify(stub, sign_data, pay_sig):
    return stub.VerifySignature(pb.VerifySignatureRequest(
        app_id="g", scheme=pb.SIGNATURE_SCHEME_PAY_SIG, method="requestMidasPaymentGameItem",
        payload=sign_data, signature=pay_sig), timeout=5)


def test_env_picks_key_and_env_in_sign_data():
    with running_server(config_with({1: "prod-key"}, sandbox="sb-key")) as (_, port), signer_stub(port) as stub:
        for env, key, number in ((pb.ENV_PRODUCTION, "prod-key", 0), (pb.ENV_SANDBOX, "sb-key", 1)):
            response = sign(stub, env)
            assert f'"env":{number},' in response.sign_data
            assert response.pay_sig == openssl_hmac(key, "requestMidasPaymentGameItem&" + response.sign_data)
            assert response.signature == openssl_hmac(SESSION_KEY, response.sign_data)


def test_rotation_add_sign_with_new_verify_old_then_remove():
    with running_server(config_with({1: "key-v1"})) as (server, port), signer_stub(port) as stub:
        old = sign(stub)
        assert old.key_version == 1
        assert old.pay_sig == openssl_hmac("key-v1", "requestMidasPaymentGameItem&" + old.sign_data)

        server.reload(config_with({2: "key-v2", 1: "key-v1"}))
        new = sign(stub)
        assert new.key_version == 2
        assert new.pay_sig == openssl_hmac("key-v2", "requestMidasPaymentGameItem&" + new.sign_data)
        assert verify(stub, old.sign_data, old.pay_sig).key_version == 1
        assert verify(stub, new.sign_data, new.pay_sig).key_version == 2

        server.reload(config_with({2: "key-v2"}))
        gone = verify(stub, old.sign_data, old.pay_sig)
        assert (gone.valid, gone.result, gone.key_version) == (False, pb.VERIFY_RESULT_INVALID, 0)
        assert verify(stub, new.sign_data, new.pay_sig).valid


class _Hold(grpc.ServerInterceptor):
    """Holds SignOrder calls until released, to have a call in flight."""

    def __init__(self):
        self.entered = threading.Event()
        self.release = threading.Event()

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if not details.method.endswith("/SignOrder"):
            return handler

        def held(request, context):
            self.entered.set()
            self.release.wait(10)
            return handler.unary_unary(request, context)

        return grpc.unary_unary_rpc_method_handler(
            held, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)


def test_stop_drains_in_flight_calls_and_refuses_new_ones():
    from paysig.server import create_server

    hold = _Hold()
    server, port = create_server("127.0.0.1:0", config_with({1: "k"}), interceptors=[hold])
    server.start()
    with signer_stub(port) as stub, grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        future = stub.SignOrder.future(pb.SignOrderRequest(
            app_id="g", env=pb.ENV_PRODUCTION, api=pb.PAYMENT_API_GAME_ITEM, order=ORDER, session_key=SESSION_KEY),
            timeout=10)
        assert hold.entered.wait(5)
        stopper = threading.Thread(target=server.stop, args=(8,))
        stopper.start()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                status = health.Check(health_pb2.HealthCheckRequest(service="paysig.v1.SignerService"), timeout=1)
            except grpc.RpcError:
                break  # the listener is already closed: new calls are refused
            if status.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                break
            time.sleep(0.01)
        with pytest.raises(grpc.RpcError) as refused:
            health.Check(health_pb2.HealthCheckRequest(), timeout=2)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        hold.release.set()
        response = future.result()
        assert response.pay_sig == openssl_hmac("k", "requestMidasPaymentGameItem&" + response.sign_data)
        stopper.join(10)
        assert not stopper.is_alive()


class _ExplodingApps(dict):
    def get(self, key, default=None):
        raise RuntimeError("boom with sensitive detail sk=9hAb")


def test_unexpected_failure_is_internal_without_details(caplog):
    config = Config(source="test", apps=_ExplodingApps())
    with running_server(config) as (_, port), signer_stub(port) as stub:
        with pytest.raises(grpc.RpcError) as info:
            sign(stub)
    assert info.value.code() == grpc.StatusCode.INTERNAL
    assert info.value.details() == "internal error"
    assert "sk=9hAb" not in caplog.text


def test_errors_never_echo_secrets(stub):
    secret_session = "SeSsIoN-KeY-with space"
    with pytest.raises(grpc.RpcError) as info:
        stub.SignOrder(pb.SignOrderRequest(app_id="mg", env=pb.ENV_PRODUCTION, api=pb.PAYMENT_API_GAME_ITEM,
                                           order=ORDER, session_key=secret_session), timeout=5)
    code, reason, violations, message = error_details(info.value)
    assert (code, violations) == ("INVALID_ARGUMENT", [("session_key", "FORMAT")])
    assert secret_session not in message and "SeSsIoN" not in str(info.value.trailing_metadata())
