"""DiagnoseSignature against the real server: every finding is reproduced by a
signature the test makes itself (hashlib's HMAC or the openssl CLI, never
paysig's signing code) from the keys of tests/conformance/config.toml."""

import hashlib
import hmac
import json

import pytest

from paysig.client import Client, PaysigError
from paysig.v1 import signer_pb2 as pb
from support import CONFORMANCE_CONFIG, hex_hmac as mac, openssl_hmac, running_server, token_sha256

MG_PROD, MG_SANDBOX_V2, MG_SANDBOX_V1 = "12345", "mg-sandbox-key-v2", "mg-sandbox-key-v1"
MP_PROD, MP_SANDBOX = "mp-production-key", "mp-sandbox-key"
SESSION_KEY = "diag-Session-Key/0001"
GAME = "requestMidasPaymentGameItem"
VIRTUAL = "requestVirtualPayment"
MG_DATA = ('{"mode":"goods","offerId":"1450000001","buyQuantity":1,"env":0,"currencyType":"CNY",'
           '"platform":"android","zoneId":"1","productId":"sword","goodsPrice":600,"outTradeNo":"diag-0001",'
           '"attach":"a/b"}')
MG_DATA_SANDBOX = MG_DATA.replace('"env":0', '"env":1')
MP_DATA = ('{"offerId":"1450000002","buyQuantity":1,"env":0,"currencyType":"CNY","productId":"gem",'
           '"goodsPrice":100,"outTradeNo":"diag-0002x","attach":"x"}')
BALANCE_BODY = '{"openid":"o-1","env":0,"user_ip":"127.0.0.1"}'


@pytest.fixture(scope="module")
def client():
    with running_server(CONFORMANCE_CONFIG) as (_, port):
        with Client(f"127.0.0.1:{port}", connections=1, timeout=20) as c:
            yield c


def diagnose(client, app_id="mg", scheme=pb.SIGNATURE_SCHEME_PAY_SIG, **fields) -> pb.DiagnoseSignatureResponse:
    return client.diagnose_signature(pb.DiagnoseSignatureRequest(app_id=app_id, scheme=scheme, **fields))


def codes(response) -> list[str]:
    return [f.code for f in response.findings]


def finding(response, code) -> pb.DiagnosisFinding:
    found = [f for f in response.findings if f.code == code]
    assert found, f"no {code} in {codes(response)}"
    assert found[0].message
    return found[0]


def test_valid_with_the_meaning_of_the_error_code(client):
    r = diagnose(client, method=GAME, payload=MG_DATA, signature=openssl_hmac(MG_PROD, f"{GAME}&{MG_DATA}"),
                 wechat_error_code=-15014)
    assert r.verdict == pb.DIAGNOSIS_VERDICT_VALID
    assert codes(r) == []
    assert "-15014" in r.error_code_meaning and "paySig" in r.error_code_meaning

    user = diagnose(client, scheme=pb.SIGNATURE_SCHEME_USER_SIGNATURE, method=GAME, payload=MG_DATA,
                    signature=mac(SESSION_KEY, MG_DATA), session_key=SESSION_KEY, wechat_error_code=-15015)
    assert user.verdict == pb.DIAGNOSIS_VERDICT_VALID
    assert "session_key expired" in user.error_code_meaning and "login" in user.error_code_meaning

    same_code = diagnose(client, app_id="mp", method=VIRTUAL, payload=MP_DATA,
                         signature=mac(MP_PROD, f"{VIRTUAL}&{MP_DATA}"), wechat_error_code=-15014)
    assert same_code.verdict == pb.DIAGNOSIS_VERDICT_VALID
    assert "not yet effective" in same_code.error_code_meaning


def test_uppercase_hex(client):
    right = openssl_hmac(MG_PROD, f"{GAME}&{MG_DATA}")
    r = diagnose(client, method=GAME, payload=MG_DATA, signature=right.upper())
    assert r.verdict == pb.DIAGNOSIS_VERDICT_EXPLAINED
    assert codes(r) == ["UPPERCASE_HEX"]
    assert finding(r, "UPPERCASE_HEX").expected_signature == right


