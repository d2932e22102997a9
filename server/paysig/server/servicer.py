"""The SignerService servicer: reads the current config, calls the operation,
maps domain errors to gRPC statuses. No signing logic lives here."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import grpc
from paysig.v1 import signer_pb2_grpc

from .config import Config
from .errors import PaysigError
from .ops.sign_api_call import sign_api_call
from .ops.sign_order import sign_order
from .ops.verify_signature import verify_signature
from .status import to_grpc_status

log = logging.getLogger("paysig")


class ConfigHolder:
    """The config generation in force. Each call reads it once, so a reload
    (a single reference swap) never changes the state under a running call."""

    def __init__(self, config: Config):
        self._config = config
        self._lock = threading.Lock()

    @property
    def current(self) -> Config:
        return self._config

    def replace(self, config: Config) -> None:
        with self._lock:
            self._config = config


def _rpc(name: str, operation: Callable):
    def handler(self: "SignerServicer", request, context: grpc.ServicerContext):
        try:
            return operation(self._holder.current, request)
        except PaysigError as error:
            context.abort_with_status(to_grpc_status(error))
        except Exception as error:  # noqa: BLE001 - never leak a trace or data to the caller
            log.error("internal error in %s: %s", name, type(error).__name__)
            context.abort(grpc.StatusCode.INTERNAL, "internal error")

    handler.__name__ = name
    return handler


class SignerServicer(signer_pb2_grpc.SignerServiceServicer):
    def __init__(self, holder: ConfigHolder):
        self._holder = holder

    SignOrder = _rpc("SignOrder", sign_order)
    SignApiCall = _rpc("SignApiCall", sign_api_call)
    VerifySignature = _rpc("VerifySignature", verify_signature)
