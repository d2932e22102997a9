"""What every SignerService call goes through: authenticate, authorize, rate
limit, run the operation, write the audit lines; only then answer.

A batch is authenticated once and charged one rate-limit token per item;
each item is then authorized, run and audited exactly like the unary call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from paysig.v1 import signer_pb2 as pb

from .access import CallContext, Caller
from .audit import AuditLog, audit_unavailable, entry
from .config import Config
from .errors import Code, PaysigError, Rule, Violations
from .ratelimit import RateLimiter
from .state import ConfigHolder

log = logging.getLogger("paysig")
MAX_BATCH_ITEMS = 1000


class Pipeline:
    def __init__(self, holder: ConfigHolder, audit_log: AuditLog, limiter: RateLimiter):
        self._holder = holder
        self.audit_log = audit_log
        self._limiter = limiter

    def run(self, rpc: str, operation: Callable, request: Any, context: CallContext) -> Any:
        config = self._holder.current
        caller, response, error = None, None, None
        try:
            caller = config.access.authenticate(context)
            self._admit(config, caller, rpc, 1)
            response, error = self._apply(config, caller, rpc, operation, request)
        except PaysigError as e:
            error = e
        self._record([entry(rpc, rpc, request, response, error, caller, context.peer())])
        if error is not None:
            raise error
        return response

    def run_batch(self, rpc: str, item_rpc: str, operation: Callable, request: Any, response_type: type,
                  result_type: type, context: CallContext) -> Any:
        config = self._holder.current
        items = request.requests
        caller = None
        try:
            if not 1 <= len(items) <= MAX_BATCH_ITEMS:
                v = Violations()
                v.add("requests", Rule.REQUIRED if not items else Rule.TOO_LONG,
                      f"must hold 1 to {MAX_BATCH_ITEMS} requests")
                v.raise_if_any(type(request).__name__)
            caller = config.access.authenticate(context)
            self._admit(config, caller, rpc, len(items))
        except PaysigError as error:
            self._record([entry(rpc, item_rpc, None, None, error, caller, context.peer())])
            raise
        results, records, peer = [], [], context.peer()
        for item in items:
            response, error = self._apply(config, caller, item_rpc, operation, item)
            records.append(entry(rpc, item_rpc, item, response, error, caller, peer))
            results.append(result_type(response=response) if error is None else result_type(error=item_error(error)))
        self._record(records)
        return response_type(results=results)

    def _admit(self, config: Config, caller: Caller, rpc: str, cost: int) -> None:
        config.access.authorize_rpc(caller, rpc)
        self._limiter.take(caller, cost)

    @staticmethod
    def _apply(config: Config, caller: Caller, rpc: str, operation: Callable, request: Any):
        """(response, None) or (None, error) for one request."""
        try:
            config.access.authorize_app(caller, request.app_id)
            return operation(config, request), None
        except PaysigError as e:
            return None, e
        except Exception as e:  # noqa: BLE001 - a bug: audited, answered as INTERNAL without details
            log.error("internal error", extra={"fields": {"rpc": rpc, "error": type(e).__name__}})
            return None, PaysigError(Code.INTERNAL, "INTERNAL", "internal error")

    def _record(self, records: list[dict[str, Any]]) -> None:
        if self.audit_log.write(records):
            return
        log.error("audit write failed", extra={"fields": {"records": len(records),
                                                          "fail_closed": self.audit_log.settings.fail_closed}})
        if self.audit_log.settings.fail_closed:
            raise audit_unavailable()


def item_error(error: PaysigError) -> pb.ItemError:
    return pb.ItemError(code=error.code.value, message=error.message, reason=error.reason, violations=[
        pb.ItemFieldViolation(field=v.field, reason=v.rule.value, description=v.description)
        for v in error.violations])