def test_base64_signature(client):
    import base64
    digest = hmac.new(MG_PROD.encode(), f"{GAME}&{MG_DATA}".encode(), hashlib.sha256).digest()
    r = diagnose(client, method=GAME, payload=MG_DATA, signature=base64.b64encode(digest).decode())
    assert r.verdict == pb.DIAGNOSIS_VERDICT_EXPLAINED
    assert finding(r, "BASE64_SIGNATURE").expected_signature == digest.hex()


def test_wrong_env_key_both_ways(client):
    sandbox_over_prod = mac(MG_SANDBOX_V2, f"{GAME}&{MG_DATA}")
    r = diagnose(client, method=GAME, payload=MG_DATA, signature=sandbox_over_prod)
    assert r.verdict == pb.DIAGNOSIS_VERDICT_EXPLAINED
    f = finding(r, "WRONG_ENV_KEY")
    assert (f.key_env, f.key_version) == (pb.ENV_SANDBOX, 2)
    assert f.expected_signature == ""  # never a paySig
    assert MG_SANDBOX_V2 not in str(r) and MG_PROD not in str(r)

    prod_over_sandbox = mac(MG_PROD, f"{GAME}&{MG_DATA_SANDBOX}")
    r = diagnose(client, method=GAME, payload=MG_DATA_SANDBOX, signature=prod_over_sandbox)
    f = finding(r, "WRONG_ENV_KEY")
    assert (f.key_env, f.key_version) == (pb.ENV_PRODUCTION, 1)
    assert "env 1" in f.message


def test_sandbox_key_over_a_body_without_env(client):
    body = '{"openid":"o-1","user_ip":"127.0.0.1"}'
    r = diagnose(client, method="/wxa/game/getbalance", payload=body,
                 signature=mac(MG_SANDBOX_V2, f"/wxa/game/getbalance&{body}"), env=pb.ENV_SANDBOX)
    assert codes(r) == ["WRONG_ENV_KEY", "ENV_NOT_IN_PAYLOAD"]  # what reproduces the signature comes first
    assert finding(r, "WRONG_ENV_KEY").key_env == pb.ENV_SANDBOX
    assert "no env (production)" in finding(r, "WRONG_ENV_KEY").message
    assert '"env":1' in finding(r, "ENV_NOT_IN_PAYLOAD").message


def test_retired_key_version(client):
    r = diagnose(client, method=GAME, payload=MG_DATA_SANDBOX, signature=mac(MG_SANDBOX_V1, f"{GAME}&{MG_DATA_SANDBOX}"))
    assert r.verdict == pb.DIAGNOSIS_VERDICT_EXPLAINED
    f = finding(r, "RETIRED_KEY_VERSION")
    assert (f.key_env, f.key_version) == (pb.ENV_SANDBOX, 1)
    assert codes(r) == ["RETIRED_KEY_VERSION"]


def test_uri_missing_slash(client):
    signed = mac(MG_PROD, f"wxa/game/getbalance&{BALANCE_BODY}")
    for given in ("/wxa/game/getbalance", "wxa/game/getbalance"):
        r = diagnose(client, method=given, payload=BALANCE_BODY, signature=signed, session_key=SESSION_KEY)
        assert r.verdict == pb.DIAGNOSIS_VERDICT_EXPLAINED, given
        assert finding(r, "URI_MISSING_SLASH").expected_method == "/wxa/game/getbalance"


