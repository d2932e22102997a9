"""The Python runner of the conformance suite, over paysig.client.

In process (test_python.py) and as a program, like the Go and C++ runners:

    python runner.py cases  -target ADDR -cases cases.json
    python runner.py sign   -target ADDR -cases cases.json > signed.jsonl
    python runner.py verify -target ADDR -signed signed.jsonl

The program writes one JSON object per line on stdout, the same in every
language: {"name", "ok", "error" (when not ok), "request_id", "signed" (sign)},
and exits 1 when any failed or none ran, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from google.protobuf import json_format

from paysig.client import CallInfo, Client, PaysigError
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


def run(client, case: dict, info: CallInfo | None = None) -> None:
    try:
        response = getattr(client, HELPERS[case["rpc"]])(request_of(case), info=info)
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


def signed_entry(request: signer_pb2.SignOrderRequest, response: signer_pb2.SignOrderResponse) -> dict:
    """The "signed" object of a sign result, the same in every language."""
    return {"app_id": request.app_id, "method": response.method, "sign_data": response.sign_data,
            "pay_sig": response.pay_sig, "signature": response.signature, "session_key": request.session_key}


def sign_all(client, cases: list[dict] = CASES) -> list[dict]:
    """Signs every successful SignOrder case: one result line each."""
    results = []
    for case in cases:
        if case["rpc"] == "SignOrder" and "response" in case["expect"]:
            request, info = request_of(case), CallInfo()
            try:
                response = client.sign_order(request, info=info)
            except PaysigError as error:
                results.append(result(case["name"], str(error), request_id=info.request_id))
            else:
                results.append(result(case["name"], request_id=info.request_id,
                                      signed=signed_entry(request, response)))
    return results


def verify(client, s: dict) -> str:
    """"" when both the paySig and the user signature of a signed entry verify, else why not."""
    pay_sig = client.verify_signature(signer_pb2.VerifySignatureRequest(
        app_id=s["app_id"], scheme=signer_pb2.SIGNATURE_SCHEME_PAY_SIG, method=s["method"],
        payload=s["sign_data"], signature=s["pay_sig"]))
    user = client.verify_signature(signer_pb2.VerifySignatureRequest(
        app_id=s["app_id"], scheme=signer_pb2.SIGNATURE_SCHEME_USER_SIGNATURE, payload=s["sign_data"],
        signature=s["signature"], session_key=s["session_key"]))
    return "" if pay_sig.valid and user.valid else f"pay_sig valid={pay_sig.valid}, signature valid={user.valid}"


def result(name: str, error: str = "", **fields) -> dict:
    """One output line: name, ok, error when not ok, and the non-empty fields."""
    line = {"name": name, "ok": not error}
    if error:
        line["error"] = error
    line.update({k: v for k, v in fields.items() if v})
    return line


def run_case(client, case: dict) -> dict:
    info = CallInfo()
    try:
        run(client, case, info)
    except (AssertionError, PaysigError) as failure:
        return result(case["name"], str(failure) or "assertion failed", request_id=info.request_id)
    return result(case["name"], request_id=info.request_id)


def verify_lines(client, lines) -> list[dict]:
    """Verifies the "signed" entries of a sign output's lines."""
    out = []
    for line in lines:
        if line.strip() and "signed" in (entry := json.loads(line)):
            try:
                out.append(result(entry["name"], verify(client, entry["signed"])))
            except PaysigError as error:
                out.append(result(entry["name"], str(error)))
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="runner.py")
    parser.add_argument("command", choices=["cases", "sign", "verify"])
    parser.add_argument("-target", required=True)
    parser.add_argument("-cases", default=str(CASES_PATH))
    parser.add_argument("-signed")
    args = parser.parse_args(argv)
    with Client(args.target) as client:
        if args.command == "cases":
            cases = json.loads(Path(args.cases).read_text(encoding="utf-8"))["cases"]
            results = [run_case(client, case) for case in cases]
        elif args.command == "sign":
            results = sign_all(client, json.loads(Path(args.cases).read_text(encoding="utf-8"))["cases"])
        else:
            if not args.signed:
                parser.error("verify needs -signed")
            results = verify_lines(client, Path(args.signed).read_text(encoding="utf-8").splitlines())
    for line in results:
        print(json.dumps(line))
    return 0 if results and all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
