"""`paysig serve` as an operator runs it: start-up, grpcurl, SIGTERM, bad config."""

import json
import os
import subprocess
import sys

import pytest

from support import CONFORMANCE_CONFIG, REPO, ServerProcess, openssl_hmac

GRPCURL = os.environ.get("PAYSIG_GRPCURL", str(REPO / ".tools" / "bin" / "grpcurl"))
SESSION_KEY = "cli-Session-Key-0001"
ORDER = {"app_id": "mg", "env": "ENV_SANDBOX", "api": "PAYMENT_API_GAME_ITEM", "session_key": SESSION_KEY,
         "order": {"product_id": "sword", "goods_price": 600, "buy_quantity": 1, "out_trade_no": "cli-0001"}}


@pytest.fixture(scope="module")
def server():
    s = ServerProcess(CONFORMANCE_CONFIG)
    yield s
    if s.proc.poll() is None:
        s.stop()


def grpcurl(*args, data=None):
    if not os.path.exists(GRPCURL):
        pytest.fail(f"grpcurl not found at {GRPCURL}: run the tests with `make test`, which installs it")
    command = [GRPCURL, "-plaintext"] + (["-d", json.dumps(data)] if data is not None else []) + list(args)
    return subprocess.run(command, capture_output=True, text=True, timeout=30)


def test_grpcurl_lists_and_describes_without_proto_files(server):
    listed = grpcurl(server.address, "list")
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) >= {"paysig.v1.SignerService", "grpc.health.v1.Health"}
    described = grpcurl(server.address, "describe", "paysig.v1.SignOrderRequest")
    assert described.returncode == 0 and "session_key" in described.stdout


def test_grpcurl_health(server):
    for service in ("", "paysig.v1.SignerService"):
        result = grpcurl(server.address, "grpc.health.v1.Health/Check", data={"service": service})
        assert json.loads(result.stdout) == {"status": "SERVING"}


def test_grpcurl_sign_then_verify(server):
    result = grpcurl(server.address, "paysig.v1.SignerService/SignOrder", data=ORDER)
    assert result.returncode == 0, result.stderr
    signed = json.loads(result.stdout)
    assert signed["sign_data"] == ('{"mode":"goods","offerId":"1450000001","buyQuantity":1,"env":1,'
                                   '"currencyType":"CNY","platform":"android","zoneId":"1","productId":"sword",'
                                   '"goodsPrice":600,"outTradeNo":"cli-0001"}')
    assert signed["pay_sig"] == openssl_hmac("mg-sandbox-key-v2", "requestMidasPaymentGameItem&" + signed["sign_data"])
    assert signed["key_version"] == 2 and signed["env"] == "ENV_SANDBOX"
    verify = grpcurl(server.address, "paysig.v1.SignerService/VerifySignature", data={
        "app_id": "mg", "scheme": "SIGNATURE_SCHEME_PAY_SIG", "method": signed["method"],
        "payload": signed["sign_data"], "signature": signed["pay_sig"]})
    assert json.loads(verify.stdout)["result"] == "VERIFY_RESULT_VALID"


def test_grpcurl_shows_rich_error(server):
    result = grpcurl(server.address, "paysig.v1.SignerService/SignApiCall", data={
        "app_id": "mg", "env": "ENV_PRODUCTION", "uri": "xpay/query_order", "body": "{}"})
    assert result.returncode != 0
    assert "Code: InvalidArgument" in result.stderr
    assert '"field": "uri"' in result.stderr and "google.rpc.BadRequest" in result.stderr
    assert '"reason": "INVALID_REQUEST"' in result.stderr


def test_sigterm_drains_and_exits_zero_and_logs_hold_no_secrets():
    s = ServerProcess(CONFORMANCE_CONFIG)
    assert grpcurl(s.address, "paysig.v1.SignerService/SignOrder", data=ORDER).returncode == 0
    assert s.stop() == 0
    events = [json.loads(line) for line in s.stderr if line.strip()]
    assert events[0]["event"] == "serving" and events[-1] == {**events[-1], "event": "stopped", "clean": True}
    for pid in events[0]["pids"]:
        assert [e["event"] for e in events if e.get("pid") == pid] == ["draining", "stopped"]
    log = "".join(s.stderr + s.stdout)
    for secret in ("12345", "mg-sandbox-key", "mp-production-key", "sa-single-key", SESSION_KEY):
        assert secret not in log


def test_bad_config_fails_at_start_naming_file_app_and_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[apps]]\napp_id = "g"\nkind = "minigame"\n[apps.keys]\nproduction = { value = "k" }\n')
    result = subprocess.run([sys.executable, "-m", "paysig", "serve", "--config", str(bad), "--listen",
                             "127.0.0.1:0"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert f"config error: {bad}: apps[0] (g): offer_id: required" in result.stderr


def test_health_command(server):
    ok = subprocess.run([sys.executable, "-m", "paysig", "health", server.address], capture_output=True, text=True,
                        timeout=30)
    assert (ok.returncode, ok.stdout.strip()) == (0, "SERVING")
    down = subprocess.run([sys.executable, "-m", "paysig", "health", "127.0.0.1:1", "--timeout", "1"],
                          capture_output=True, text=True, timeout=30)
    assert down.returncode == 1 and "UNAVAILABLE" in down.stderr


@pytest.mark.parametrize("option, value", [("--listen", "localhost:abc"), ("--listen", "nohost"),
                                           ("--listen", "0.0.0.0:99999"), ("--listen", "[::1:50051"),
                                           ("--metrics-listen", "9090"), ("--health-listen", ":8081")])
def test_a_bad_address_is_named_without_a_traceback(option, value):
    args = ["--listen", "127.0.0.1:0"] if option != "--listen" else []
    result = subprocess.run([sys.executable, "-m", "paysig", "serve", "--config", str(CONFORMANCE_CONFIG), *args,
                             option, value], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith(f"paysig: {option}: bad address {value!r}: expected HOST:PORT"), result.stderr
    assert "Traceback" not in result.stderr and "refusing" not in result.stderr


def test_addresses_are_parsed_in_one_place():
    from paysig.server.access import is_loopback
    from paysig.server.address import Address, AddressError, parse_address

    assert parse_address("127.0.0.1:50051") == Address("127.0.0.1", 50051)
    assert parse_address("[::1]:0") == Address("::1", 0) and str(Address("::1", 0)) == "[::1]:0"
    assert parse_address("paysig.default.svc:443").host == "paysig.default.svc"
    assert parse_address("localhost:1").is_loopback and parse_address("[::1]:1").is_loopback
    assert not parse_address("0.0.0.0:1").is_loopback and not parse_address("[::]:1").is_loopback
    assert is_loopback("127.0.0.2:5") and not is_loopback("10.0.0.1:5")
    for bad in ("", ":1", "host:", "host:-1", "host:65536", "[127.0.0.1]:1", "::1:50051", "a b:1", "host:١٢"):
        with pytest.raises(AddressError):
            parse_address(bad)
    sources = [p for p in (REPO / "server" / "paysig").rglob("*.py") if p.name != "address.py"]
    for path in sources:
        text = path.read_text()
        assert 'rpartition(":")' not in text and 'rsplit(":"' not in text, f"{path} parses an address itself"