def test_uri_with_query(client):
    uri = "/xpay/query_order?access_token=ACCESS-TOKEN-123"
    body = '{"openid":"o-1","env":0,"order_id":"o-9"}'
    r = diagnose(client, app_id="mp", method=uri, payload=body, signature=mac(MP_PROD, f"{uri}&{body}"))
    assert r.verdict == pb.DIAGNOSIS_VERDICT_EXPLAINED
    assert finding(r, "URI_WITH_QUERY").expected_method == "/xpay/query_order"
    assert codes(r) == ["URI_WITH_QUERY"]

    with_host = "https://api.weixin.qq.com/xpay/query_order"
    r = diagnose(client, app_id="mp", method="/xpay/query_order", payload=body,
                 signature=mac(MP_PROD, f"{with_host}&{body}"))
    assert finding(r, "URI_WITH_HOST").expected_method == "/xpay/query_order"


def test_a_mistaken_method_as_given_is_named_even_when_nothing_matches(client):
    r = diagnose(client, app_id="mp", method="xpay/query_order?x=1", payload='{"env":0}', signature="0" * 64)
    assert r.verdict == pb.DIAGNOSIS_VERDICT_UNEXPLAINED
    assert set(codes(r)) == {"URI_MISSING_SLASH", "URI_WITH_QUERY"}


def test_html_escaped_ampersand(client):
    r = diagnose(client, method=GAME, payload=MG_DATA, signature=mac(MG_PROD, f"{GAME}&amp;{MG_DATA}"))
    assert r.verdict == pb.DIAGNOSIS_VERDICT_EXPLAINED
    assert codes(r) == ["HTML_ESCAPED_AMPERSAND"]


def test_wrong_method(client):
    r = diagnose(client, app_id="mp", method="/xpay/requestVirtualPayment", payload=MP_DATA,
                 signature=mac(MP_PROD, f"/xpay/requestVirtualPayment&{MP_DATA}"))
    assert r.verdict == pb.DIAGNOSIS_VERDICT_EXPLAINED
    assert finding(r, "WRONG_METHOD").expected_method == VIRTUAL

    game_method_for_a_mini_program = mac(MP_PROD, f"{GAME}&{MP_DATA}")
    r = diagnose(client, app_id="mp", method=VIRTUAL, payload=MP_DATA, signature=game_method_for_a_mini_program)
    assert finding(r, "WRONG_METHOD").expected_method == VIRTUAL


def test_keys_swapped(client):
    r = diagnose(client, method=GAME, payload=MG_DATA, signature=mac(SESSION_KEY, f"{GAME}&{MG_DATA}"),
                 session_key=SESSION_KEY)
    assert r.verdict == pb.DIAGNOSIS_VERDICT_EXPLAINED
    assert codes(r) == ["KEYS_SWAPPED"]
    assert finding(r, "KEYS_SWAPPED").expected_signature == ""

    user_with_app_key = mac(MG_PROD, MG_DATA)
    r = diagnose(client, scheme=pb.SIGNATURE_SCHEME_USER_SIGNATURE, method=GAME, payload=MG_DATA,
                 signature=user_with_app_key, session_key=SESSION_KEY)
    f = finding(r, "KEYS_SWAPPED")
    assert (f.key_env, f.key_version) == (pb.ENV_PRODUCTION, 1)
    assert f.expected_signature == mac(SESSION_KEY, MG_DATA)  # a user signature: the caller holds its key

    pay_sig_as_user_signature = mac(MG_PROD, f"{GAME}&{MG_DATA}")
    r = diagnose(client, scheme=pb.SIGNATURE_SCHEME_USER_SIGNATURE, payload=MG_DATA,
                 signature=pay_sig_as_user_signature, session_key=SESSION_KEY)
    assert set(codes(r)) == {"KEYS_SWAPPED", "METHOD_IN_USER_SIGNATURE"}


