"""The table of known server APIs (apis.py): it holds every API of spec
section 5, validation follows it API by API, the metrics label the known
URIs and nothing else, and the README table and proto comments match it."""

from __future__ import annotations

import re
import textwrap

import pytest

from paysig.server import apis, load_config
from paysig.server.errors import PaysigError
from paysig.server.ops.sign_api_call import sign_api_call
from paysig.server.ops.verify_signature import verify_signature
from paysig.v1 import signer_pb2 as pb
from support import REPO, FakeContext, hex_hmac

# Spec section 5, written out here by hand (not derived from apis.py).
SPEC_BOTH = {"/xpay/query_user_balance", "/xpay/currency_pay", "/xpay/cancel_currency_pay", "/wxa/game/getbalance",
             "/wxa/game/pay", "/wxa/game/cancelpay", "/wxa/game/present", "/wxa/game/queryorderinfo"}
SPEC_PAY_SIG_ONLY = {
    "/xpay/query_order", "/xpay/notify_provide_goods", "/xpay/present_currency", "/xpay/download_bill",
    "/xpay/refund_order", "/xpay/create_withdraw_order", "/xpay/query_withdraw_order", "/xpay/start_upload_goods",
    "/xpay/query_upload_goods", "/xpay/start_publish_goods", "/xpay/query_publish_goods", "/xpay/query_biz_balance",
    "/xpay/start_download_order", "/xpay/query_download_order", "/xpay/query_transfer_account",
    "/xpay/query_adver_funds", "/xpay/create_funds_bill", "/xpay/bind_transfer_accout", "/xpay/query_funds_bill",
    "/xpay/query_recover_bill", "/xpay/download_adverfunds_order", "/xpay/get_complaint_list",
    "/xpay/get_complaint_detail", "/xpay/get_negotiation_history", "/xpay/response_complaint",
    "/xpay/complete_complaint", "/xpay/upload_vp_file", "/xpay/get_upload_file_sign"}
SPEC_ACCESS_TOKEN_ONLY = {"/xpay/query_subscribe_contract", "/xpay/send_subscribe_pre_payment",
                          "/xpay/submit_subscribe_pay_order", "/xpay/cancel_subscribe_contract"}

KEYS = {"production": "mp-prod-key", "sandbox": "mp-sandbox-key"}
SESSION_KEY = "9hAb/NEYUlkaMBEsmFgzig=="


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("apis") / "paysig.toml"
    path.write_text(textwrap.dedent(f"""\
        [[apps]]
        app_id = "mp"
        kind = "miniprogram"
        offer_id = "1450000002"
        [apps.keys]
        production = {{ value = "{KEYS['production']}" }}
        sandbox = {{ value = "{KEYS['sandbox']}" }}
        """))
    return load_config(path)


def test_the_table_holds_every_api_of_the_spec_once():
    uris = [api.uri for api in apis.SERVER_APIS]
    assert len(uris) == len(set(uris))
    assert set(uris) == SPEC_BOTH | SPEC_PAY_SIG_ONLY | SPEC_ACCESS_TOKEN_ONLY
    assert {a.uri for a in apis.SERVER_APIS if a.user_signature} == SPEC_BOTH
    assert {a.uri for a in apis.SERVER_APIS if a.pay_sig and not a.user_signature} == SPEC_PAY_SIG_ONLY
    assert {a.uri for a in apis.SERVER_APIS if not a.pay_sig} == SPEC_ACCESS_TOKEN_ONLY
    assert {a.uri for a in apis.SERVER_APIS if a.kind is apis.ApiKind.MINIGAME} == {
        u for u in uris if u.startswith("/wxa/game/")}
    assert not any(a.env_in_body for a in apis.SERVER_APIS if a.uri in SPEC_ACCESS_TOKEN_ONLY)
    assert apis.KNOWN_URIS == frozenset(uris) and all(apis.find(u).uri == u for u in uris)
    assert apis.find("/xpay/bind_transfer_account") is None  # only WeChat's misspelling exists


def body_of(api: apis.ServerApi, env: int | None) -> str:
    return '{"openid":"o1"}' if env is None else f'{{"openid":"o1","env":{env}}}'


@pytest.mark.parametrize("api", apis.SERVER_APIS, ids=lambda a: a.uri)
def test_sign_api_call_follows_the_table(config, api):
    request = pb.SignApiCallRequest(app_id="mp", uri=api.uri, body=body_of(api, None))
    if not api.pay_sig:
        with pytest.raises(PaysigError) as info:
            sign_api_call(config, request)
        assert [(v.field, v.rule.value) for v in info.value.violations] == [("uri", "UNSUPPORTED")]
        assert "access_token" in info.value.violations[0].description
        return
    if api.user_signature:
        with pytest.raises(PaysigError) as info:
            sign_api_call(config, request)
        assert [(v.field, v.rule.value) for v in info.value.violations] == [("session_key", "REQUIRED")]
        request.session_key = SESSION_KEY
    response = sign_api_call(config, request)  # a body without env: production
    assert response.env == pb.ENV_PRODUCTION
    assert response.pay_sig == hex_hmac(KEYS["production"], f"{api.uri}&{request.body}")
    expected_query = f"pay_sig={response.pay_sig}"
    if api.user_signature:
        assert response.signature == hex_hmac(SESSION_KEY, request.body)
        expected_query += f"&signature={response.signature}"
    if api.kind is apis.ApiKind.MINIGAME:
        expected_query += "&sig_method=hmac_sha256"
    assert response.query == expected_query

    request.env = pb.ENV_SANDBOX  # over a body without env: refused, with the rule that applies
    with pytest.raises(PaysigError) as info:
        sign_api_call(config, request)
    expected = ("body.env", "MISMATCH") if api.env_in_body else ("env", "NOT_ALLOWED")
    assert [(v.field, v.rule.value) for v in info.value.violations] == [expected]
    if api.env_in_body:
        assert '"env":1' in info.value.violations[0].description
        request.body = body_of(api, 1)
        response = sign_api_call(config, request)
        assert response.pay_sig == hex_hmac(KEYS["sandbox"], f"{api.uri}&{request.body}")


