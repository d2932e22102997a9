"""paysig server: WeChat virtual-payment signing over gRPC."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Config", "ConfigError", "PaysigServer", "create_server", "load_config"]
_HOMES = {"Config": "config", "ConfigError": "config", "load_config": "config",
          "PaysigServer": "grpc_server", "create_server": "grpc_server"}


def __getattr__(name: str) -> Any:
    """Imported on first use, so `paysig serve` handles signals before grpc loads."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
