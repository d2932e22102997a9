"""Running the server as processes: one worker per core behind one port.

grpcio serves a few thousand unary calls per second per process (the GIL),
so `paysig serve --workers N` forks N worker processes, each a complete
server, that share the port with SO_REUSEPORT. Linux spreads *connections*
over the listening sockets, not calls: a client needs several connections to
reach every worker (the paysig clients open 4 by default).

The supervisor owns the config. It installs its signal handlers before
anything else, claims the address (ports.py), creates the rate-limit table
the workers share (ratelimit.py), and forks before any gRPC object exists
(gRPC does not survive a fork with live channels or servers). On SIGHUP *it*
loads and checks the file, exactly as at start-up plus the sections that
need a restart (``check_reload``); an accepted config goes to every worker
over its control socket, a rejected one changes nothing. A worker that dies
is replaced by a fork of the supervisor, so it starts with the config last
accepted and its generation. Workers exit when the supervisor dies
(PR_SET_PDEATHSIG, a parent check at start, and the end of the control
socket). SIGTERM/SIGINT drain the workers; the supervisor exits 0 when they
all drained cleanly.
"""

from __future__ import annotations

import copyreg
import ctypes
import io
import logging
import os
import pickle
import select
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable

from . import metrics, ports
from .address import Address
from .config import Config, ConfigError, load_config
from .grpc_server import PaysigServer, UnauthenticatedNetworkError, check_listen, create_server
from .keys import Secret
from .ratelimit import RateLimiter
from .signals import Signals
from .tlscheck import check_tls

log = logging.getLogger("paysig")
READY_TIMEOUT_SECONDS = 60
FOREIGN_CHECK_SECONDS = 5.0
RESTART_BACKOFF_SECONDS = 1.0
CONTROL_SEND_TIMEOUT_SECONDS = 10.0
PR_SET_PDEATHSIG = 1


def set_parent_death_signal(signum: int) -> None:
    """The kernel sends ``signum`` to this process when its parent (the
    thread that forked it) dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_PDEATHSIG): {os.strerror(error)}")


# ---- reload -----------------------------------------------------------------

RESTART_SECTIONS = (  # (section, what of the config, the change); a reload that changes one is rejected
    ("auth", lambda c: c.access.mode, "a change of auth.mode"),
    ("tls", lambda c: c.access.tls is None, "turning TLS on or off"),  # its files reload
    ("audit", lambda c: c.audit, "a change of [audit]"),
    ("limits", lambda c: c.limits, "a change of [limits]"),
)


def check_reload(old: Config, new: Config) -> None:
    """ConfigError naming the first section whose change needs a restart.
    Apps, keys, callers (with their rates) and the [tls] files (certificate,
    key, client CA) are applied by a reload."""
    for section, part, change in RESTART_SECTIONS:
        if part(old) != part(new):
            raise ConfigError(f"{new.source}: [{section}]: {change} needs a restart; restart paysig to apply it "
                              "(the running config is kept)")


class Reloader:
    """The config in force and its generation; ``attempt`` re-reads the file
    and runs every start-up check plus ``check_reload``."""

    def __init__(self, config_path: str, config: Config, address: Address, allow_unauthenticated_network: bool):
        self.config_path = config_path
        self.config = config
        self.generation = 1
        self.last_ok = True
        self._address = address
        self._allow = allow_unauthenticated_network

    def attempt(self) -> Config | None:
        """The newly accepted config, or None (logged) when it is rejected."""
        try:
            config = load_config(self.config_path)
            try:
                check_listen(self._address, config, self._allow)
            except UnauthenticatedNetworkError as e:
                raise ConfigError(f"{config.source}: [auth]: {e}") from None
            check_reload(self.config, config)
            check_tls(config)
        except ConfigError as e:
            self.last_ok = False
            log.error("reload rejected", extra={"fields": {"pid": os.getpid(), "error": str(e),
                                                           "kept_generation": self.generation}})
            return None
        self.config, self.generation, self.last_ok = config, self.generation + 1, True
        log.info("reloaded", extra={"fields": {"pid": os.getpid(), "generation": self.generation,
                                               "apps": sorted(config.apps)}})
        return config


# ---- the control socket: supervisor -> worker -------------------------------

class _ConfigPickler(pickle.Pickler):
    """Pickles a Config for the worker's end of a private socketpair (Secret
    refuses ordinary pickling so that it never reaches a file or a log)."""

    dispatch_table = copyreg.dispatch_table.copy()
    dispatch_table[Secret] = lambda secret: (Secret, (secret.reveal(),))


_LENGTH = struct.Struct("<Q")


def send_message(sock: socket.socket, message: tuple) -> None:
    buffer = io.BytesIO()
    _ConfigPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(message)
    data = buffer.getvalue()
    sock.sendall(_LENGTH.pack(len(data)) + data)


def receive_message(sock: socket.socket) -> tuple | None:
    """The next message, or None when the supervisor's end is closed."""
    header = _receive_exactly(sock, _LENGTH.size)
    if header is None:
        return None
    data = _receive_exactly(sock, _LENGTH.unpack(header)[0])
    return None if data is None else pickle.loads(data)  # noqa: S301 - from our own supervisor only