# (what was sent, what was signed, how): the signed text written out by hand.
RESERIALIZED = [
    ('{"openid":"o-1","env":0,"note":"a/b"}', '{"openid": "o-1", "env": 0, "note": "a/b"}', "spaces"),
    ('{"openid":"o-1","env":0,"note":"a/b"}', '{"openid":"o-1","env":0,"note":"a\\/b"}', "escaped /"),
    ('{"openid":"o-1","env":0,"note":"宝剑"}', '{"openid":"o-1","env":0,"note":"\\u5b9d\\u5251"}', "escaped non-ASCII"),
    ('{"openid":"o-1","env":0,"note":"宝剑"}', '{"openid": "o-1", "env": 0, "note": "\\u5b9d\\u5251"}',
     "Python json.dumps"),
    ('{"openid":"o-1","env":0,"note":"x"}', '{"env":0,"note":"x","openid":"o-1"}', "another field order"),
    ('{"openid":"o-1","env":0,"note":"<&>"}', '{"openid":"o-1","env":0,"note":"\\u003c\\u0026\\u003e"}', "Go"),
    ('{"openid":"o-1","env":0,"note":"x"}', '{"openid":"o-1","env":0,"note":"x"}\n', "trailing newline"),
]


@pytest.mark.parametrize("sent,signed,how", RESERIALIZED, ids=[r[2] for r in RESERIALIZED])
def test_reserialized_payload(client, sent, signed, how):
    uri = "/wxa/game/queryorderinfo"
    r = diagnose(client, method=uri, payload=sent, signature=openssl_hmac(MG_PROD, f"{uri}&{signed}"))
    assert r.verdict == pb.DIAGNOSIS_VERDICT_EXPLAINED
    assert codes(r) == ["RESERIALIZED_PAYLOAD"]
    assert finding(r, "RESERIALIZED_PAYLOAD").expected_payload == signed
    assert json.loads(signed) == json.loads(sent)


def test_a_payload_escaping_a_lone_surrogate_is_diagnosed_not_an_internal_error(client):
    """\\ud800 is six ASCII characters in the payload, but a lone surrogate in
    its parsed JSON: a reserialisation that writes it raw is no text at all."""
    uri = "/wxa/game/queryorderinfo"
    sent = '{"openid":"o-1", "env":0,"note":"\\ud800"}'
    signed = '{"openid":"o-1","env":0,"note":"\\ud800"}'  # what a compact, ASCII-escaping library signed
    r = diagnose(client, method=uri, payload=sent, signature=openssl_hmac(MG_PROD, f"{uri}&{signed}"))
    assert r.verdict == pb.DIAGNOSIS_VERDICT_EXPLAINED
    assert finding(r, "RESERIALIZED_PAYLOAD").expected_payload == signed
    unknown = diagnose(client, method=uri, payload=sent, signature="0" * 64)
    assert unknown.verdict == pb.DIAGNOSIS_VERDICT_UNEXPLAINED


def test_reserialized_sign_data_in_the_documented_order(client):
    sent = ('{"offerId":"1450000002","env":0,"buyQuantity":1,"currencyType":"CNY","productId":"gem",'
            '"goodsPrice":100,"outTradeNo":"diag-0002x","attach":"x"}')
    r = diagnose(client, app_id="mp", method=VIRTUAL, payload=sent, signature=mac(MP_PROD, f"{VIRTUAL}&{MP_DATA}"))
    assert finding(r, "RESERIALIZED_PAYLOAD").expected_payload == MP_DATA


def rule_fields(response) -> dict[str, pb.DiagnosisFinding]:
    return {f.field: f for f in response.findings if f.code == "PAYLOAD_RULE"}


def test_payload_rules(client):
    sent = MG_DATA.replace('"buyQuantity":1', '"buyQuantity":"1"').replace('"offerId":"1450000001"',
                                                                            '"offerId":1450000001')
    r = diagnose(client, method=GAME, payload=sent, signature=mac(MG_PROD, f"{GAME}&{sent}"))
    assert r.verdict == pb.DIAGNOSIS_VERDICT_VALID  # the signature is right for what was sent: the data is not
    found = rule_fields(r)
    assert set(found) == {"buyQuantity", "offerId"}
    assert found["buyQuantity"].expected_payload == MG_DATA
    assert "JSON number" in found["buyQuantity"].message and "JSON string" in found["offerId"].message

    bad_trade_no = MG_DATA.replace("diag-0001", "_diag#1")
    r = diagnose(client, method=GAME, payload=bad_trade_no, signature="0" * 64)
    assert set(rule_fields(r)) == {"outTradeNo"}

    env_as_string = MP_DATA.replace('"env":0', '"env":"1"')
    r = diagnose(client, app_id="mp", method=VIRTUAL, payload=env_as_string, signature="0" * 64)
    assert rule_fields(r)["env"].expected_payload == MP_DATA.replace('"env":0', '"env":1')


