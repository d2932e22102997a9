"""PaysigError -> google.rpc.Status with ErrorInfo and BadRequest details."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from .errors import ERROR_DOMAIN, PaysigError

MAX_RETRY_SECONDS = 315_576_000_000  # the largest google.protobuf.Duration (10,000 years)


def to_grpc_status(error: PaysigError, request_id: str = "") -> grpc.Status:
    details = []
    if error.violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description, reason=v.rule.value
                )
                for v in error.violations
            ]
        )
        details.append(_pack(bad_request))
    details.append(_pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN)))
    if error.retry_after is not None:
        retry = error_details_pb2.RetryInfo()
        # A caller with a tiny rate waits longer than a Duration can say (or than a float holds in ns).
        retry.retry_delay.FromSeconds(MAX_RETRY_SECONDS) if error.retry_after >= MAX_RETRY_SECONDS \
            else retry.retry_delay.FromNanoseconds(int(error.retry_after * 1e9))
        details.append(_pack(retry))
    status = status_pb2.Status(
        code=code_pb2.Code.Value(error.code.value), message=error.message, details=details
    )
    result = rpc_status.to_status(status)
    if not request_id:
        return result
    return _Status(result.code, result.details, tuple(result.trailing_metadata) + (("x-request-id", request_id),))


class _Status(grpc.Status):
    def __init__(self, code, details, trailing_metadata):
        self.code, self.details, self.trailing_metadata = code, details, trailing_metadata


def _pack(message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed
