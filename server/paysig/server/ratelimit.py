"""Per-caller token buckets. They live with the server, not the config, so a
reload keeps what each caller has spent."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .access import Caller, RateLimit
from .errors import Code, PaysigError


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[RateLimit, float, float]] = {}  # name -> (limit, tokens, at)

    def take(self, caller: Caller, cost: int = 1) -> None:
        """Spends ``cost`` tokens of the caller's bucket, or raises RESOURCE_EXHAUSTED."""
        limit = caller.rate
        if limit is None:
            return
        with self._lock:
            now = self._clock()
            old_limit, tokens, at = self._buckets.get(caller.name, (limit, limit.burst, now))
            if old_limit != limit:
                tokens = min(tokens, limit.burst)
            tokens = min(limit.burst, tokens + (now - at) * limit.per_second)
            if cost > limit.burst:
                raise PaysigError(Code.RESOURCE_EXHAUSTED, "RATE_LIMITED",
                                  f"{cost} items exceed caller {caller.name!r}'s burst of {limit.burst:g}")
            if tokens < cost:
                self._buckets[caller.name] = (limit, tokens, now)
                raise PaysigError(Code.RESOURCE_EXHAUSTED, "RATE_LIMITED",
                                  f"caller {caller.name!r} is over its rate limit of {limit.per_second:g}/s",
                                  retry_after=(cost - tokens) / limit.per_second)
            self._buckets[caller.name] = (limit, tokens - cost, now)
