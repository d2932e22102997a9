"""Running the server as processes: one worker per core behind one port.

grpcio serves a few thousand unary calls per second per process (the GIL),
so `paysig serve --workers N` forks N worker processes, each a complete
server, that share the port with SO_REUSEPORT. Linux spreads *connections*
over the listening sockets, not calls: a client needs several connections to
reach every worker (the paysig clients open 4 by default).

The supervisor forks before any gRPC object exists (gRPC does not survive a
fork with live channels or servers), restarts a worker that dies, forwards
SIGTERM/SIGINT (drain and exit) and SIGHUP (reload) to the workers, and exits
0 when they all drained cleanly.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable

from . import metrics
from .config import Config, ConfigError, load_config
from .grpc_server import PaysigServer, create_server

log = logging.getLogger("paysig")
READY_TIMEOUT_SECONDS = 60
RESTART_BACKOFF_SECONDS = 1.0


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def reserve_port(address: str) -> tuple[socket.socket, str]:
    """Binds (without listening) a SO_REUSEPORT socket to pick the port that
    every worker then binds too; the caller closes it once they listen."""
    host, port = split_address(address)
    bare_host = host.strip("[]")
    family, _, _, _, sockaddr = socket.getaddrinfo(bare_host, port, type=socket.SOCK_STREAM)[0]
    reserved = socket.socket(family, socket.SOCK_STREAM)
    reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    reserved.bind(sockaddr)
    return reserved, f"{host}:{reserved.getsockname()[1]}"


def install_reload(server: PaysigServer, config_path: str) -> None:
    """SIGHUP reloads the config file; a bad file keeps the old config."""

    def reload(_signum, _frame):
        threading.Thread(target=reload_config, args=(server, config_path), daemon=True).start()

    signal.signal(signal.SIGHUP, reload)


def reload_config(server: PaysigServer, config_path: str) -> bool:
    server.audit_log.reopen()
    try:
        config = load_config(config_path).per_worker(server.workers)
        server.reload(config)
    except ConfigError as e:
        metrics.get().reload_result(False)
        log.error("reload rejected", extra={"fields": {"pid": os.getpid(), "error": str(e),
                                                       "kept_generation": server.generation}})
        return False
    metrics.get().reload_result(True)
    log.info("reloaded", extra={"fields": {"pid": os.getpid(), "generation": server.generation,
                                           "apps": sorted(config.apps)}})
    return True


def wait_for_stop() -> str:
    """Blocks until SIGTERM or SIGINT; returns the signal's name."""
    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum, _frame):
        received.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop.wait(3600):
        pass
    return received[0]


def run_worker(index: int, workers: int, address: str, config: Config, config_path: str, grace: float,
               allow_unauthenticated_network: bool, ready_fd: int) -> int:
    """The body of a forked worker: serve until SIGTERM, then drain. It serves
    (and reloads) the config with every rate divided by ``workers``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor turns Ctrl-C into SIGTERM
    fields = {"worker": index, "pid": os.getpid()}
    server, _ = create_server(address, config.per_worker(workers),
                              allow_unauthenticated_network=allow_unauthenticated_network, workers=workers)
    install_reload(server, config_path)
    server.start()
    os.write(ready_fd, b"%d\n" % index)
    os.close(ready_fd)
    signal_name = wait_for_stop()
    log.info("draining", extra={"fields": {**fields, "signal": signal_name, "grace_seconds": grace}})
    server.stop(grace)
    log.info("stopped", extra={"fields": fields})
    return 0


class Supervisor:
    def __init__(self, workers: int, spawn: Callable[[int, int], int]):
        self.workers = workers
        self._spawn = spawn  # (index, ready_fd) -> pid of a worker that writes a line to ready_fd when serving
        self.pids: dict[int, int] = {}  # pid -> index

    def _spawn_ready(self, index: int) -> int:
        ready_r, ready_w = os.pipe()
        pid = self._spawn(index, ready_w)
        os.close(ready_w)
        self.pids[pid] = index
        ready, _, _ = select.select([ready_r], [], [], READY_TIMEOUT_SECONDS)
        line = os.read(ready_r, 64) if ready else b""
        os.close(ready_r)
        if not line:
            raise RuntimeError(f"worker {index} (pid {pid}) did not start")
        return pid

    def start(self) -> None:
        try:
            for index in range(self.workers):
                self._spawn_ready(index)
        except RuntimeError:
            self.terminate(5)
            raise

    def supervise(self, stop: threading.Event, hangup: threading.Event) -> None:
        """Restarts dead workers and forwards SIGHUP until ``stop`` is set."""
        while not stop.wait(0.2):
            if hangup.is_set():
                hangup.clear()
                self.signal_all(signal.SIGHUP)
            for pid, index in list(self.pids.items()):
                done, status = os.waitpid(pid, os.WNOHANG)
                if not done:
                    continue
                del self.pids[pid]
                metrics.worker_exited(pid)
                log.error("worker exited", extra={"fields": {"worker": index, "pid": pid,
                                                             "status": describe_status(status)}})
                time.sleep(RESTART_BACKOFF_SECONDS)
                try:
                    new_pid = self._spawn_ready(index)
                except RuntimeError as e:
                    log.error("worker restart failed", extra={"fields": {"worker": index, "error": str(e)}})
                    continue
                log.info("worker restarted", extra={"fields": {"worker": index, "pid": new_pid}})

    def signal_all(self, signum: int) -> None:
        for pid in self.pids:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def terminate(self, timeout: float) -> bool:
        """SIGTERM every worker and wait; True when all exited 0."""
        self.signal_all(signal.SIGTERM)
        clean = True
        deadline = time.monotonic() + timeout
        for pid in list(self.pids):
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    clean &= os.waitstatus_to_exitcode(status) == 0
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    clean = False
                    break
                time.sleep(0.05)
            del self.pids[pid]
        return clean


def describe_status(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    return f"exit {code}" if code >= 0 else f"signal {signal.Signals(-code).name}"
