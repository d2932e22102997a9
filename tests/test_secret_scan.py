"""No key, token, session_key or whole signature ever reaches the server's
output or its audit file, whatever the suite sends it."""

import hashlib
import json
import tomllib

from paysig.client import Client, PaysigError
from paysig.v1 import signer_pb2 as pb
from conformance.runner import CASES, HELPERS, request_of
from support import CONFORMANCE_CONFIG, ServerProcess, token_sha256

TOKEN = "scan-Token-7f3a9c1e5b2d4680"
WRONG_TOKENS = ["scan-Wrong-Token-0001", "Bearer-ish junk-0002"]
# What DiagnoseSignature is sent beside a case's fields: none of it may be written anywhere.
DIAGNOSE_SECRETS = {"session_key": "scan-Diag-Session-0004", "access_token": "scan-Diag-Access-0005",
                    "payload": '{"openid":"scan-Diag-Openid-0006","env":0}', "errmsg": "scan-Diag-Errmsg-0007"}


def secrets_in(config_text: str) -> set[str]:
    found = set()
    for app in tomllib.loads(config_text)["apps"]:
        for ring in app["keys"].values():
            for key in ring if isinstance(ring, list) else [ring]:
                found.add(key["value"])
    return found


def test_server_output_and_audit_hold_no_secret(tmp_path):
    config_text = CONFORMANCE_CONFIG.read_text()
    apps = [a["app_id"] for a in tomllib.loads(config_text)["apps"]]
    audit = tmp_path / "audit.log"
    config = tmp_path / "paysig.toml"
    config.write_text(config_text + f"""
[auth]
mode = "token"
[audit]
path = "{audit}"
[[callers]]
name = "scanner"
token_sha256 = "{token_sha256(TOKEN)}"
apps = {json.dumps(apps)}
""")
    server = ServerProcess(config)
    try:
        returned = _drive(server.address, apps)
    finally:
        assert server.stop() == 0

    secrets = secrets_in(config_text) | {TOKEN, *WRONG_TOKENS} | returned | set(DIAGNOSE_SECRETS.values())
    secrets |= {c["request"]["session_key"] for c in CASES if c["request"].get("session_key")}
    secrets |= {c["request"]["signature"] for c in CASES if c["request"].get("signature")}
    secrets = {s for s in secrets if len(s) >= 5}  # shorter values are not secrets of any real kind
    assert len(secrets) > 30
    audit_text = audit.read_text()
    assert audit_text.count("\n") >= len(CASES) + len(WRONG_TOKENS)
    for name, text in (("stdout", "".join(server.stdout)), ("stderr", "".join(server.stderr)), ("audit", audit_text)):
        leaks = sorted(s for s in secrets if s in text)
        assert leaks == [], f"{name} holds secrets"


def _drive(address: str, apps: list[str]) -> set[str]:
    """Sends every conformance case with the right token and a few with wrong
    ones; returns the signatures the server answered with."""
    returned = set()
    with Client(address, token=TOKEN, allow_token_without_tls=True, connections=1) as client:
        for case in CASES:
            try:
                response = getattr(client, HELPERS[case["rpc"]])(request_of(case))
            except PaysigError:
                continue
            for field in ("pay_sig", "signature"):
                if getattr(response, field, ""):
                    returned.add(getattr(response, field))
        for app_id in apps:
            for scheme in (pb.SIGNATURE_SCHEME_PAY_SIG, pb.SIGNATURE_SCHEME_USER_SIGNATURE):
                response = client.diagnose_signature(pb.DiagnoseSignatureRequest(
                    app_id=app_id, scheme=scheme, wechat_error_code=268490003,
                    method=f"/xpay/query_user_balance?access_token={DIAGNOSE_SECRETS['access_token']}",
                    payload=DIAGNOSE_SECRETS["payload"], signature=hashlib.sha256(app_id.encode()).hexdigest(),
                    session_key=DIAGNOSE_SECRETS["session_key"], wechat_error_message=DIAGNOSE_SECRETS["errmsg"]))
                returned |= {f.expected_signature for f in response.findings if f.expected_signature}
    for wrong in WRONG_TOKENS:
        with Client(address, token=wrong, allow_token_without_tls=True, connections=1) as client:
            try:
                client.sign_order(pb.SignOrderRequest(app_id="mg", session_key="scan-Session-Key-0003"))
            except PaysigError as e:
                assert e.code.name == "UNAUTHENTICATED"
    return returned


def test_no_audit_line_holds_a_query_string_or_fragment(tmp_path):
    """A method or uri carrying ?access_token=... or #access_token=... is
    refused or diagnosed, and its audit line keeps only the path."""
    import dataclasses

    from paysig.server import load_config
    from paysig.server.audit import AuditSettings
    from support import running_server

    audit = tmp_path / "audit.log"
    config = load_config(CONFORMANCE_CONFIG)
    config = dataclasses.replace(config, audit=AuditSettings(path=str(audit), sync="none"))
    marks = ["?access_token=SECRETQ1", "#access_token=SECRETF1", "?a=1#access_token=SECRETF2"]
    with running_server(config) as (_, port), Client(f"127.0.0.1:{port}") as client:
        for mark in marks:
            uri = "/xpay/query_order" + mark
            for call, request in (
                (client.sign_api_call, pb.SignApiCallRequest(app_id="mp", uri=uri, body='{"env":0}')),
                (client.verify_signature, pb.VerifySignatureRequest(
                    app_id="mp", scheme=pb.SIGNATURE_SCHEME_PAY_SIG, method=uri, payload='{"env":0}',
                    signature="0" * 64)),
                (client.diagnose_signature, pb.DiagnoseSignatureRequest(
                    app_id="mp", scheme=pb.SIGNATURE_SCHEME_PAY_SIG, method=uri, payload='{"env":0}',
                    signature="0" * 64)),
            ):
                try:
                    call(request)
                except PaysigError:
                    pass
    text = audit.read_text()
    assert text.count("\n") == 9
    assert "SECRET" not in text and "access_token" not in text
    assert text.count('/xpay/query_order"') == 9
