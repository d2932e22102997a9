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


def read_secret_file(path: Path, where: str) -> bytes:
    """Reads a key file that nobody else can read.

    The rule PostgreSQL applies to its TLS key: others may never have access;
    the group may read (no more) only when root owns the file and paysig does
    not run as root, which is how a platform hands a secret to a service
    (Kubernetes secret volumes with fsGroup are root-owned, mode 0440)."""
    try:
        st = os.stat(path)
        group, others = st.st_mode & stat.S_IRWXG, st.st_mode & stat.S_IRWXO
        platform_provided = st.st_uid == 0 and os.geteuid() != 0
        if others or (group and not (platform_provided and group == stat.S_IRGRP)):
            raise ConfigError(f"{where}: {path} is accessible by group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
                              f"run: chmod 600 {path}")
        return path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{where}: cannot read {path}: {e.strerror}") from None
