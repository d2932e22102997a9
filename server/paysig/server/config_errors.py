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
    """Reads a key file, refusing one that group or others may read."""
    try:
        mode = os.stat(path).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{where}: {path} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); "
                              f"run: chmod 600 {path}")
        return path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{where}: cannot read {path}: {e.strerror}") from None