def test_sign_data_for_the_wrong_app_kind(client):
    r = diagnose(client, app_id="mp", method=VIRTUAL, payload=MG_DATA.replace("1450000001", "1450000002"),
                 signature="0" * 64)
    found = rule_fields(r)
    assert {"mode", "platform", "zoneId"} <= set(found)
    short = MP_DATA.replace("diag-0002x", "d-2")  # requestVirtualPayment needs 8 to 32 characters
    assert set(rule_fields(diagnose(client, app_id="mp", method=VIRTUAL, payload=short, signature="0" * 64))) \
        == {"outTradeNo"}
    assert set(rule_fields(diagnose(client, app_id="mp", method=VIRTUAL, payload=MP_DATA, signature="0" * 64))) \
        == set()


def test_superapp_sign_data(client):
    data = ('{"mode":"goods","buyQuantity":1,"currencyType":"USD","platform":"ios","productId":"p",'
            '"goodsPrice":10,"outTradeNo":"sa-1"}')
    r = diagnose(client, app_id="sa", method=GAME, payload=data, signature=mac("sa-single-key", f"{GAME}&{data}"))
    assert (r.verdict, codes(r)) == (pb.DIAGNOSIS_VERDICT_VALID, [])
    with_zone = data.replace('"platform":"ios"', '"platform":"ios","zoneId":"1"')
    r = diagnose(client, app_id="sa", method=GAME, payload=with_zone, signature="0" * 64)
    assert set(rule_fields(r)) == {"zoneId"}
    r = diagnose(client, app_id="sa", method=GAME, payload=data.replace("USD", "XYZ"), signature="0" * 64)
    assert set(rule_fields(r)) == {"currencyType"}


def test_unexplained(client):
    r = diagnose(client, method=GAME, payload=MG_DATA, signature=mac("a key paysig does not hold", f"{GAME}&{MG_DATA}"),
                 session_key=SESSION_KEY)
    assert r.verdict == pb.DIAGNOSIS_VERDICT_UNEXPLAINED
    assert codes(r) == []


def test_the_error_code_names_the_other_signature(client):
    r = diagnose(client, method=GAME, payload=MG_DATA, signature=mac(MG_PROD, f"{GAME}&{MG_DATA}"),
                 wechat_error_code=-15012)
    assert r.verdict == pb.DIAGNOSIS_VERDICT_VALID
    assert "user" in finding(r, "OTHER_SIGNATURE_REJECTED").message
    r = diagnose(client, method="/xpay/query_user_balance", app_id="mp", payload=BALANCE_BODY,
                 signature=mac(MP_PROD, f"/xpay/query_user_balance&{BALANCE_BODY}"), wechat_error_code=268490003,
                 wechat_error_message="signature error")
    assert set(codes(r)) == {"USER_SIGNATURE_REQUIRED", "OTHER_SIGNATURE_REJECTED"}


def test_event_signature(client):
    payload = '{"OpenId":"o-1","Env":1,"OutTradeNo":"t-1"}'
    event = "minigame_game_pay_goods_deliver_notify"
    r = diagnose(client, scheme=pb.SIGNATURE_SCHEME_EVENT, method=event, payload=payload,
                 signature=mac(MG_SANDBOX_V2, f"{event}&{payload}"))
    assert r.verdict == pb.DIAGNOSIS_VERDICT_VALID
    reparsed = json.dumps(json.loads(payload))
    r = diagnose(client, scheme=pb.SIGNATURE_SCHEME_EVENT, method=event, payload=reparsed,
                 signature=mac(MG_SANDBOX_V2, f"{event}&{payload}"))
    assert finding(r, "RESERIALIZED_PAYLOAD").expected_payload == payload


