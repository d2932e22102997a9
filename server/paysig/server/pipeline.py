"""What every SignerService call goes through: authenticate, authorize, rate
limit, run the operation, write the audit line; only then answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .audit import AuditLog, audit_unavailable, entry
from .errors import Code, PaysigError
from .ratelimit import RateLimiter
from .state import ConfigHolder

log = logging.getLogger("paysig")


class Pipeline:
    def __init__(self, holder: ConfigHolder, audit_log: AuditLog, limiter: RateLimiter):
        self._holder = holder
        self.audit_log = audit_log
        self._limiter = limiter

    def run(self, rpc: str, operation: Callable, request: Any, *, metadata: Sequence[tuple[str, Any]],
            auth_context: Mapping[str, Sequence[bytes]], peer: str) -> Any:
        config = self._holder.current
        caller, response, error = None, None, None
        try:
            caller = config.access.authenticate(metadata, auth_context)
            config.access.authorize(caller, rpc, request.app_id)
            self._limiter.take(caller)
            response = operation(config, request)
        except PaysigError as e:
            error = e
        except Exception as e:  # noqa: BLE001 - a bug: audited, answered as INTERNAL without details
            log.error("internal error", extra={"fields": {"rpc": rpc, "error": type(e).__name__}})
            error = PaysigError(Code.INTERNAL, "INTERNAL", "internal error")
        record = entry(rpc, request, response, error, caller.name if caller else "", peer)
        if not self.audit_log.write(record):
            log.error("audit write failed", extra={"fields": {"rpc": rpc, "fail_closed":
                                                              self.audit_log.settings.fail_closed}})
            if self.audit_log.settings.fail_closed:
                raise audit_unavailable()
        if error is not None:
            raise error
        return response
