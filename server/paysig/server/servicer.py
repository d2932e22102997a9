"""The SignerService servicer: hands each call to the pipeline and maps
domain errors to gRPC statuses. No signing or access logic lives here."""

from __future__ import annotations

import logging
from collections.abc import Callable

import grpc
from paysig.v1 import signer_pb2 as pb
from paysig.v1 import signer_pb2_grpc

from .errors import PaysigError
from .ops.sign_api_call import sign_api_call
from .ops.sign_order import sign_order
from .ops.verify_signature import verify_signature
from .pipeline import Pipeline
from .status import to_grpc_status

log = logging.getLogger("paysig")


def _rpc(name: str, operation: Callable):
    def handler(self: "SignerServicer", request, context: grpc.ServicerContext):
        try:
            return self._pipeline.run(name, operation, request, context)
        except PaysigError as error:
            context.abort_with_status(to_grpc_status(error))
        except Exception as error:  # noqa: BLE001 - never leak a trace or data to the caller
            log.error("internal error", extra={"fields": {"rpc": name, "error": type(error).__name__}})
            context.abort(grpc.StatusCode.INTERNAL, "internal error")

    handler.__name__ = name
    return handler


def _batch(name: str, item_rpc: str, operation: Callable, response_type: type, result_type: type):
    def handler(self: "SignerServicer", request, context: grpc.ServicerContext):
        try:
            return self._pipeline.run_batch(name, item_rpc, operation, request, response_type, result_type, context)
        except PaysigError as error:
            context.abort_with_status(to_grpc_status(error))
        except Exception as error:  # noqa: BLE001 - never leak a trace or data to the caller
            log.error("internal error", extra={"fields": {"rpc": name, "error": type(error).__name__}})
            context.abort(grpc.StatusCode.INTERNAL, "internal error")

    handler.__name__ = name
    return handler


class SignerServicer(signer_pb2_grpc.SignerServiceServicer):
    def __init__(self, pipeline: Pipeline):
        self._pipeline = pipeline

    SignOrder = _rpc("SignOrder", sign_order)
    SignApiCall = _rpc("SignApiCall", sign_api_call)
    VerifySignature = _rpc("VerifySignature", verify_signature)
    BatchSignOrders = _batch("BatchSignOrders", "SignOrder", sign_order, pb.BatchSignOrdersResponse,
                             pb.SignOrderResult)
    BatchSignApiCalls = _batch("BatchSignApiCalls", "SignApiCall", sign_api_call, pb.BatchSignApiCallsResponse,
                               pb.SignApiCallResult)