@pytest.mark.parametrize("fields,violation", [
    (dict(method=GAME, payload=MG_DATA, signature="xyz"), ("signature", "FORMAT")),
    (dict(method=GAME, signature="0" * 64), ("payload", "REQUIRED")),
    (dict(payload=MG_DATA, signature="0" * 64), ("method", "REQUIRED")),
    (dict(method="query_order", payload=MG_DATA, signature="0" * 64), ("method", "FORMAT")),
    (dict(method=GAME, payload=MG_DATA, signature="0" * 64, session_key="has space"), ("session_key", "FORMAT")),
])
def test_malformed_requests_are_errors(client, fields, violation):
    with pytest.raises(PaysigError) as caught:
        diagnose(client, **fields)
    assert caught.value.code.name == "INVALID_ARGUMENT"
    assert violation in [(v.field, v.reason) for v in caught.value.violations]


TOKEN_OPS, TOKEN_DEV = "diag-ops-Token-0123456789", "diag-dev-Token-9876543210"


def test_grants_rate_limit_and_audit(tmp_path):
    audit = tmp_path / "audit.log"
    config = tmp_path / "paysig.toml"
    config.write_text(CONFORMANCE_CONFIG.read_text() + f"""
[auth]
mode = "token"
[audit]
path = "{audit}"
[[callers]]
name = "production-game"
token_sha256 = "{token_sha256(TOKEN_OPS)}"
apps = ["mg"]
rpcs = ["SignOrder", "SignApiCall", "VerifySignature"]
[[callers]]
name = "support-desk"
token_sha256 = "{token_sha256(TOKEN_DEV)}"
apps = ["mp"]
rpcs = ["DiagnoseSignature"]
rate_per_second = 0.001
burst = 2
""")
    uri = "/xpay/query_user_balance?access_token=ACCESS-TOKEN-SECRET"
    request = pb.DiagnoseSignatureRequest(app_id="mp", scheme=pb.SIGNATURE_SCHEME_PAY_SIG, method=uri,
                                          payload=BALANCE_BODY, signature=mac(MP_PROD, f"{uri}&{BALANCE_BODY}"),
                                          session_key=SESSION_KEY, wechat_error_code=268490003,
                                          wechat_error_message="pay_sig error rid: 42")
    with running_server(config) as (_, port):
        target = f"127.0.0.1:{port}"
        with Client(target, token=TOKEN_OPS, allow_token_without_tls=True, connections=1, timeout=20) as ops:
            with pytest.raises(PaysigError) as refused:
                ops.diagnose_signature(pb.DiagnoseSignatureRequest(**{**_fields(request), "app_id": "mg"}))
            assert (refused.value.code.name, refused.value.reason) == ("PERMISSION_DENIED", "RPC_NOT_ALLOWED")
        with Client(target, token=TOKEN_DEV, allow_token_without_tls=True, connections=1, timeout=20) as dev:
            with pytest.raises(PaysigError) as other_app:
                dev.diagnose_signature(pb.DiagnoseSignatureRequest(**{**_fields(request), "app_id": "mg"}))
            assert (other_app.value.code.name, other_app.value.reason) == ("PERMISSION_DENIED", "APP_NOT_ALLOWED")
            r = dev.diagnose_signature(request)
            assert r.verdict == pb.DIAGNOSIS_VERDICT_EXPLAINED
            assert finding(r, "URI_WITH_QUERY")
            with pytest.raises(PaysigError) as limited:
                dev.diagnose_signature(request)
            assert limited.value.code.name == "RESOURCE_EXHAUSTED"

    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    diagnosed = [line for line in lines if line["rpc"] == "DiagnoseSignature" and line["code"] == "OK"]
    assert len(diagnosed) == 1
    line = diagnosed[0]
    assert (line["caller"], line["app_id"], line["scheme"], line["method"]) == \
        ("support-desk", "mp", "SIGNATURE_SCHEME_PAY_SIG", "/xpay/query_user_balance")
    assert line["verdict"] == "DIAGNOSIS_VERDICT_EXPLAINED" and "URI_WITH_QUERY" in line["findings"]
    assert line["wechat_error_code"] == 268490003
    assert line["signature_fp"] == hashlib.sha256(request.signature.encode()).hexdigest()[:16]
    refusals = [(line["caller"], line["reason"]) for line in lines if line["code"] != "OK"]
    assert ("production-game", "RPC_NOT_ALLOWED") in refusals and ("support-desk", "APP_NOT_ALLOWED") in refusals
    text = audit.read_text()
    for secret in (request.signature, SESSION_KEY, BALANCE_BODY, "o-1", "ACCESS-TOKEN-SECRET", MP_PROD, "rid: 42"):
        assert secret not in text