def _receive_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# ---- single process ---------------------------------------------------------

def serve_single(reloader: Reloader, signals: Signals, address: Address, health: Address | None, grace: float,
                 allow_unauthenticated_network: bool, log_serving: Callable[..., None]) -> int:
    """--workers 1: one process, the port not shared with anyone."""
    server, port = create_server(str(address), reloader.config, reuse_port=False,
                                 allow_unauthenticated_network=allow_unauthenticated_network,
                                 health_address=str(health) if health else None)
    server.start()
    log_serving(address.with_port(port), health.with_port(server.health_port) if health else None,
                workers=1, pids=[os.getpid()])
    while not signals.stop.wait(0.2):
        if signals.hangup.is_set():
            signals.hangup.clear()
            config = reloader.attempt()
            metrics.get().reload_result(config is not None)
            if config is not None:
                server.reload(config, reloader.generation)
            else:
                server.reopen_logs()
    log.info("draining", extra={"fields": {"signal": signals.received[0], "grace_seconds": grace}})
    server.stop(grace)
    log.info("stopped")
    return 0


# ---- workers ----------------------------------------------------------------

def run_worker(index: int, address: Address, health: Address | None, reloader: Reloader, grace: float,
               allow_unauthenticated_network: bool, limiter: RateLimiter, control: socket.socket,
               ready_fd: int, signals: Signals) -> int:
    """The body of a forked worker: serve the config handed over by the
    supervisor until SIGTERM, then drain."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor turns Ctrl-C into SIGTERM
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # reloads come from the supervisor, over ``control``
    fields = {"worker": index, "pid": os.getpid()}
    server, _ = create_server(str(address), reloader.config, limiter=limiter, generation=reloader.generation,
                              reuse_port=True, allow_unauthenticated_network=allow_unauthenticated_network,
                              health_address=str(health) if health else None)
    metrics.get().reload_success.set(1 if reloader.last_ok else 0)
    server.start()
    threading.Thread(target=follow_supervisor, args=(server, control, fields), daemon=True,
                     name="paysig-control").start()
    listeners = ports.own_listeners([address] + ([health] if health else []))
    os.write(ready_fd, " ".join(map(str, [index, *sorted(listeners)])).encode() + b"\n")
    os.close(ready_fd)
    signal_name = signals.wait_for_stop()
    log.info("draining", extra={"fields": {**fields, "signal": signal_name, "grace_seconds": grace}})
    server.stop(grace)
    log.info("stopped", extra={"fields": fields})
    return 0


def follow_supervisor(server: PaysigServer, control: socket.socket, fields: dict) -> None:
    """Applies what the supervisor sends; the end of the socket means the
    supervisor is gone, and the worker drains and exits."""
    while True:
        try:
            message = receive_message(control)
        except OSError:
            message = None
        if message is None:
            log.error("supervisor gone", extra={"fields": fields})
            os.kill(os.getpid(), signal.SIGTERM)
            return
        if message[0] == "config":
            _, generation, config = message
            try:
                server.reload(config, generation)
            except Exception as e:  # noqa: BLE001 - never serve on the config the supervisor replaced
                log.error("config apply failed", extra={"fields": {**fields, "generation": generation,
                                                                   "error": type(e).__name__}})
                os.kill(os.getpid(), signal.SIGTERM)  # drain; the supervisor forks a worker on the new config
                return
            metrics.get().reload_result(True)
            log.info("config applied", extra={"fields": {**fields, "generation": generation}})
        elif message[0] == "rejected":
            metrics.get().reload_result(False)
            server.reopen_logs()


class Worker:
    def __init__(self, index: int, pid: int, control: socket.socket):
        self.index, self.pid, self.control = index, pid, control
        self.listeners: set[int] = set()  # inodes of its listening sockets, as it reported them when ready


class Supervisor:
    """Forks the workers, restarts the dead ones, hands every accepted
    reload to all of them."""

    def __init__(self, workers: int, spawn: Callable[[int, int, socket.socket, list[socket.socket]], int],
                 reloader: Reloader, addresses: tuple[Address, ...] = ()):
        self.workers = workers
        self.addresses = addresses  # shared with SO_REUSEPORT: checked for listeners that are not ours
        self._suspects: set[tuple[Address, int]] = set()
        self._reported: set[tuple[Address, int]] = set()
        # (index, ready_fd, control, sockets to close in the child) -> pid of a
        # worker that writes a line to ready_fd when serving
        self._spawn = spawn
        self.reloader = reloader
        self.running: dict[int, Worker] = {}  # pid -> worker

    @property
    def pids(self) -> list[int]:
        return sorted(self.running)

    def _spawn_ready(self, index: int) -> int:
        ready_r, ready_w = os.pipe()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            pid = self._spawn(index, ready_w, theirs, [ours] + [w.control for w in self.running.values()])
        finally:
            os.close(ready_w)
            theirs.close()
        ours.settimeout(CONTROL_SEND_TIMEOUT_SECONDS)
        self.running[pid] = Worker(index, pid, ours)
        ready, _, _ = select.select([ready_r], [], [], READY_TIMEOUT_SECONDS)
        line = os.read(ready_r, 4096) if ready else b""
        os.close(ready_r)
        if not line:
            raise RuntimeError(f"worker {index} (pid {pid}) did not start")
        self.running[pid].listeners = {int(inode) for inode in line.split()[1:]}
        return pid

    def start(self) -> None:
        try:
            for index in range(self.workers):
                self._spawn_ready(index)
        except RuntimeError:
            self.terminate(5)
            raise

    def supervise(self, signals: Signals) -> None:
        """Restarts dead workers and applies SIGHUP until ``signals.stop``."""
        next_check = time.monotonic()
        while not signals.stop.wait(0.2):
            if signals.hangup.is_set():
                signals.hangup.clear()
                self.reload()
            if time.monotonic() >= next_check:
                self.check_foreign_listeners()
                next_check = time.monotonic() + FOREIGN_CHECK_SECONDS
            for pid, worker in list(self.running.items()):
                done, status = os.waitpid(pid, os.WNOHANG)
                if not done:
                    continue
                self._forget(pid)
                log.error("worker exited", extra={"fields": {"worker": worker.index, "pid": pid,
                                                             "status": describe_status(status)}})
                time.sleep(RESTART_BACKOFF_SECONDS)
                try:
                    new_pid = self._spawn_ready(worker.index)
                except RuntimeError as e:
                    log.error("worker restart failed", extra={"fields": {"worker": worker.index, "error": str(e)}})
                    continue
                log.info("worker restarted", extra={"fields": {"worker": worker.index, "pid": new_pid,
                                                               "generation": self.reloader.generation}})

    def check_foreign_listeners(self) -> None:
        """Logs a socket another process of this user joined the port with
        (SO_REUSEPORT): it receives a share of the connections. Reported
        when seen on two checks in a row (a worker restarting is not one)."""
        seen = set()
        known = set().union(*(worker.listeners for worker in self.running.values()))
        for address in self.addresses:
            try:
                seen |= {(address, inode)
                         for inode in ports.foreign_listeners(address, [os.getpid(), *self.running], known)}
            except OSError:
                continue
        for address, inode in sorted((seen & self._suspects) - self._reported, key=str):
            self._reported.add((address, inode))
            log.error("foreign listener", extra={"fields": {
                "address": str(address), "socket_inode": inode,
                "detail": "another process of this user listens on the port with SO_REUSEPORT and receives a "
                          "share of the connections; find it with ss -ltnpe and stop it"}})
        self._suspects = seen

    def reload(self) -> None:
        config = self.reloader.attempt()
        message = ("config", self.reloader.generation, config) if config is not None else ("rejected",)
        for worker in list(self.running.values()):
            try:
                send_message(worker.control, message)
            except OSError as e:
                # A worker that cannot take the config must not serve the old one.
                log.error("worker unreachable", extra={"fields": {"worker": worker.index, "pid": worker.pid,
                                                                  "error": type(e).__name__}})
                _kill(worker.pid, signal.SIGKILL)

    def _forget(self, pid: int) -> None:
        worker = self.running.pop(pid)
        worker.control.close()
        metrics.worker_exited(pid)

    def signal_all(self, signum: int) -> None:
        for pid in self.running:
            _kill(pid, signum)

    def terminate(self, timeout: float) -> bool:
        """SIGTERM every worker and wait; True when all exited 0."""
        self.signal_all(signal.SIGTERM)
        clean = True
        deadline = time.monotonic() + timeout
        for pid in list(self.running):
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    clean &= os.waitstatus_to_exitcode(status) == 0
                    break
                if time.monotonic() > deadline:
                    _kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    clean = False
                    break
                time.sleep(0.05)
            self._forget(pid)
        return clean


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def serve_workers(reloader: Reloader, signals: Signals, workers: int, address: Address, health: Address | None,
                  grace: float, allow_unauthenticated_network: bool, log_serving: Callable[..., None]) -> int:
    """--workers N: the supervisor. ``address`` and ``health`` are claimed
    (ports.claim with a reservation), their ports resolved."""
    limiter = RateLimiter()
    supervisor_pid = os.getpid()

    def spawn(index: int, ready_fd: int, control: socket.socket, close: list[socket.socket]) -> int:
        pid = os.fork()
        if pid:
            return pid
        code = 1
        try:
            set_parent_death_signal(signal.SIGTERM)
            if os.getppid() != supervisor_pid:
                raise RuntimeError("the supervisor is gone")
            for sock in close:
                sock.close()
            signals.stop.clear()
            signals.hangup.clear()
            signals.received.clear()
            code = run_worker(index, address, health, reloader, grace, allow_unauthenticated_network, limiter,
                              control, ready_fd, signals)
        except BaseException as e:  # noqa: BLE001 - a worker reports and exits, never returns into the parent's code
            log.error("worker failed", extra={"fields": {"worker": index, "error": f"{type(e).__name__}: {e}"}})
        finally:
            os._exit(code)

    supervisor = Supervisor(workers, spawn, reloader, (address,) + ((health,) if health else ()))
    supervisor.start()
    log_serving(address, health, workers=workers, pids=supervisor.pids)
    supervisor.supervise(signals)
    log.info("draining", extra={"fields": {"signal": signals.received[0], "grace_seconds": grace,
                                           "workers": len(supervisor.running)}})
    clean = supervisor.terminate(grace + 5)
    log.info("stopped", extra={"fields": {"clean": clean}})
    return 0 if clean else 1


def describe_status(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    return f"exit {code}" if code >= 0 else f"signal {signal.Signals(-code).name}"
