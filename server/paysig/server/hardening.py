"""Keeping secrets out of places other than paysig's memory: core dumps and
the environment block that /proc/PID/environ shows.

`paysig serve` calls ``disable_core_dumps`` first (``--allow-core-dumps``
skips it, to debug a crash on a machine without real keys); the config
loader calls ``erase_from_environment`` for every variable it reads a key from.
"""

from __future__ import annotations

import ctypes
import os
import resource

PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4
_STAT_ENV_START = 50  # fields of /proc/PID/stat (proc(5)), numbered from 1
_STAT_ENV_END = 51


def disable_core_dumps() -> None:
    """No core file (RLIMIT_CORE 0) and not dumpable (no core via a pipe
    handler such as systemd-coredump, no ptrace by other users, /proc/PID
    files owned by root); forked workers inherit both."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_DUMPABLE, 0): {os.strerror(errno)}")


def dumpable() -> bool:
    return ctypes.CDLL(None).prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0


def erase_from_environment(name: str) -> None:
    """Removes NAME from the environment: from os.environ and libc's environ
    (unsetenv), and overwrites NAME=value with zero bytes in the block the
    process started with, which is what /proc/PID/environ shows (unsetenv
    leaves it). Best effort without /proc: the variable is unset anyway."""
    os.environ.pop(name, None)
    libc = ctypes.CDLL(None)
    hidden = libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0
    if hidden:  # a process that is not dumpable cannot open its own /proc/self/mem unless root
        libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()  # after the command name, which may hold spaces
        start, end = int(fields[_STAT_ENV_START - 3]), int(fields[_STAT_ENV_END - 3])
        prefix = name.encode() + b"="
        with open("/proc/self/mem", "r+b", buffering=0) as mem:
            mem.seek(start)
            block = mem.read(end - start)
            offset = 0
            for variable in block.split(b"\0"):
                if variable.startswith(prefix):
                    mem.seek(start + offset)
                    mem.write(b"\0" * len(variable))
                offset += len(variable) + 1
    except (OSError, ValueError, IndexError):
        pass
    finally:
        if hidden:
            libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
