"""Typed errors carrying the server's rich error details."""

from __future__ import annotations

import dataclasses

import grpc
from google.rpc import error_details_pb2, status_pb2

ERROR_DOMAIN = "paysig.v1"
_DETAILS_KEY = "grpc-status-details-bin"


@dataclasses.dataclass(frozen=True)
class FieldViolation:
    """One broken rule: ``field`` (e.g. "order.out_trade_no"), ``reason``
    (REQUIRED, NOT_ALLOWED, FORMAT, OUT_OF_RANGE, TOO_LONG, MISMATCH,
    UNSUPPORTED) and a ``description`` of what the field must be."""

    field: str
    reason: str
    description: str


class PaysigError(Exception):
    """A failed paysig call.

    ``code`` is the grpc.StatusCode, ``reason`` the stable ErrorInfo reason
    (empty when the failure did not come from paysig, e.g. UNAVAILABLE from
    the transport) and ``violations`` every broken field rule.
    """

    def __init__(self, code: grpc.StatusCode, message: str, reason: str = "",
                 violations: tuple[FieldViolation, ...] = ()):
        super().__init__(f"{code.name} ({reason}): {message}" if reason else f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.reason = reason
        self.violations = violations

    def violation(self, field: str) -> FieldViolation | None:
        return next((v for v in self.violations if v.field == field), None)

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> "PaysigError":
        """Works for grpc and grpc.aio errors alike."""
        reason, violations = "", []
        for key, value in error.trailing_metadata() or ():
            if key != _DETAILS_KEY:
                continue
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    if info.domain == ERROR_DOMAIN:
                        reason = info.reason
                elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    violations += [FieldViolation(v.field, v.reason, v.description) for v in bad.field_violations]
        return cls(error.code(), error.details() or "", reason, tuple(violations))
