"""Helpers for the Python tests: an in-process server on a free port, the
rich error details of a failed call, openssl and the hmac module as the
independent HMAC, config files, audit lines, metrics scrapes and waiting for
a server's log lines."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from paysig.server import Config, create_server, load_config
from paysig.v1 import signer_pb2_grpc

REPO = Path(__file__).resolve().parent.parent
CONFORMANCE_CONFIG = REPO / "tests" / "conformance" / "config.toml"
CASES = REPO / "tests" / "conformance" / "cases.json"


def openssl_hmac(key: str, message: str) -> str:
    out = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", key], input=message.encode("utf-8"),
                         capture_output=True, check=True).stdout.decode()
    return out.strip().split()[-1]


def hex_hmac(key: str, message: str) -> str:
    """HMAC-SHA256 as lowercase hex, by the standard library's hmac module."""
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def token_sha256(token: str) -> str:
    """A caller's token_sha256: the lowercase hex SHA-256 of its bearer token."""
    return hashlib.sha256(token.encode()).hexdigest()


def write_config(tmp_path: Path, text: str) -> Path:
    """Writes ``text`` (dedented) to tmp_path/paysig.toml."""
    path = tmp_path / "paysig.toml"
    path.write_text(textwrap.dedent(text))
    return path


def audit_lines(path: Path) -> list[dict]:
    """Every line of an audit file, parsed (a line that is not JSON fails the test)."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def free_port() -> int:
    """A loopback port that was free a moment ago (for an address given on the command line)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, seconds: float = 30.0) -> bool:
    """Polls ``predicate`` until it is true (True) or ``seconds`` pass (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def scrape_metrics(port: int) -> dict[str, float]:
    """{sample with its labels: value} of every paysig_ sample on 127.0.0.1:port/metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(paysig_\S+) (\S+)$", text, re.M)}


def per_worker(m: dict[str, float], name: str) -> dict[str, float]:
    """{pid: value} of a gauge every worker reports (label pid, multiprocess mode liveall)."""
    return {re.search(r'pid="(\d+)"', k).group(1): v for k, v in m.items()
            if k.startswith(name + "{") and 'pid="' in k}


@contextlib.contextmanager
def running_server(config: Config | Path | str, grace: float = 5.0) -> Iterator[tuple[object, int]]:
    """Starts the real server stack on 127.0.0.1:0; yields (server, port)."""
    if not isinstance(config, Config):
        config = load_config(config)
    server, port = create_server("127.0.0.1:0", config)
    server.start()
    try:
        yield server, port
    finally:
        server.stop(grace)


@contextlib.contextmanager
def signer_stub(port: int) -> Iterator[signer_pb2_grpc.SignerServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield signer_pb2_grpc.SignerServiceStub(channel)


def error_details(error: grpc.RpcError) -> tuple[str, str, list[tuple[str, str]], str]:
    """(status code name, ErrorInfo reason, [(field, rule)], message) of a failed call."""
    status = rpc_status.from_call(error)
    assert status is not None, "the error carries no google.rpc.Status"
    reason, violations = "", []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            assert info.domain == "paysig.v1"
            reason = info.reason
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = [(v.field, v.reason) for v in bad.field_violations]
            for v in bad.field_violations:
                assert v.description, f"violation of {v.field} has no description"
    return error.code().name, reason, violations, error.details()


class FakeContext:
    """The parts of a grpc.ServicerContext the pipeline reads, for calls made
    in-process without a server."""

    def __init__(self, peer: str = "ipv4:127.0.0.1:4242"):
        self._peer = peer

    def peer(self) -> str:
        return self._peer

    @staticmethod
    def invocation_metadata():
        return ()

    @staticmethod
    def auth_context():
        return {}


class ServerProcess:
    """`python -m paysig serve` on 127.0.0.1:0 as an operator runs it; stdout
    and stderr are collected line by line."""

    def __init__(self, config, *extra_args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()):
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "paysig", "serve", "--config", str(config), "--listen", "127.0.0.1:0",
             "--grace", "5", *extra_args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        first = self.proc.stderr.readline()
        self.stderr.append(first)
        self.address = json.loads(first)["address"]
        self._readers = [threading.Thread(target=self._collect, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _collect(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    def logged(self, event: str) -> int:
        """How many lines of stderr so far are the log event ``event``."""
        return sum(f'"{event}"' in line for line in self.stderr)

    def wait_for_log(self, event: str, count: int = 1, seconds: float = 30.0) -> bool:
        """Waits until ``event`` was logged at least ``count`` times."""
        return wait_for(lambda: self.logged(event) >= count, seconds)

    def stop(self) -> int:
        """SIGTERM; returns the exit code once the output is read to its end."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(15)
        for reader in self._readers:
            reader.join(5)
        return code


NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")  # run a command as nobody


def grant_nobody_search() -> Callable[[], None]:
    """Lets a process started as nobody (NOBODY) reach this clone: its .venv
    and sources. A clone made in `mktemp -d` sits in a 0700 directory, so each
    directory from / to the repository that others cannot search gets o+x
    (search, not read) until the returned function restores it."""
    changed = []
    for path in [*reversed(REPO.parents), REPO]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if not mode & stat.S_IXOTH:
            os.chmod(path, mode | stat.S_IXOTH)
            changed.append((path, mode))

    def restore() -> None:
        for path, mode in reversed(changed):
            os.chmod(path, mode)

    return restore
