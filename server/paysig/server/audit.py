"""The audit trail: one JSON line per signing or verification attempt,
allowed or denied, written before the answer leaves.

    [audit]
    path = "/var/log/paysig/audit.log"   # "-" (the default) is stdout
    fail_closed = true                   # the default: no record, no signature
    sync = "always"                      # the default: fdatasync before the answer; "none": the page cache

A line holds who (caller, peer), which server process (pid), what (rpc, app, env, api/uri/scheme, order
fields), the result (status code, reason, key version) and a fingerprint of
the signature: the first 16 hex digits of SHA-256(signature), so a signature
in hand can be matched to its line. Never a key, a session_key, a body, a
payload, a query string or a whole signature.

Refusals that anyone can cause without a valid credential, or that a caller
causes beyond its grant or rate (UNAUTHENTICATED, PERMISSION_DENIED,
RESOURCE_EXHAUSTED, undecodable requests), are bounded by ``FloodGate``: a
few lines a second, the rest counted in one ``suppressed`` line per peer,
reason and second.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import json.encoder
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from paysig.v1 import signer_pb2 as pb

from . import _sysio
from .address import peer_host
from .config_errors import ConfigError, reject_unknown
from .errors import Code, PaysigError
from .push_events import audit_request, audit_response
from .signdata import COMPACT_JSON

log = logging.getLogger("paysig")
MAX_FIELD_CHARS = 128  # bounds what an invalid request can put in a line
# A line is at most this long: one write(2) of it to a pipe is atomic, so
# lines from several threads or worker processes never interleave.
MAX_LINE_BYTES = _sysio.PIPE_BUF
SYNC_MODES = ("always", "none")
DEFAULT_SYNC = "always"
_json_string = json.encoder.encode_basestring  # a JSON string as COMPACT_JSON (ensure_ascii=False) writes it


@dataclasses.dataclass(frozen=True)
class AuditSettings:
    path: str = "-"
    fail_closed: bool = True
    sync: str = DEFAULT_SYNC
    where: str = dataclasses.field(default="audit", compare=False)  # names the config file in errors


def parse_audit(raw: Any, where: str, base_dir: Path) -> AuditSettings:
    if raw is None:
        return AuditSettings(where=where)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    reject_unknown(raw, {"path", "fail_closed", "sync"}, where)
    path = raw.get("path", "-")
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{where}: path: a file path, or \"-\" for stdout")
    fail_closed = raw.get("fail_closed", True)
    if not isinstance(fail_closed, bool):
        raise ConfigError(f"{where}: fail_closed: true or false")
    sync = raw.get("sync", DEFAULT_SYNC)
    if sync not in SYNC_MODES:
        raise ConfigError(f"{where}: sync: \"always\" (each line is on disk before its answer) or \"none\"")
    return AuditSettings(path=path if path == "-" else str(base_dir / path), fail_closed=fail_closed, sync=sync,
                         where=where)


def fingerprint(signature: str) -> str:
    return hashlib.sha256(signature.encode("utf-8")).hexdigest()[:16] if signature else ""


class GroupCommit:
    """Makes writes durable with as few fdatasync calls as possible: the
    first thread to need a sync leads it and covers every write made so far;
    the threads arriving meanwhile wait for it, or for the next one."""

    def __init__(self, sync: Callable[[], None]):
        self._sync = sync
        self._cond = threading.Condition()
        self._written = 0  # writes numbered in order
        self._done = 0  # writes up to this number were synced (or their sync failed)
        self._syncing = False
        self._failed: collections.deque[tuple[int, int]] = collections.deque(maxlen=1024)  # (after, through)
        self.syncs = 0

    def note_write(self) -> int:
        """Numbers a write that just completed; call in write order."""
        with self._cond:
            self._written += 1
            return self._written

    def wait(self, number: int) -> bool:
        """Blocks until write ``number`` is durable; False when its sync failed."""
        with self._cond:
            while self._done < number:
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                after, through = self._done, self._written
                self._cond.release()
                try:
                    self._sync()
                    ok = True
                except OSError:
                    ok = False
                finally:
                    self._cond.acquire()
                self._settle(after, through, ok)
            return not any(after < number <= through for after, through in self._failed)

    def _settle(self, after: int, through: int, ok: bool) -> None:
        self.syncs += 1
        if not ok:
            self._failed.append((after, through))
        self._done = max(self._done, through)
        self._syncing = False
        self._cond.notify_all()

    @contextlib.contextmanager
    def quiet(self) -> Iterator[Callable[[bool], None]]:
        """Waits out a sync in progress and holds the next one off; yields
        ``settle(ok)`` to record a sync of everything written, made by the
        caller (before it swaps the file)."""
        with self._cond:
            while self._syncing:
                self._cond.wait()
            self._syncing = True
            try:
                yield lambda ok: self._settle(self._done, self._written, ok)
            finally:
                self._syncing = False
                self._cond.notify_all()


def _bounded(record: dict[str, Any]) -> bool:
    """Whether a record is one of the refusals FloodGate bounds."""
    return (record.get("code") in FloodGate.CODES or record.get("reason") == "MALFORMED_REQUEST"
            or not record.get("caller"))


class FloodGate:
    """Bounds the audit lines of refusals (see ``_bounded``) a process
    writes: per second at most LINES_PER_SECOND of them one by one, at most
    LINES_PER_PEER of those from one peer address (its port left out), and
    for the rest one ``suppressed`` line per peer and second counting them by
    reason; beyond PEERS peers in a second, the others are counted under
    peer "*". So a flood adds at most LINES_PER_SECOND + PEERS + 1 lines per
    second and process (MAX_LINES_PER_SECOND), each at most MAX_LINE_BYTES."""

    CODES = frozenset({Code.UNAUTHENTICATED.value, Code.PERMISSION_DENIED.value, Code.RESOURCE_EXHAUSTED.value})
    LINES_PER_SECOND = 20
    LINES_PER_PEER = 10
    PEERS = 16
    MAX_LINES_PER_SECOND = LINES_PER_SECOND + PEERS + 1

    def __init__(self):
        self._lock = _sysio.Mutex()
        self._second = 0
        self._lines = 0
        self._per_peer: collections.Counter[str] = collections.Counter()
        self._counts: dict[str, collections.Counter[str]] = {}  # peer -> reason -> suppressed

    def admit(self, record: dict[str, Any], now: float) -> tuple[bool, list[dict[str, Any]]]:
        """(whether ``record`` gets its own line, the summary lines of seconds that ended)."""
        with self._lock:
            due = self._roll(now)
            peer = peer_host(record.get("peer", ""))
            if self._lines < self.LINES_PER_SECOND and self._per_peer[peer] < self.LINES_PER_PEER:
                self._lines += 1
                self._per_peer[peer] += 1
                return True, due
            if peer not in self._counts and len(self._counts) >= self.PEERS:
                peer = "*"
            reasons = self._counts.setdefault(peer, collections.Counter())
            reasons[record.get("reason", "")] += 1
            return False, due

    def due(self, now: float, everything: bool = False) -> list[dict[str, Any]]:
        """The summary lines of the seconds that ended (all of them with ``everything``)."""
        with self._lock:
            return self._roll(now, everything)

    def pending(self) -> bool:
        return bool(self._counts)

    def _roll(self, now: float, everything: bool = False) -> list[dict[str, Any]]:
        second = int(now)
        if second == self._second and not everything:
            return []
        lines = [suppressed_record(now, peer, self._second, reasons) for peer, reasons in self._counts.items()]
        self._second, self._lines = second, 0
        self._per_peer.clear()
        self._counts = {}
        return lines


class AuditLog:
    """Writes audit lines so that each is whole wherever it goes.

    To a regular file (opened O_APPEND): the lines of a call in one write(2);
    after a failed or short write the next write starts with a newline, so
    a torn line never glues onto the next record. After each write the path
    is checked (stat against the open file): a file renamed away or removed
    is replaced by a new one at the path and the lines written again, so an
    answer never rests on a line only in a rotated or deleted file. With
    sync "always" the lines are on disk (fdatasync, shared by concurrent
    calls) before write() returns. To a pipe or terminal ("-"): whole lines,
    at most PIPE_BUF bytes per write(2), which the kernel never interleaves
    with other writers. Thread-safe; open errors surface at start-up."""

    def __init__(self, settings: AuditSettings, clock: Callable[[], float] = time.time):
        self.settings = settings
        self._clock = clock
        self._lock = _sysio.Mutex()
        self._path = None if settings.path == "-" else settings.path
        self._fd = 1
        self._id: tuple[int, int] | None = None
        self._regular = False
        self._torn = False
        self._gate = FloodGate()
        self._flush_timer: threading.Timer | None = None
        self._closed = False
        if self._path is not None:
            try:
                self._fd, self._id, self._regular = self._open()
            except OSError as e:
                raise ConfigError(f"{settings.where}: path: cannot open {self._path}: {e.strerror}") from None
        else:
            with contextlib.suppress(OSError):
                self._regular = stat.S_ISREG(os.fstat(1).st_mode)
        self._commit = GroupCommit(lambda: os.fdatasync(self._fd))
        self.suppressed = 0

    @property
    def syncs(self) -> int:
        """fdatasync calls made so far (tests and benchmarks read it)."""
        return self._commit.syncs

    def _durable(self) -> bool:
        return self.settings.sync == "always" and self._regular

    def _open(self) -> tuple[int, tuple[int, int], bool]:
        flags = os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        try:
            fd = os.open(self._path, flags | os.O_RDWR, 0o600)  # read: the last byte, to spot a torn line
        except PermissionError:
            fd = os.open(self._path, flags | os.O_WRONLY, 0o600)
        st = os.fstat(fd)
        if self.settings.sync == "always" and stat.S_ISREG(st.st_mode) and st.st_size == 0:
            with contextlib.suppress(OSError):  # the new name on disk too; a directory fsync can be refused
                dir_fd = os.open(os.path.dirname(self._path) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        return fd, (st.st_dev, st.st_ino), stat.S_ISREG(st.st_mode)

    def reopen(self) -> bool:
        """Opens the configured path anew (SIGHUP: after logrotate renamed
        the file). False, and the old file kept, when it cannot be opened."""
        if self._path is None:
            return True
        with self._lock:
            return self._fd is not None and self._reopen_locked()

    def _reopen_locked(self) -> bool:
        try:
            opened = self._open()
        except OSError as e:
            log.error("audit reopen failed", extra={"fields": {"path": self._path, "error": e.strerror}})
            return False
        with self._commit.quiet() as settle:
            if self._durable():
                try:
                    os.fdatasync(self._fd)
                    settle(True)
                except OSError:
                    settle(False)
            old = self._fd
            self._fd, self._id, self._regular = opened
            self._torn = False
        os.close(old)
        return True

    def write(self, entries: list[dict[str, Any]], encoded: bytes = b"") -> bool:
        """Writes ``encoded`` (lines already encoded, by the fast path) and the
        entries' lines (the bounded refusals through the flood gate); False
        when they are not all in the file (and, with sync, on disk)."""
        now = self._clock()
        kept: list[dict[str, Any]] = []
        summaries: list[dict[str, Any]] = []
        for e in entries:
            if _bounded(e):
                admitted, due = self._gate.admit(e, now)
                summaries += due
                if not admitted:
                    self._suppressed(e)
                    continue
            kept.append(e)
        if not summaries and self._gate.pending():
            summaries = self._gate.due(now)
        data = encoded + b"".join(encode_line(e) for e in kept + summaries)
        if self._gate.pending():
            self._schedule_flush(now)
        return self._emit(data) if data else True

    def _suppressed(self, record: dict[str, Any]) -> None:
        from . import metrics

        self.suppressed += 1
        metrics.get().child(metrics.get().audit_suppressed, record.get("reason", "")).inc()

    def _schedule_flush(self, now: float) -> None:
        if self._flush_timer is not None or self._closed:
            return
        timer = threading.Timer(int(now) + 1.05 - now, self._flush)
        timer.daemon = True
        self._flush_timer = timer
        timer.start()

    def _flush(self, everything: bool = False) -> None:
        self._flush_timer = None
        if self._closed and not everything:
            return
        lines = self._gate.due(self._clock(), everything)
        if lines:
            self._emit(b"".join(encode_line(e) for e in lines))

    def _emit(self, data: bytes) -> bool:
        with self._lock:
            ok, at_path = self._write_locked(data)
            if ok and not at_path:
                ok = self._reopen_locked() and all(self._write_locked(data))
            number = self._commit.note_write() if ok else 0
        if ok and self._durable():
            ok = self._commit.wait(number)
        return ok

    def _write_locked(self, data: bytes) -> tuple[bool, bool]:
        """(every byte written, the open file is the one at the path) for one write of ``data``."""
        if self._fd is None:  # closed
            return False, True
        if self._regular:
            # Workers append to one file: _sysio makes "does it end in a
            # torn line?" and the append one step under flock, so no worker
            # reads the last byte while another is appending (a false "torn"
            # would add a blank line).
            written, self._torn, at_path = _sysio.append(self._fd, data, self._torn, self._path,
                                                         *(self._id or (0, 0)))
            return written, at_path
        written, self._torn = _sysio.write_lines(self._fd, data, self._torn)
        return written, True

    def close(self) -> None:
        self._closed = True
        timer = self._flush_timer
        if timer is not None:
            timer.cancel()
        self._flush(everything=True)
        if self._path is not None and self._fd is not None:
            with self._lock:
                os.close(self._fd)
                self._fd = None


_CLIPPABLE = ("app_id", "out_trade_no", "product_id", "uri", "method", "peer", "caller")


def encode_line(record: dict[str, Any]) -> bytes:
    """The record as one line of at most MAX_LINE_BYTES bytes: when its
    clipped fields still make it longer (escaped control characters,
    4-byte UTF-8), they are clipped to 16 characters and "clipped" is set."""
    line = (COMPACT_JSON.encode(record) + "\n").encode("utf-8")
    if len(line) <= MAX_LINE_BYTES:
        return line
    short = {k: (v[:16] + "…" if k in _CLIPPABLE and isinstance(v, str) and len(v) > 16 else v)
             for k, v in record.items()}
    short["clipped"] = True
    return (COMPACT_JSON.encode(short) + "\n").encode("utf-8")


def _clip(value: str) -> str:
    return value if len(value) <= MAX_FIELD_CHARS else value[:MAX_FIELD_CHARS] + "…"


def audit_uri(uri: str) -> str:
    """The path of a URI: never its query string or fragment (they can carry an access_token)."""
    for mark in ("?", "#"):
        uri = uri.split(mark, 1)[0]
    return _clip(uri)


_ENV = {v: k for k, v in pb.Env.items()}
_API = {v: k for k, v in pb.PaymentApi.items()}
_SCHEME = {v: k for k, v in pb.SignatureScheme.items()}
_VERDICT = {v: k for k, v in pb.DiagnosisVerdict.items()}


def request_fields(rpc: str, request: Any) -> dict[str, Any]:
    """The auditable fields of a request: never session_key, body, payload, signature or an errmsg."""
    if rpc == "VerifyNotification":
        return audit_request(request)
    fields: dict[str, Any] = {"app_id": _clip(request.app_id), "env": _ENV.get(request.env, str(request.env))}
    if rpc == "SignOrder":
        o = request.order
        fields.update(api=_API.get(request.api, str(request.api)), out_trade_no=_clip(o.out_trade_no),
                      product_id=_clip(o.product_id), goods_price=o.goods_price, buy_quantity=o.buy_quantity)
    elif rpc == "SignApiCall":
        fields["uri"] = audit_uri(request.uri)
    elif rpc in ("VerifySignature", "DiagnoseSignature"):  # a method that is a URI: its path only
        fields.update(scheme=_SCHEME.get(request.scheme, str(request.scheme)), method=audit_uri(request.method),
                      signature_fp=fingerprint(request.signature))
    if rpc == "DiagnoseSignature" and request.HasField("wechat_error_code"):
        fields["wechat_error_code"] = request.wechat_error_code
    return fields


def response_fields(rpc: str, response: Any) -> dict[str, Any]:
    if response is None:
        return {}
    if rpc == "VerifyNotification":
        return audit_response(response)
    if rpc == "DiagnoseSignature":
        return {"verdict": _VERDICT.get(response.verdict, ""), "findings": [f.code for f in response.findings]}
    fields: dict[str, Any] = {"key_version": response.key_version, "key_env": _ENV.get(response.env, "")}
    if rpc == "VerifySignature":
        fields["valid"] = response.valid
    else:
        fields["signature_fp"] = fingerprint(response.pay_sig)
    return fields


_second_cache: tuple[int, str] = (0, "")


def _timestamp(now: float) -> str:
    """ISO 8601 UTC with milliseconds; the formatted second is reused."""
    global _second_cache
    second = int(now)
    if _second_cache[0] != second:
        _second_cache = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_second_cache[1]}.{int(now * 1000) % 1000:03d}Z"


class CallAudit:
    """The one place Python builds the audit lines of a call.

    Every line of a call starts with the same head: when (ts), which process
    (pid), which call (request_id), who (caller, peer), which RPC (rpc), in
    that order. ``record`` is a whole line's fields (the reference path,
    batch items, refusals); ``encoded_head`` is the head as COMPACT_JSON
    writes it, without its closing brace, which the fast path completes with
    the rest of its line. ``caller`` is set once the call is authenticated;
    each line's ts is taken when its fields are built."""

    __slots__ = ("rpc", "peer", "request_id", "caller")

    def __init__(self, rpc: str, peer: str, request_id: str, caller: Any = None):
        self.rpc = rpc
        self.peer = peer
        self.request_id = request_id
        self.caller = caller

    def head(self) -> dict[str, Any]:
        return {"ts": _timestamp(time.time()), "pid": os.getpid(), "request_id": self.request_id,
                "caller": self.caller.name if self.caller else "", "peer": _clip(self.peer), "rpc": self.rpc}

    def encoded_head(self) -> str:
        """COMPACT_JSON.encode(self.head()) without its closing brace,
        formatted directly, as it is on every fast call."""
        return (f'{{"ts":"{_timestamp(time.time())}","pid":{os.getpid()},'
                f'"request_id":{_json_string(self.request_id)},'
                f'"caller":{_json_string(self.caller.name if self.caller else "")},'
                f'"peer":{_json_string(_clip(self.peer))},"rpc":{_json_string(self.rpc)}')

    def record(self, item_rpc: str = "", request: Any = None, response: Any = None,
               error: PaysigError | None = None) -> dict[str, Any]:
        """The fields of the line of one request (``item_rpc`` names its
        kind; for a batch item, ``rpc`` is the batch's). Without ``request``:
        a call refused as a whole, before any request was read."""
        record = self.head()
        if request is not None:
            record.update(request_fields(item_rpc, request))
        record["code"] = error.code.value if error else "OK"
        if error:
            record["reason"] = error.reason
        record.update(response_fields(item_rpc, response))
        return record


def suppressed_record(now: float, peer: str, second: int, reasons: dict[str, int]) -> dict[str, Any]:
    """The fields of a FloodGate summary line: the refusals from ``peer``
    in ``second`` that got no line of their own, counted by reason. It is
    no call's line: no request_id, no caller, an empty rpc."""
    return {"ts": _timestamp(now), "pid": os.getpid(), "peer": _clip(peer), "rpc": "",
            "second": _timestamp(second)[:-5] + "Z", "suppressed": dict(reasons), "total": sum(reasons.values())}


def audit_unavailable() -> PaysigError:
    return PaysigError(Code.UNAVAILABLE, "AUDIT_UNAVAILABLE",
                       "the audit log cannot be written, so nothing was signed or verified; retry later")
