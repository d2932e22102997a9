"""The SignerService servicer: each RPC described once (``SPECS``: its
operation, message types, batch items, fast path), each call handed to the
pipeline with its RpcSpec, domain errors mapped to gRPC statuses. No signing
or access logic lives here. A new RPC: its operation under ops/, its RpcSpec
in SPECS, its handler on SignerServicer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from paysig.v1 import signer_pb2 as pb
from paysig.v1 import signer_pb2_grpc

from .errors import Code, PaysigError
from .fastpath import RawOrders
from .ops.diagnose_signature import diagnose_signature
from .ops.sign_api_call import sign_api_call
from .ops.sign_order import sign_order
from .ops.verify_notification import verify_notification
from .ops.verify_signature import verify_signature
from .pipeline import Pipeline, RpcSpec, new_request_id
from .status import to_grpc_status

log = logging.getLogger("paysig")
REQUEST_ID_KEY = "x-request-id"  # in every answer's trailing metadata, and in its audit line


class Undecodable:
    """Stands for request bytes that are not a valid message of the RPC's
    request type (e.g. a string field that is not UTF-8)."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def error(self) -> PaysigError:
        return PaysigError(Code.INVALID_ARGUMENT, "MALFORMED_REQUEST",
                           f"the request is not a valid {self.type_name} message (string fields must be UTF-8)")


def tolerant_deserializer(message_type: type) -> Callable[[bytes], Any]:
    name = message_type.DESCRIPTOR.full_name

    def parse(data: bytes):
        try:
            return message_type.FromString(data)
        except DecodeError:
            return Undecodable(name)

    return parse


def fast_deserializer(spec: RpcSpec) -> Callable[[bytes], Any]:
    """For the RPCs the fast path signs: the request as its bytes
    (fastpath.RawOrders) when _fastsign reads it, else as protobuf parses it."""
    parse = tolerant_deserializer(spec.request_type)

    def read(data: bytes):
        raw = RawOrders.scan(data, spec.batch)
        return parse(data) if raw is None else raw

    return read


def generic_handler(servicer: "SignerServicer") -> grpc.GenericRpcHandler:
    """SignerService's handlers, one per method of its descriptor (each must
    have its RpcSpec), with tolerant request deserializers (grpcio would answer
    undecodable bytes INTERNAL; the fast path's RPCs keep the bytes it reads)
    and no response serializer: the pipeline answers serialized responses."""
    service = pb.DESCRIPTOR.services_by_name["SignerService"]
    handlers = {}
    for m in service.methods:
        spec = SPECS[m.name]
        read = fast_deserializer(spec) if spec.fast else tolerant_deserializer(spec.request_type)
        handlers[m.name] = grpc.unary_unary_rpc_method_handler(getattr(servicer, m.name), request_deserializer=read)
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def _handler(spec: RpcSpec):
    """A grpc method: request id, undecodable requests, the call through the
    pipeline, domain errors to rich statuses, and nothing of a bug leaked."""
    run = Pipeline.run_batch if spec.batch else Pipeline.run

    def handler(self: "SignerServicer", request, context: grpc.ServicerContext) -> bytes:
        request_id = new_request_id()
        try:
            if isinstance(request, Undecodable):
                raise self._pipeline.refuse(spec, request.error(), context, request_id)
            answer = run(self._pipeline, spec, request, context, request_id)
            context.set_trailing_metadata(((REQUEST_ID_KEY, request_id),))
            return answer
        except PaysigError as error:
            context.abort_with_status(to_grpc_status(error, request_id))
        except Exception as error:  # noqa: BLE001 - never leak a trace or data to the caller
            log.error("internal error", extra={"fields": {"rpc": spec.name, "error": type(error).__name__}})
            context.abort(grpc.StatusCode.INTERNAL, "internal error")

    handler.__name__ = spec.name
    return handler


SPECS: dict[str, RpcSpec] = {spec.name: spec for spec in (
    RpcSpec("SignOrder", "SignOrder", sign_order, pb.SignOrderRequest, pb.SignOrderResponse, fast=True),
    RpcSpec("SignApiCall", "SignApiCall", sign_api_call, pb.SignApiCallRequest, pb.SignApiCallResponse),
    RpcSpec("VerifySignature", "VerifySignature", verify_signature, pb.VerifySignatureRequest,
            pb.VerifySignatureResponse),
    RpcSpec("VerifyNotification", "VerifyNotification", verify_notification, pb.VerifyNotificationRequest,
            pb.VerifyNotificationResponse),
    RpcSpec("BatchSignOrders", "SignOrder", sign_order, pb.BatchSignOrdersRequest, pb.BatchSignOrdersResponse,
            pb.SignOrderResult, fast=True),
    RpcSpec("BatchSignApiCalls", "SignApiCall", sign_api_call, pb.BatchSignApiCallsRequest,
            pb.BatchSignApiCallsResponse, pb.SignApiCallResult),
    RpcSpec("DiagnoseSignature", "DiagnoseSignature", diagnose_signature, pb.DiagnoseSignatureRequest,
            pb.DiagnoseSignatureResponse),
)}


class SignerServicer(signer_pb2_grpc.SignerServiceServicer):
    def __init__(self, pipeline: Pipeline):
        self._pipeline = pipeline

    SignOrder = _handler(SPECS["SignOrder"])
    SignApiCall = _handler(SPECS["SignApiCall"])
    VerifySignature = _handler(SPECS["VerifySignature"])
    VerifyNotification = _handler(SPECS["VerifyNotification"])
    BatchSignOrders = _handler(SPECS["BatchSignOrders"])
    BatchSignApiCalls = _handler(SPECS["BatchSignApiCalls"])
    DiagnoseSignature = _handler(SPECS["DiagnoseSignature"])