def _fields(request) -> dict:
    return {f.name: v for f, v in request.ListFields()}


def test_cli_diagnose(tmp_path):
    import subprocess
    import sys

    signed = mac(MG_SANDBOX_V2, f"{GAME}&{MG_DATA}")
    request = {"scheme": "SIGNATURE_SCHEME_PAY_SIG", "method": GAME, "payload": MG_DATA, "signature": signed,
               "wechat_error_code": -15014}
    command = [sys.executable, "-m", "paysig", "diagnose", "--config", str(CONFORMANCE_CONFIG), "--app-id", "mg"]
    printed = subprocess.run(command, input=json.dumps(request), capture_output=True, text=True, timeout=60)
    assert printed.returncode == 1, printed.stderr
    assert printed.stdout.startswith("EXPLAINED\n")
    assert "- WRONG_ENV_KEY: signed with the sandbox AppKey (version 2)" in printed.stdout
    assert "wx.requestMidasPaymentGameItem -15014: paySig" in printed.stdout
    assert MG_SANDBOX_V2 not in printed.stdout + printed.stderr

    path = tmp_path / "request.json"
    path.write_text(json.dumps({**request, "signature": mac(MG_PROD, f"{GAME}&{MG_DATA}")}))
    as_json = subprocess.run(command + ["--json", str(path)], capture_output=True, text=True, timeout=60)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["verdict"] == "DIAGNOSIS_VERDICT_VALID"

    bad = subprocess.run(command, input='{"signature": "nope"}', capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "INVALID_ARGUMENT" in bad.stderr and "signature" in bad.stderr


def test_method_in_user_signature_and_key_not_configured(client):
    r = diagnose(client, scheme=pb.SIGNATURE_SCHEME_USER_SIGNATURE, method=GAME, payload=MG_DATA,
                 signature=mac(SESSION_KEY, f"{GAME}&{MG_DATA}"), session_key=SESSION_KEY)
    assert r.verdict == pb.DIAGNOSIS_VERDICT_EXPLAINED
    assert codes(r) == ["METHOD_IN_USER_SIGNATURE"]
    assert finding(r, "METHOD_IN_USER_SIGNATURE").expected_signature == mac(SESSION_KEY, MG_DATA)

    sandbox_data = MG_DATA_SANDBOX.replace("1450000001", "1450000003")
    r = diagnose(client, app_id="mg-prod-only", method=GAME, payload=sandbox_data,
                 signature=mac("mg-prod-only-key", f"{GAME}&{sandbox_data}"))
    assert r.verdict == pb.DIAGNOSIS_VERDICT_EXPLAINED
    assert set(codes(r)) == {"KEY_NOT_CONFIGURED", "WRONG_ENV_KEY"}


# ---- hostile input, without a server: the operation itself never fails but with a domain error ----------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from paysig.server import load_config  # noqa: E402
from paysig.server.diagnosis import MAX_VARIANTS, message_variants, pay_sig_methods, payload_variants  # noqa: E402
from paysig.server.errors import Code, PaysigError as DomainError  # noqa: E402
from paysig.server.ops.diagnose_signature import diagnose_signature  # noqa: E402

CONFIG = load_config(CONFORMANCE_CONFIG)
FIELDS = ["mode", "offerId", "buyQuantity", "env", "Env", "currencyType", "platform", "zoneId", "productId",
          "goodsPrice", "activitySellingPrice", "outTradeNo", "attach", "openid", "x/y"]
VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                                st.text(max_size=20), st.sampled_from(["0", "1", "goods", "CNY", "android", "_x"])),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                   max_size=3), max_leaves=8)