@pytest.mark.parametrize("api", apis.SERVER_APIS, ids=lambda a: a.uri)
def test_verify_signature_follows_the_table(config, api):
    body = body_of(api, None)
    request = pb.VerifySignatureRequest(app_id="mp", scheme=pb.SIGNATURE_SCHEME_PAY_SIG, method=api.uri,
                                        payload=body, signature=hex_hmac(KEYS["production"], f"{api.uri}&{body}"))
    if not api.pay_sig:
        with pytest.raises(PaysigError) as info:
            verify_signature(config, request)
        assert [(v.field, v.rule.value) for v in info.value.violations] == [("method", "UNSUPPORTED")]
        return
    response = verify_signature(config, request)
    assert response.valid and response.env == pb.ENV_PRODUCTION
    request.signature = hex_hmac(KEYS["sandbox"], f"{api.uri}&{body}")
    assert not verify_signature(config, request).valid
    request.env = pb.ENV_SANDBOX
    with pytest.raises(PaysigError) as info:
        verify_signature(config, request)
    expected = ("payload.env", "MISMATCH") if api.env_in_body else ("env", "NOT_ALLOWED")
    assert [(v.field, v.rule.value) for v in info.value.violations] == [expected]


def test_unknown_uris_still_sign_as_production_calls(config):
    for uri, sig_method in (("/xpay/some_new_api", False), ("/wxa/game/some_new_api", True)):
        response = sign_api_call(config, pb.SignApiCallRequest(app_id="mp", uri=uri, body="{}"))
        assert response.pay_sig == hex_hmac(KEYS["production"], f"{uri}&{{}}")
        assert response.query.endswith("&sig_method=hmac_sha256") == sig_method
        assert apis.adds_sig_method(uri) == sig_method


def test_metrics_label_known_uris_and_other(config):
    from paysig.server import metrics
    from paysig.server.audit import AuditLog, AuditSettings
    from paysig.server.pipeline import Pipeline
    from paysig.server.ratelimit import RateLimiter
    from paysig.server.servicer import SPECS
    from paysig.server.state import ConfigHolder
    from prometheus_client import REGISTRY

    def count(api_label: str) -> float:
        return sum(s.value for m in REGISTRY.collect() if m.name == "paysig_signatures" for s in m.samples
                   if s.name.endswith("_total") and s.labels.get("app_id") == "mp" and s.labels["api"] == api_label)

    metrics.get()
    pipeline = Pipeline(ConfigHolder(config), AuditLog(AuditSettings(path="/dev/null")), RateLimiter(), fast=False)
    for uri, label in (("/xpay/bind_transfer_accout", "/xpay/bind_transfer_accout"),
                       ("/xpay/get_upload_file_sign", "/xpay/get_upload_file_sign"),
                       ("/xpay/not_an_api_" + "x" * 40, "other")):
        before = count(label)
        pipeline.run(SPECS["SignApiCall"], pb.SignApiCallRequest(app_id="mp", uri=uri, body='{"env":0}'),
                     FakeContext("ipv4:127.0.0.1:1"))
        assert count(label) == before + 1


def readme_row(api: apis.ServerApi) -> str:
    query = {apis.Signing.PAY_SIG_AND_SIGNATURE: "pay_sig, signature", apis.Signing.PAY_SIG: "pay_sig",
             apis.Signing.NONE: "access_token only: refused"}[api.signing]
    if api.sig_method:
        query += ", sig_method"
    return f"| `{api.uri}` | {api.kind.value} | {query} | {'yes' if api.env_in_body else 'no'} | {api.note} |"


def test_readme_server_api_table_is_the_table():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if re.match(r"\| `/(xpay|wxa)/", line)]
    assert rows == [readme_row(api) for api in apis.SERVER_APIS]


def test_proto_lists_the_user_signature_apis_and_the_refused_ones():
    proto = (REPO / "proto" / "paysig" / "v1" / "signer.proto").read_text(encoding="utf-8")
    comment = proto[:proto.index("string session_key = 5;")].rsplit("string body = 4;", 1)[1]
    named = set(re.findall(r"/(?:xpay|wxa/game)/[a-z_]+", comment))
    assert named == {a.uri for a in apis.SERVER_APIS if a.user_signature}
    uri_comment = proto[:proto.index("string uri = 3;")].rsplit("Env env = 2;", 1)[1]
    refused = uri_comment[uri_comment.index("refused"):]
    assert set(re.findall(r"/xpay/[a-z_]+", refused)) == {a.uri for a in apis.SERVER_APIS if not a.pay_sig}
