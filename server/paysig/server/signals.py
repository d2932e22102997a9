"""Signals as events, for `paysig serve`: light to import, so the CLI
installs the handlers before it loads grpc or the config."""

from __future__ import annotations

import signal
import threading


class Signals:
    """SIGTERM/SIGINT (stop) and SIGHUP (reload) as events. Installed first
    thing by `paysig serve`, so a signal that comes during start-up is kept
    for the main loop instead of killing the process."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.hangup = threading.Event()
        self.received: list[str] = []

    def install(self) -> "Signals":
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hangup)
        return self

    def _on_stop(self, signum, _frame) -> None:
        self.received.append(signal.Signals(signum).name)
        self.stop.set()

    def _on_hangup(self, _signum, _frame) -> None:
        self.hangup.set()

    def wait_for_stop(self) -> str:
        while not self.stop.wait(3600):
            pass
        return self.received[0]
