"""The pipeline's contract, in process: every RPC has its RpcSpec, matching
the proto; every answer is serialized response bytes; a call is counted and
audited once whichever path answers it, also when its audit line cannot be
written."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format
from prometheus_client import REGISTRY

from paysig.server import fastpath, load_config, metrics
from paysig.server.audit import AuditLog, AuditSettings
from paysig.server.errors import PaysigError
from paysig.server.pipeline import Pipeline
from paysig.server.ratelimit import RateLimiter
from paysig.server.servicer import SPECS
from paysig.server.state import ConfigHolder
from paysig.v1 import signer_pb2 as pb
from support import CASES, CONFORMANCE_CONFIG, FakeContext

SERVICE = pb.DESCRIPTOR.services_by_name["SignerService"]
SIGNED = [c for c in json.loads(CASES.read_text(encoding="utf-8"))["cases"]
          if c["rpc"] == "SignOrder" and "response" in c["expect"]]


def test_every_method_has_its_spec_with_the_proto_types():
    assert set(SPECS) == {m.name for m in SERVICE.methods}
    for method in SERVICE.methods:
        spec = SPECS[method.name]
        assert spec.request_type.DESCRIPTOR is method.input_type
        assert spec.response_type.DESCRIPTOR is method.output_type
        if spec.batch:
            item = SPECS[spec.item_name]
            assert method.input_type.fields_by_name["requests"].message_type is item.request_type.DESCRIPTOR
            results = method.output_type.fields_by_name["results"]
            assert results.message_type is spec.result_type.DESCRIPTOR
            assert spec.result_type.DESCRIPTOR.fields_by_name["response"].message_type is item.response_type.DESCRIPTOR
            assert (spec.operation, spec.fast) == (item.operation, item.fast)
        else:
            assert spec.item_name == spec.name and spec.result_type is None


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
def test_an_unwritable_audit_fails_the_call_once(fast):
    """fail_closed: AUDIT_UNAVAILABLE, and the call and the failure counted
    once, whichever path signed (the fast path's failure is not audited and
    counted a second time as a reference-path refusal)."""
    if fast:
        assert fastpath.AVAILABLE
    metrics.get()
    pipeline = Pipeline(ConfigHolder(load_config(CONFORMANCE_CONFIG)), AuditLog(AuditSettings(path="/dev/full")),
                        RateLimiter(), fast=fast)
    request = json_format.ParseDict(SIGNED[0]["request"], pb.SignOrderRequest())
    batch = pb.BatchSignOrdersRequest(requests=[request, request])
    for spec, call in ((SPECS["SignOrder"], pipeline.run), (SPECS["BatchSignOrders"], pipeline.run_batch)):
        calls = sample("paysig_calls_total", rpc=spec.name, code="UNAVAILABLE")
        failures = sample("paysig_audit_write_failures_total")
        with pytest.raises(PaysigError) as raised:
            call(spec, batch if spec.batch else request, FakeContext(), "rid")
        assert raised.value.reason == "AUDIT_UNAVAILABLE"
        assert sample("paysig_calls_total", rpc=spec.name, code="UNAVAILABLE") == calls + 1
        assert sample("paysig_audit_write_failures_total") == failures + 1


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
def test_answers_are_serialized_responses(tmp_path, fast):
    pipeline = Pipeline(ConfigHolder(load_config(CONFORMANCE_CONFIG)),
                        AuditLog(AuditSettings(path=str(tmp_path / "audit.log"))), RateLimiter(), fast=fast)
    requests = [json_format.ParseDict(c["request"], pb.SignOrderRequest()) for c in SIGNED]
    for request, case in zip(requests, SIGNED):
        answer = pipeline.run(SPECS["SignOrder"], request, FakeContext())
        assert type(answer) is bytes
        assert pb.SignOrderResponse.FromString(answer) == json_format.ParseDict(case["expect"]["response"],
                                                                                pb.SignOrderResponse())
    invalid = pb.SignOrderRequest(app_id="unknown-app")
    answer = pipeline.run_batch(SPECS["BatchSignOrders"], pb.BatchSignOrdersRequest(requests=[*requests, invalid]),
                                FakeContext())
    assert type(answer) is bytes
    results = pb.BatchSignOrdersResponse.FromString(answer).results
    assert [r.response for r in results[:-1]] == [pb.SignOrderResponse.FromString(
        pipeline.run(SPECS["SignOrder"], r, FakeContext())) for r in requests]
    assert results[-1].WhichOneof("outcome") == "error"


@pytest.mark.parametrize("rpc", ["SignOrder", "BatchSignOrders"])
@pytest.mark.parametrize("as_bytes", [False, True], ids=["message", "bytes"])
def test_a_bug_in_the_fast_path_is_audited_answered_internal_and_gives_back_the_items_in_flight(
        tmp_path, monkeypatch, rpc, as_bytes):
    from paysig.server.limits import InFlight

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(fastpath.FastOrders, "sign", broken)
    inflight = InFlight()
    audit = tmp_path / "audit.log"
    pipeline = Pipeline(ConfigHolder(load_config(CONFORMANCE_CONFIG)), AuditLog(AuditSettings(path=str(audit))),
                        RateLimiter(), inflight=inflight)
    request = json_format.ParseDict(SIGNED[0]["request"], pb.SignOrderRequest())
    spec = SPECS[rpc]
    if rpc == "BatchSignOrders":
        request = pb.BatchSignOrdersRequest(requests=[request, request])
    if as_bytes:
        request = fastpath.RawOrders.scan(request.SerializeToString(), spec.batch)
        assert request is not None
    run = pipeline.run_batch if spec.batch else pipeline.run
    with pytest.raises(PaysigError) as raised:
        run(spec, request, FakeContext(), "req-1")
    assert raised.value.code.value == "INTERNAL" and "a bug" not in raised.value.message
    line = json.loads(audit.read_text())
    assert (line["request_id"], line["rpc"], line["code"]) == ("req-1", rpc, "INTERNAL")
    assert inflight.count(line["caller"]) == 0