@st.composite
def requests(draw):
    payload = draw(st.one_of(
        st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=12).map(
            lambda d: json.dumps(d, ensure_ascii=draw(st.booleans()))),
        st.text(max_size=200), st.sampled_from(["", "{}", "[]", '"{}"', '{"a":1,"a":2}', "{" * 5000])))
    return pb.DiagnoseSignatureRequest(
        app_id=draw(st.sampled_from(["mg", "mp", "sa", "mg-prod-only", "nope"])), scheme=draw(st.integers(-1, 4)),
        env=draw(st.integers(-1, 3)), payload=payload,
        method=draw(st.one_of(st.text(max_size=30), st.sampled_from(
            [GAME, VIRTUAL, "wx." + GAME, "/xpay/requestVirtualPayment", "/xpay/query_order?a=1", "xpay/query_order",
             "https://api.weixin.qq.com/wxa/game/pay", "minigame_game_pay_goods_deliver_notify", "/", "//x"]))),
        signature=draw(st.one_of(st.text(max_size=70), st.sampled_from(["0" * 64, "A" * 64, "A" * 43 + "=", "=" * 44]))),
        session_key=draw(st.sampled_from(["", SESSION_KEY, "bad key"])),
        wechat_error_code=draw(st.sampled_from([-15014, 268490003, 0, 90011, -15012])),
        wechat_error_message=draw(st.text(max_size=30)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_hostile_requests_get_a_diagnosis_or_a_domain_error(request):
    try:
        response = diagnose_signature(CONFIG, request)
    except DomainError as error:
        assert error.code in (Code.INVALID_ARGUMENT, Code.NOT_FOUND), error.message
        return
    assert response.verdict in (pb.DIAGNOSIS_VERDICT_VALID, pb.DIAGNOSIS_VERDICT_EXPLAINED,
                                pb.DIAGNOSIS_VERDICT_UNEXPLAINED)
    assert all(f.code and f.message for f in response.findings)


def test_the_work_per_call_is_bounded():
    payload = json.dumps({f"k{i}": "宝/<&>" * 50 for i in range(200)})
    obj = json.loads(payload)
    for method, is_client in ((GAME, True), ("/xpay/query_order", False)):
        methods = pay_sig_methods("https://x/" + method + "?q", method, is_client)
        _, variants = message_variants(method, payload, methods, payload_variants(payload, obj, method))
        assert 10 <= len(variants) <= MAX_VARIANTS


async def _async_diagnose(port: int) -> pb.DiagnoseSignatureResponse:
    from paysig.client import AsyncClient
    async with AsyncClient(f"127.0.0.1:{port}", connections=1, timeout=20) as c:
        return await c.diagnose_signature(pb.DiagnoseSignatureRequest(
            app_id="mg", scheme=pb.SIGNATURE_SCHEME_PAY_SIG, method=GAME, payload=MG_DATA,
            signature=mac(MG_SANDBOX_V1, f"{GAME}&{MG_DATA}")))


def test_async_client():
    import asyncio
    with running_server(CONFORMANCE_CONFIG) as (_, port):
        r = asyncio.run(_async_diagnose(port))
    assert r.verdict == pb.DIAGNOSIS_VERDICT_EXPLAINED
    assert (r.findings[0].code, r.findings[0].key_env, r.findings[0].key_version) == ("WRONG_ENV_KEY", pb.ENV_SANDBOX, 1)
