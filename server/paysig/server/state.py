"""The config generation in force."""

from __future__ import annotations

import threading

from .config import Config


class ConfigHolder:
    """Each call reads ``current`` once, so a reload (a single reference swap)
    never changes the state under a running call."""

    def __init__(self, config: Config):
        self._config = config
        self._lock = threading.Lock()

    @property
    def current(self) -> Config:
        return self._config

    def replace(self, config: Config) -> None:
        with self._lock:
            self._config = config
