"""Typed errors carrying the server's rich error details and request id."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "paysig.v1"
REQUEST_ID_KEY = "x-request-id"  # trailing metadata of every answer; the server's audit line carries it


@dataclasses.dataclass(frozen=True)
class FieldViolation:
    """One broken rule: ``field`` (e.g. "order.out_trade_no"), ``reason``
    (REQUIRED, NOT_ALLOWED, FORMAT, OUT_OF_RANGE, TOO_LONG, MISMATCH,
    UNSUPPORTED) and a ``description`` of what the field must be."""

    field: str
    reason: str
    description: str


@dataclasses.dataclass
class CallInfo:
    """Filled in by a call given ``info=CallInfo()``, on success and failure:
    ``request_id`` is the server's id of the call (its audit line and logs
    carry it), empty when the call never reached a paysig server."""

    request_id: str = ""


def request_id_of(metadata: Iterable[tuple[str, Any]] | None) -> str:
    """The x-request-id of trailing metadata (grpc or grpc.aio), or ""."""
    for key, value in metadata or ():
        if key == REQUEST_ID_KEY:
            return value.decode() if isinstance(value, bytes) else value
    return ""


class PaysigError(Exception):
    """A failed paysig call.

    ``code`` is the grpc.StatusCode, ``reason`` the stable ErrorInfo reason
    (empty when the failure did not come from paysig, e.g. UNAVAILABLE from
    the transport), ``violations`` every broken field rule, ``request_id``
    the server's id of the call (empty when it never reached a server),
    ``retry_delay`` the seconds the server asks to wait before retrying (its
    google.rpc.RetryInfo, e.g. with RATE_LIMITED; None when it gave none) and
    ``status`` the whole google.rpc.Status the server sent, if any.
    """

    def __init__(self, code: grpc.StatusCode, message: str, reason: str = "",
                 violations: tuple[FieldViolation, ...] = (), *, request_id: str = "",
                 retry_delay: float | None = None, status: status_pb2.Status | None = None):
        text = f"{code.name} ({reason}): {message}" if reason else f"{code.name}: {message}"
        super().__init__(f"{text} [request id {request_id}]" if request_id else text)
        self.code = code
        self.message = message
        self.reason = reason
        self.violations = violations
        self.request_id = request_id
        self.retry_delay = retry_delay
        self.status = status

    def violation(self, field: str) -> FieldViolation | None:
        return next((v for v in self.violations if v.field == field), None)

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> "PaysigError":
        """Works for grpc and grpc.aio errors alike (both are calls whose
        trailing metadata is at hand)."""
        try:
            status = rpc_status.from_call(error)
        except ValueError:  # details that contradict the status: not paysig's
            status = None
        reason, violations, retry_delay = "", [], None
        for detail in status.details if status is not None else ():
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                if info.domain == ERROR_DOMAIN:
                    reason = info.reason
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [FieldViolation(v.field, v.reason, v.description) for v in bad.field_violations]
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                retry_delay = retry.retry_delay.ToNanoseconds() / 1e9
        return cls(error.code(), error.details() or "", reason, tuple(violations),
                   request_id=request_id_of(error.trailing_metadata()), retry_delay=retry_delay, status=status)
