"""The [limits] config section and the per-caller cap on work in flight.

    [limits]
    max_connections = 1000               # per worker process; more are closed at once
    idle_timeout_seconds = 300           # a connection without calls for this long gets GOAWAY
    max_items_in_flight_per_caller = 1000   # per worker process; a batch item counts one

The request size limit is MAX_REQUEST_BYTES, not a setting: the proto and the
README quote it (tests/test_limits.py checks they agree).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from . import _sysio
from .config_errors import ConfigError, reject_unknown
from .errors import Code, PaysigError

MAX_REQUEST_BYTES = 2 * 1024 * 1024  # a batch of 1,000 orders with every field at its limit is about 1.6 MiB
MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # that batch's answer is about 7 MiB


@dataclasses.dataclass(frozen=True)
class Limits:
    max_connections: int = 1000
    idle_timeout_seconds: float = 300.0
    # One full batch (pipeline.MAX_BATCH_ITEMS) per caller and worker at a time: bench/fairness.py measured
    # another caller's p99 at 144 ms with 1000, 309 ms with 2000 and 485 ms without a cap (loaded 2-core machine).
    max_items_in_flight_per_caller: int = 1000


_BOUNDS = {  # field: (lowest, highest, type)
    "max_connections": (1, 1_000_000, int),
    "idle_timeout_seconds": (0.1, 86_400.0, float),
    "max_items_in_flight_per_caller": (1, 1_000_000, int),
}


def parse_limits(raw: Any, where: str) -> Limits:
    if raw is None:
        return Limits()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    reject_unknown(raw, set(_BOUNDS), where)
    values = {}
    for field, (low, high, kind) in _BOUNDS.items():
        if field not in raw:
            continue
        value = raw[field]
        number_ok = isinstance(value, int) if kind is int else isinstance(value, (int, float))
        if isinstance(value, bool) or not number_ok or not low <= value <= high:
            what = f"a whole number from {low} to {high}" if kind is int else f"a number from {low:g} to {high:g}"
            raise ConfigError(f"{where}: {field}: {what}")
        values[field] = kind(value)
    return Limits(**values)


DESCRIPTORS_BESIDES_CONNECTIONS = 64  # listeners, the audit file, pipes, gRPC's own


def ensure_descriptors(limits: Limits, where: str) -> int:
    """Raises this process's soft RLIMIT_NOFILE so that ``max_connections``
    connections fit (workers inherit it); ConfigError when even the hard
    limit is too low. Returns the soft limit in force."""
    import resource

    needed = limits.max_connections + DESCRIPTORS_BESIDES_CONNECTIONS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise ConfigError(f"{where}: max_connections: {limits.max_connections} connections need about "
                              f"{needed} file descriptors, and this process may open at most {hard} "
                              "(ulimit -n): lower max_connections or raise the limit")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        soft = needed
    return soft


class InFlight:
    """Items in flight per caller in this process. ``enter`` admits a call
    when the caller has nothing in flight or stays within the cap, else
    raises RESOURCE_EXHAUSTED (CONCURRENCY_LIMITED); ``leave`` gives back
    what this thread's call took. A call runs on one thread from admission to
    answer, so what a thread holds is kept in a thread-local."""

    def __init__(self) -> None:
        self._lock = _sysio.Mutex()
        self._counts: dict[str, int] = {}
        self._held = threading.local()

    def enter(self, name: str, cost: int, cap: int) -> None:
        self.leave()  # anything this thread still holds belongs to an earlier call that ended by an exception
        with self._lock:
            current = self._counts.get(name, 0)
            if current and current + cost > cap:
                raise PaysigError(Code.RESOURCE_EXHAUSTED, "CONCURRENCY_LIMITED",
                                  f"caller {name!r} has {current} items in flight; {cost} more exceed its "
                                  f"limit of {cap} (limits.max_items_in_flight_per_caller)", retry_after=0.05)
            self._counts[name] = current + cost
        self._held.value = (name, cost)

    def leave(self) -> None:
        held = getattr(self._held, "value", None)
        if held is None:
            return
        self._held.value = None
        name, cost = held
        with self._lock:
            left = self._counts[name] - cost
            if left:
                self._counts[name] = left
            else:
                del self._counts[name]

    def count(self, name: str) -> int:
        with self._lock:
            return self._counts.get(name, 0)
