"""Domain errors. The gRPC layer maps them to a status with rich details.

A message names the field and the rule and never contains a key, a
session_key, a signature or the value that broke the rule.
"""

from __future__ import annotations

import dataclasses
import enum

ERROR_DOMAIN = "paysig.v1"


class Code(enum.Enum):
    """The gRPC status codes the domain raises (names match grpc.StatusCode)."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"


class Rule(enum.Enum):
    """Stable reasons of field violations."""

    REQUIRED = "REQUIRED"
    NOT_ALLOWED = "NOT_ALLOWED"
    FORMAT = "FORMAT"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    TOO_LONG = "TOO_LONG"
    MISMATCH = "MISMATCH"
    UNSUPPORTED = "UNSUPPORTED"


@dataclasses.dataclass(frozen=True)
class Violation:
    field: str
    rule: Rule
    description: str


class PaysigError(Exception):
    """A request the service refuses; ``reason`` is the stable ErrorInfo reason,
    ``retry_after`` (seconds) becomes a google.rpc.RetryInfo."""

    def __init__(self, code: Code, reason: str, message: str, violations: tuple[Violation, ...] = (),
                 retry_after: float | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.violations = violations
        self.retry_after = retry_after


class Violations:
    """Collects every broken rule of a request, so one answer lists them all."""

    def __init__(self) -> None:
        self._items: list[Violation] = []

    def add(self, field: str, rule: Rule, description: str) -> None:
        self._items.append(Violation(field, rule, description))

    def __bool__(self) -> bool:
        return bool(self._items)

    def raise_if_any(self, request_name: str) -> None:
        if self._items:
            detail = "; ".join(f"{v.field}: {v.description}" for v in self._items)
            raise PaysigError(
                Code.INVALID_ARGUMENT,
                "INVALID_REQUEST",
                f"invalid {request_name}: {detail}",
                tuple(self._items),
            )


def app_not_found(app_id_field: str = "app_id") -> PaysigError:
    return PaysigError(Code.NOT_FOUND, "APP_NOT_FOUND", f"{app_id_field}: no app with this app_id is configured")


def key_not_configured(app_id: str, env_name: str) -> PaysigError:
    return PaysigError(
        Code.FAILED_PRECONDITION,
        "KEY_NOT_CONFIGURED",
        f"env: app {app_id!r} has no {env_name} AppKey configured",
    )
