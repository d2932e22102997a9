"""Who may sign, over what channel, and the audit trail."""

import hashlib
import json
import subprocess
import sys
import textwrap

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from paysig.client import Client, PaysigError
from paysig.server import ConfigError, create_server, load_config
from paysig.server.grpc_server import UnauthenticatedNetworkError
from paysig.v1 import signer_pb2 as pb
from pki import Authority
from support import audit_lines, openssl_hmac, running_server, token_sha256, write_config

TOKEN_A, TOKEN_B = "token-A-0123456789abcdef", "token-B-fedcba9876543210"
SESSION_KEY = "sec-Session-Key-0001"
APPS = """
[[apps]]
app_id = "g1"
kind = "minigame"
offer_id = "1450000001"
[apps.keys]
production = { value = "g1-production-key" }

[[apps]]
app_id = "g2"
kind = "minigame"
offer_id = "1450000002"
[apps.keys]
production = { value = "g2-production-key" }
"""


TOKEN_CALLERS = f"""
[auth]
mode = "token"

[[callers]]
name = "game-a"
token_sha256 = "{token_sha256(TOKEN_A)}"
apps = ["g1"]
rpcs = ["SignOrder", "VerifySignature"]

[[callers]]
name = "game-b"
token_sha256 = "{token_sha256(TOKEN_B)}"
apps = ["g2"]
rate_per_second = 0.001
burst = 2
"""


def order(app_id="g1", out_trade_no="sec-0001") -> pb.SignOrderRequest:
    return pb.SignOrderRequest(app_id=app_id, env=pb.ENV_PRODUCTION, api=pb.PAYMENT_API_GAME_ITEM,
                               session_key=SESSION_KEY, order=pb.Order(product_id="sword", goods_price=600,
                                                                       buy_quantity=1, out_trade_no=out_trade_no))


def expect_error(call, code: grpc.StatusCode, reason: str) -> PaysigError:
    with pytest.raises(PaysigError) as info:
        call()
    assert (info.value.code, info.value.reason) == (code, reason), str(info.value)
    return info.value


@pytest.fixture
def token_server(tmp_path):
    audit = tmp_path / "audit.log"
    config = write_config(tmp_path, APPS + TOKEN_CALLERS + f'\n[audit]\npath = "{audit}"\n')
    with running_server(config) as (_, port):
        yield f"127.0.0.1:{port}", audit


def client(address, token=None, **kw):
    return Client(address, token=token, allow_token_without_tls=True, connections=1, **kw)


def test_token_paths(token_server):
    address, audit = token_server
    with client(address) as anonymous:
        expect_error(lambda: anonymous.sign_order(order()), grpc.StatusCode.UNAUTHENTICATED, "MISSING_CREDENTIALS")
    with client(address, "not-a-valid-token") as wrong:
        expect_error(lambda: wrong.sign_order(order()), grpc.StatusCode.UNAUTHENTICATED, "INVALID_TOKEN")
    with client(address, TOKEN_A) as a:
        expect_error(lambda: a.sign_order(order("g2")), grpc.StatusCode.PERMISSION_DENIED, "APP_NOT_ALLOWED")
        expect_error(lambda: a.sign_api_call(pb.SignApiCallRequest(app_id="g1", uri="/xpay/query_order",
                                                                   body='{"env":0}')),
                     grpc.StatusCode.PERMISSION_DENIED, "RPC_NOT_ALLOWED")
        signed = a.sign_order(order())
        assert signed.pay_sig == openssl_hmac("g1-production-key", "requestMidasPaymentGameItem&" + signed.sign_data)

    lines = audit_lines(audit)
    assert [(line["caller"], line["code"], line.get("reason")) for line in lines] == [
        ("", "UNAUTHENTICATED", "MISSING_CREDENTIALS"),
        ("", "UNAUTHENTICATED", "INVALID_TOKEN"),
        ("game-a", "PERMISSION_DENIED", "APP_NOT_ALLOWED"),
        ("game-a", "PERMISSION_DENIED", "RPC_NOT_ALLOWED"),
        ("game-a", "OK", None),
    ]
    ok = lines[-1]
    assert ok["rpc"] == "SignOrder" and ok["app_id"] == "g1" and ok["env"] == "ENV_PRODUCTION"
    assert ok["api"] == "PAYMENT_API_GAME_ITEM" and ok["out_trade_no"] == "sec-0001" and ok["product_id"] == "sword"
    assert (ok["goods_price"], ok["buy_quantity"], ok["key_version"]) == (600, 1, 1)
    assert ok["signature_fp"] == hashlib.sha256(signed.pay_sig.encode()).hexdigest()[:16]
    assert ok["peer"].startswith("ipv4:127.0.0.1:")
    text = audit.read_text()
    for secret in (TOKEN_A, "not-a-valid-token", SESSION_KEY, "g1-production-key", signed.pay_sig, signed.signature):
        assert secret not in text


def test_health_and_reflection_need_no_credentials(token_server):
    address, _ = token_server
    with grpc.insecure_channel(address) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert status.status == health_pb2.HealthCheckResponse.SERVING
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                              timeout=5)
        names = {s.name for r in responses for s in r.list_services_response.service}
    assert "paysig.v1.SignerService" in names


def test_rate_limit_is_resource_exhausted_with_retry_info(token_server):
    address, audit = token_server
    with client(address, TOKEN_B) as b:
        b.sign_order(order("g2", "rl-0001"))
        b.sign_order(order("g2", "rl-0002"))
        with pytest.raises(grpc.RpcError) as info:
            b.stub.SignOrder(order("g2", "rl-0003"), metadata=(("authorization", f"Bearer {TOKEN_B}"),), timeout=5)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    details = rpc_status.from_call(info.value).details
    retry = [d for d in details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
    assert retry, "no RetryInfo"
    info_msg = error_details_pb2.RetryInfo()
    retry[0].Unpack(info_msg)
    assert info_msg.retry_delay.ToNanoseconds() > 0
    assert audit_lines(audit)[-1]["reason"] == "RATE_LIMITED"


@pytest.fixture
def pki(tmp_path):
    ca = Authority(tmp_path, "paysig-test-ca")
    return {
        "ca": ca,
        "server": ca.issue("server", dns=("localhost",), ips=("127.0.0.1",), server=True),
        "game-a": ca.issue("game-a", dns=("game-a.internal",), server=False),
        "stranger": ca.issue("stranger", server=False),
        "untrusted": Authority(tmp_path, "other-ca").issue("game-a-forged", dns=("game-a.internal",), server=False),
    }


GAME_A_BY_SAN = """
[[callers]]
name = "game-a"
cert_san = "game-a.internal"
apps = ["g1"]
"""


def mtls_config(tmp_path, pki, callers: str = GAME_A_BY_SAN):
    """APPS behind mtls with the pki's server certificate and CA, audit in tmp_path, and ``callers``."""
    return write_config(tmp_path, APPS + f"""
[auth]
mode = "mtls"
[tls]
cert_file = "{pki['server'].cert}"
key_file = "{pki['server'].key}"
client_ca_file = "{pki['ca'].cert_path}"
[audit]
path = "{tmp_path / 'audit.log'}"
""" + callers)


def tls_client(address, pki, identity=None, **kw):
    creds = grpc.ssl_channel_credentials(
        root_certificates=pki["ca"].cert_pem,
        private_key=pki[identity].key_pem if identity else None,
        certificate_chain=pki[identity].cert_pem if identity else None)
    return Client(address, tls=creds, connections=1, timeout=5, **kw)


def test_mtls_paths(tmp_path, pki):
    with running_server(mtls_config(tmp_path, pki)) as (_, port):
        address = f"localhost:{port}"
        with tls_client(address, pki, "game-a") as a:
            signed = a.sign_order(order())
            assert signed.pay_sig == openssl_hmac("g1-production-key",
                                                  "requestMidasPaymentGameItem&" + signed.sign_data)
            expect_error(lambda: a.sign_order(order("g2")), grpc.StatusCode.PERMISSION_DENIED, "APP_NOT_ALLOWED")
        with tls_client(address, pki, "stranger") as s:
            expect_error(lambda: s.sign_order(order()), grpc.StatusCode.UNAUTHENTICATED, "UNKNOWN_CLIENT_CERTIFICATE")
        for identity in ("untrusted", None):
            with tls_client(address, pki, identity) as c:
                error = expect_error(lambda: c.sign_order(order()), grpc.StatusCode.UNAVAILABLE, "")
                assert error.reason == ""
        with client(f"127.0.0.1:{port}") as plaintext:
            expect_error(lambda: plaintext.sign_order(order()), grpc.StatusCode.UNAVAILABLE, "")
    callers = [(line["caller"], line["code"]) for line in audit_lines(tmp_path / "audit.log")]
    assert callers == [("game-a", "OK"), ("game-a", "PERMISSION_DENIED"), ("", "UNAUTHENTICATED")]


def test_tls_with_tokens(tmp_path, pki):
    config = write_config(tmp_path, APPS + TOKEN_CALLERS + f"""
[tls]
cert_file = "{pki['server'].cert}"
key_file = "{pki['server'].key}"
""")
    with running_server(config) as (_, port):
        with Client(f"localhost:{port}", tls=grpc.ssl_channel_credentials(pki["ca"].cert_pem), token=TOKEN_A) as a:
            assert a.sign_order(order()).key_version == 1
        with Client(f"localhost:{port}", tls=grpc.ssl_channel_credentials(pki["ca"].cert_pem)) as anonymous:
            expect_error(lambda: anonymous.sign_order(order()), grpc.StatusCode.UNAUTHENTICATED,
                         "MISSING_CREDENTIALS")


def test_tls_key_file_readable_by_others_is_refused(tmp_path, pki):
    pki["server"].key.chmod(0o644)
    with pytest.raises(ConfigError, match=r"tls: key_file: .* is accessible by group or others"):
        load_config(mtls_config(tmp_path, pki))


@pytest.mark.parametrize("fail_closed, outcome", [(True, "UNAVAILABLE"), (False, "OK")])
def test_audit_write_failure(tmp_path, fail_closed, outcome):
    config = write_config(tmp_path, APPS + f'[audit]\npath = "/dev/full"\nfail_closed = {str(fail_closed).lower()}\n')
    with running_server(config) as (_, port), client(f"127.0.0.1:{port}") as c:
        batch = [order(out_trade_no="sec-0002"), order(app_id="nope")]  # one item each path
        if fail_closed:
            error = expect_error(lambda: c.sign_order(order()), grpc.StatusCode.UNAVAILABLE, "AUDIT_UNAVAILABLE")
            assert "nothing was signed" in error.message
            expect_error(lambda: c.batch_sign_orders(batch), grpc.StatusCode.UNAVAILABLE, "AUDIT_UNAVAILABLE")
        else:
            assert c.sign_order(order()).pay_sig
            assert [r.WhichOneof("outcome") for r in c.batch_sign_orders(batch)] == ["response", "error"]


def test_audit_path_that_cannot_be_opened_fails_at_start(tmp_path):
    config = write_config(tmp_path, APPS + f'[audit]\npath = "{tmp_path}/missing/dir/audit.log"\n')
    with pytest.raises(ConfigError, match=r"paysig\.toml: audit: path: cannot open .*missing/dir/audit\.log"):
        create_server("127.0.0.1:0", load_config(config))


def test_no_auth_is_refused_off_loopback(tmp_path):
    config = load_config(write_config(tmp_path, APPS))
    for address in ("0.0.0.0:0", "[::]:0", "10.1.2.3:0"):
        with pytest.raises(UnauthenticatedNetworkError, match="auth.mode = \"none\""):
            create_server(address, config)
    server, _ = create_server("0.0.0.0:0", config, allow_unauthenticated_network=True)
    server.stop(0)
    result = subprocess.run([sys.executable, "-m", "paysig", "serve", "--config", str(tmp_path / "paysig.toml"),
                             "--listen", "0.0.0.0:0"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "--insecure-allow-unauthenticated-network" in result.stderr


@pytest.mark.parametrize("text, expected", [
    ('[auth]\nmode = "magic"\n', "auth.mode: must be one of none, token, mtls"),
    ('[auth]\nmode = "token"\n', "callers: at least one [[callers]] table is required"),
    ('[[callers]]\nname = "x"\napps = ["g1"]\n', "callers: only used with auth.mode"),
    ('[auth]\nmode = "token"\n[[callers]]\nname = "x"\ntoken_sha256 = "ABC"\napps = ["g1"]\n',
     "callers[0] (x): token_sha256: required, 64 lowercase hex"),
    (f'[auth]\nmode = "token"\n[[callers]]\nname = "x"\ntoken_sha256 = "{token_sha256("t")}"\napps = ["nope"]\n',
     "callers[0] (x): apps: 'nope' is not a configured app_id"),
    (f'[auth]\nmode = "token"\n[[callers]]\nname = "x"\ntoken_sha256 = "{token_sha256("t")}"\napps = ["g1"]\nrpcs = ["Sign"]\n',
     "callers[0] (x): rpcs: a non-empty array of"),
    ('[auth]\nmode = "mtls"\n[[callers]]\nname = "x"\ncert_san = "x"\napps = ["g1"]\n',
     "tls.client_ca_file: required with auth.mode = \"mtls\""),
    ('[audit]\nfail_closed = "yes"\n', "audit: fail_closed: true or false"),
])
def test_bad_security_config(tmp_path, text, expected):
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, APPS + text))
    assert expected in str(info.value)


def test_token_command_makes_a_working_caller(tmp_path):
    result = subprocess.run([sys.executable, "-m", "paysig", "token", "--name", "game-c", "--app", "g1",
                             "--rpc", "SignOrder"], capture_output=True, text=True, timeout=30, check=True)
    token = result.stdout.split("\n")[1].strip()
    entry = result.stdout.split("config:\n", 1)[1]
    assert f'token_sha256 = "{token_sha256(token)}"' in entry
    config = write_config(tmp_path, APPS + '[auth]\nmode = "token"\n' + textwrap.dedent(entry))
    with running_server(config) as (_, port), client(f"127.0.0.1:{port}", token) as c:
        assert c.sign_order(order()).key_version == 1
        expect_error(lambda: c.verify_signature(pb.VerifySignatureRequest(app_id="g1")),
                     grpc.StatusCode.PERMISSION_DENIED, "RPC_NOT_ALLOWED")


def test_audit_command_answers_who_signed_an_order(token_server):
    address, audit = token_server
    with client(address, TOKEN_A) as a:
        a.sign_order(order(out_trade_no="who-0001"))
        a.sign_order(order(out_trade_no="who-0002"))
    result = subprocess.run([sys.executable, "-m", "paysig", "audit", "--file", str(audit), "--out-trade-no",
                             "who-0002"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    [line] = [json.loads(x) for x in result.stdout.splitlines()]
    assert (line["caller"], line["out_trade_no"], line["code"]) == ("game-a", "who-0002", "OK")
    missing = subprocess.run([sys.executable, "-m", "paysig", "audit", "--file", str(audit), "--out-trade-no",
                              "never"], capture_output=True, text=True, timeout=30)
    assert missing.returncode == 1 and missing.stdout == ""


@pytest.mark.parametrize("rate", ["1e-300", "1e-15"])
def test_a_tiny_rate_is_refused_with_a_retry_delay_not_a_crash(tmp_path, rate):
    """A caller's next token can be further away than a google.rpc.Duration
    reaches (about 10,000 years): the refusal still is RESOURCE_EXHAUSTED,
    its RetryInfo capped, its audit line written."""
    audit = tmp_path / "audit.log"
    callers = TOKEN_CALLERS.replace("rate_per_second = 0.001", f"rate_per_second = {rate}").replace(
        "burst = 2", "burst = 1")
    config = write_config(tmp_path, APPS + callers + f'\n[audit]\npath = "{audit}"\n')
    with running_server(config) as (_, port), client(f"127.0.0.1:{port}", TOKEN_B) as b:
        assert b.sign_order(order("g2", "tiny-0001")).key_version == 1
        error = expect_error(lambda: b.sign_order(order("g2", "tiny-0002")), grpc.StatusCode.RESOURCE_EXHAUSTED,
                             "RATE_LIMITED")
        assert error.retry_delay is not None and 3.1e11 <= error.retry_delay <= 315_576_000_000
    assert [(line["out_trade_no"], line["code"]) for line in audit_lines(audit)] == [
        ("tiny-0001", "OK"), ("tiny-0002", "RESOURCE_EXHAUSTED")]
