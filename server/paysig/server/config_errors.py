"""Helpers every config section uses: the error type, unknown-field checks and
reading secret files that only their owner can read."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """The config cannot be used; the message says where and why."""


def reject_unknown(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")


def exposure(st: os.stat_result) -> str | None:
    """Why a file holding secrets is too open, or None.

    The rule PostgreSQL applies to its TLS key: others may never have access;
    the group may read (no more) only when root owns the file and paysig does
    not run as root, which is how a platform hands a secret to a service
    (Kubernetes secret volumes with fsGroup are root-owned, mode 0440)."""
    group, others = st.st_mode & stat.S_IRWXG, st.st_mode & stat.S_IRWXO
    platform_provided = st.st_uid == 0 and os.geteuid() != 0
    if others or (group and not (platform_provided and group == stat.S_IRGRP)):
        return f"is accessible by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def read_secret_file(path: Path, where: str) -> bytes:
    """Reads a key file that nobody else can read (see ``exposure``). A
    missing file is not named: the name may be a key typed into the wrong field."""
    try:
        problem = exposure(os.stat(path))
        if problem:
            raise ConfigError(f"{where}: {path} {problem}; run: chmod 600 {path}")
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{where}: cannot read the file: no such file (its name is not shown: "
                          "it may be a key typed into the wrong field)") from None
    except OSError as e:
        raise ConfigError(f"{where}: cannot read {path}: {e.strerror}") from None
