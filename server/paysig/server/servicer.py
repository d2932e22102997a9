"""The SignerService servicer: hands each call to the pipeline and maps
domain errors to gRPC statuses. No signing or access logic lives here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from paysig.v1 import signer_pb2 as pb
from paysig.v1 import signer_pb2_grpc

from .errors import Code, PaysigError
from .ops.sign_api_call import sign_api_call
from .ops.sign_order import sign_order
from .ops.verify_notification import verify_notification
from .ops.verify_signature import verify_signature
from .pipeline import Pipeline, new_request_id
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


def serializer(message_type: type) -> Callable[[Any], bytes]:
    """Serializes a response, or passes on the bytes the fast path encoded."""
    serialize = message_type.SerializeToString

    def encode(response) -> bytes:
        return response if type(response) is bytes else serialize(response)

    return encode


def generic_handler(servicer: "SignerServicer") -> grpc.GenericRpcHandler:
    """SignerService's handlers, built from its descriptor with tolerant
    request deserializers (grpcio would answer undecodable bytes INTERNAL)."""
    service = pb.DESCRIPTOR.services_by_name["SignerService"]
    handlers = {
        m.name: grpc.unary_unary_rpc_method_handler(
            getattr(servicer, m.name),
            request_deserializer=tolerant_deserializer(getattr(pb, m.input_type.name)),
            response_serializer=serializer(getattr(pb, m.output_type.name)))
        for m in service.methods
    }
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def _handler(name: str, run: Callable[[Pipeline, Any, grpc.ServicerContext, str], Any]):
    """A grpc method: request id, undecodable requests, ``run`` through the
    pipeline, domain errors to rich statuses, and nothing of a bug leaked."""

    def handler(self: "SignerServicer", request, context: grpc.ServicerContext):
        request_id = new_request_id()
        if isinstance(request, Undecodable):
            context.abort_with_status(to_grpc_status(request.error(), request_id))
        try:
            response = run(self._pipeline, request, context, request_id)
            context.set_trailing_metadata(((REQUEST_ID_KEY, request_id),))
            return response
        except PaysigError as error:
            context.abort_with_status(to_grpc_status(error, request_id))
        except Exception as error:  # noqa: BLE001 - never leak a trace or data to the caller
            log.error("internal error", extra={"fields": {"rpc": name, "error": type(error).__name__}})
            context.abort(grpc.StatusCode.INTERNAL, "internal error")

    handler.__name__ = name
    return handler


def _rpc(name: str, operation: Callable, fast: bool = False):
    return _handler(name, lambda pipeline, request, context, request_id:
                    pipeline.run(name, operation, request, context, request_id, fast))


def _batch(name: str, item_rpc: str, operation: Callable, response_type: type, result_type: type,
           fast: bool = False):
    return _handler(name, lambda pipeline, request, context, request_id:
                    pipeline.run_batch(name, item_rpc, operation, request, response_type, result_type, context,
                                       request_id, fast))


class SignerServicer(signer_pb2_grpc.SignerServiceServicer):
    def __init__(self, pipeline: Pipeline):
        self._pipeline = pipeline

    SignOrder = _rpc("SignOrder", sign_order, fast=True)
    SignApiCall = _rpc("SignApiCall", sign_api_call)
    VerifySignature = _rpc("VerifySignature", verify_signature)
    VerifyNotification = _rpc("VerifyNotification", verify_notification)
    BatchSignOrders = _batch("BatchSignOrders", "SignOrder", sign_order, pb.BatchSignOrdersResponse,
                             pb.SignOrderResult, fast=True)
    BatchSignApiCalls = _batch("BatchSignApiCalls", "SignApiCall", sign_api_call, pb.BatchSignApiCallsResponse,
                               pb.SignApiCallResult)
