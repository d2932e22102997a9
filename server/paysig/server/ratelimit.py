"""Per-caller token buckets, shared by every worker process of a server.

The buckets live in a shared memory table (a memfd mapped MAP_SHARED) that
the supervisor creates before it forks the workers, so a caller's rate and
burst hold for the whole server, whatever the number of workers. A
``fcntl`` record lock on the memfd serializes the processes (the kernel drops
it when a process dies, so a killed worker never leaves it held; _sysio takes
it without handing the GIL to another thread unless another worker holds it)
and a thread lock the threads of one process. The clock is CLOCK_MONOTONIC,
which all processes share.

The buckets belong to the server, not the config: a reload keeps what each
caller has spent (a changed limit caps the tokens at the new burst).
"""

from __future__ import annotations

import mmap
import os
import struct
import tempfile
import time
import zlib
from collections.abc import Callable

from . import _sysio
from .access import Caller
from .errors import Code, PaysigError

SLOTS = 4096  # callers with a rate limit a server can track (a full, idle bucket's slot is reused)
_SLOT = struct.Struct("<B64sdddd")  # name length (0: free), name, per_second, burst, tokens, at
_NAME_BYTES = 64


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic, slots: int = SLOTS):
        self._clock = clock
        self._slots = slots
        self._thread_lock = _sysio.Mutex()
        if hasattr(os, "memfd_create"):
            self._fd = os.memfd_create("paysig-rate-limits", os.MFD_CLOEXEC)
        else:
            with tempfile.TemporaryFile() as f:
                self._fd = os.dup(f.fileno())
        os.ftruncate(self._fd, slots * _SLOT.size)
        self._table = mmap.mmap(self._fd, slots * _SLOT.size, mmap.MAP_SHARED)

    def take(self, caller: Caller, cost: int = 1) -> None:
        """Spends ``cost`` tokens of the caller's bucket, or raises RESOURCE_EXHAUSTED."""
        limit = caller.rate
        if limit is None:
            return
        if cost > limit.burst:
            raise PaysigError(Code.RESOURCE_EXHAUSTED, "RATE_LIMITED",
                              f"{cost} items exceed caller {caller.name!r}'s burst of {limit.burst:g}")
        name = caller.name.encode("utf-8")[:_NAME_BYTES]
        with self._thread_lock:
            _sysio.lock(self._fd)  # the other workers' calls; held for microseconds
            try:
                now = self._clock()
                offset, tokens, at = self._find(name, now)
                if tokens is None:
                    tokens = limit.burst
                else:
                    tokens = min(limit.burst, tokens + max(0.0, now - at) * limit.per_second)
                if tokens < cost:
                    _SLOT.pack_into(self._table, offset, len(name), name, limit.per_second, limit.burst, tokens, now)
                    raise PaysigError(Code.RESOURCE_EXHAUSTED, "RATE_LIMITED",
                                      f"caller {caller.name!r} is over its rate limit of {limit.per_second:g}/s "
                                      f"(burst {limit.burst:g})", retry_after=(cost - tokens) / limit.per_second)
                _SLOT.pack_into(self._table, offset, len(name), name, limit.per_second, limit.burst,
                                tokens - cost, now)
            finally:
                _sysio.unlock(self._fd)

    def _find(self, name: bytes, now: float) -> tuple[int, float | None, float]:
        """(offset of the caller's slot, its tokens or None for a new bucket, its time)."""
        start = zlib.crc32(name) % self._slots
        reusable = None
        for i in range(self._slots):
            offset = ((start + i) % self._slots) * _SLOT.size
            length, stored, per_second, burst, tokens, at = _SLOT.unpack_from(self._table, offset)
            if length == 0:
                return offset, None, now
            if stored[:length] == name:
                return offset, tokens, at
            if reusable is None and tokens + (now - at) * per_second >= burst:
                reusable = offset  # a full bucket is the same as none
        if reusable is None:
            raise PaysigError(Code.RESOURCE_EXHAUSTED, "RATE_LIMITED",
                              f"the rate-limit table is full ({self._slots} callers spending)")
        return reusable, None, now

    def close(self) -> None:
        self._table.close()
        os.close(self._fd)
