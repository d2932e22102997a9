"""Conformance runner: every case in cases.json through the generated Python stubs."""

import json

import grpc
import pytest
from google.protobuf import json_format

from paysig.v1 import signer_pb2
from support import CASES, error_details

CASE_LIST = json.loads(CASES.read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", CASE_LIST, ids=[c["name"] for c in CASE_LIST])
def test_case(stub, case):
    request = json_format.ParseDict(case["request"], getattr(signer_pb2, case["rpc"] + "Request")())
    expect = case["expect"]
    try:
        response = getattr(stub, case["rpc"])(request, timeout=10)
    except grpc.RpcError as error:
        assert "error" in expect, f"unexpected error {error.code().name}: {error.details()}"
        code, reason, violations, _ = error_details(error)
        assert code == expect["error"]["code"]
        assert reason == expect["error"]["reason"]
        assert sorted(violations) == sorted(tuple(v) for v in expect["error"].get("violations", []))
        return
    assert "response" in expect, f"expected {expect['error']}, got a response"
    actual = json_format.MessageToDict(response, preserving_proto_field_name=True,
                                       always_print_fields_with_no_presence=True)
    assert {k: actual.get(k) for k in expect["response"]} == expect["response"]
