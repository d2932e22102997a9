"""The Python runner of the conformance suite, over paysig.client."""

from __future__ import annotations

import json
from pathlib import Path

from google.protobuf import json_format

from paysig.client import PaysigError
from paysig.v1 import signer_pb2

CASES_PATH = Path(__file__).resolve().parent / "cases.json"
CASES = json.loads(CASES_PATH.read_text(encoding="utf-8"))["cases"]
HELPERS = {"SignOrder": "sign_order", "SignApiCall": "sign_api_call", "VerifySignature": "verify_signature"}


def request_of(case: dict):
    return json_format.ParseDict(case["request"], getattr(signer_pb2, case["rpc"] + "Request")())


def check(case: dict, response=None, error: PaysigError | None = None) -> None:
    """Asserts that the outcome of a case is the expected one."""
    expect = case["expect"]
    if error is not None:
        assert "error" in expect, f"unexpected error {error}"
        want = expect["error"]
        assert (error.code.name, error.reason) == (want["code"], want["reason"]), str(error)
        got = sorted((v.field, v.reason) for v in error.violations)
        assert got == sorted(tuple(v) for v in want.get("violations", [])), str(error)
        assert all(v.description for v in error.violations)
        return
    assert "response" in expect, f"expected {expect['error']}, got a response"
    actual = json_format.MessageToDict(response, preserving_proto_field_name=True,
                                       always_print_fields_with_no_presence=True)
    assert {k: actual.get(k) for k in expect["response"]} == expect["response"]


def run(client, case: dict) -> None:
    try:
        response = getattr(client, HELPERS[case["rpc"]])(request_of(case))
    except PaysigError as error:
        check(case, error=error)
    else:
        check(case, response)


async def run_async(client, case: dict) -> None:
    try:
        response = await getattr(client, HELPERS[case["rpc"]])(request_of(case))
    except PaysigError as error:
        check(case, error=error)
    else:
        check(case, response)


def sign_all(client) -> list[dict]:
    """Signs every successful SignOrder case; the signed.json shape of every language."""
    signed = []
    for case in CASES:
        if case["rpc"] == "SignOrder" and "response" in case["expect"]:
            request = request_of(case)
            response = client.sign_order(request)
            signed.append({"app_id": request.app_id, "method": response.method, "sign_data": response.sign_data,
                           "pay_sig": response.pay_sig, "signature": response.signature,
                           "session_key": request.session_key})
    return signed


def verify_all(client, signed: list[dict]) -> list[str]:
    """Returns the sign_data of every entry whose paySig or signature does not verify."""
    failures = []
    for s in signed:
        pay_sig = client.verify_signature(signer_pb2.VerifySignatureRequest(
            app_id=s["app_id"], scheme=signer_pb2.SIGNATURE_SCHEME_PAY_SIG, method=s["method"],
            payload=s["sign_data"], signature=s["pay_sig"]))
        user = client.verify_signature(signer_pb2.VerifySignatureRequest(
            app_id=s["app_id"], scheme=signer_pb2.SIGNATURE_SCHEME_USER_SIGNATURE, payload=s["sign_data"],
            signature=s["signature"], session_key=s["session_key"]))
        if not (pay_sig.valid and user.valid):
            failures.append(s["sign_data"])
    return failures
