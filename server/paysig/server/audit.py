"""The audit trail: one JSON line per signing or verification attempt,
allowed or denied, written and flushed before the answer leaves.

    [audit]
    path = "/var/log/paysig/audit.log"   # "-" (the default) is stdout
    fail_closed = true                   # the default: no record, no signature

A line holds who (caller, peer), which server process (pid), what (rpc, app, env, api/uri/scheme, order
fields), the result (status code, reason, key version) and a fingerprint of
the signature: the first 16 hex digits of SHA-256(signature), so a signature
in hand can be matched to its line. Never a key, a session_key, a body, a
payload or a whole signature.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json.encoder
import os
import threading
import time
from pathlib import Path
from typing import Any

from paysig.v1 import signer_pb2 as pb

from .config_errors import ConfigError, reject_unknown
from .errors import Code, PaysigError
from .signdata import COMPACT_JSON

MAX_FIELD_CHARS = 128  # bounds what an invalid request can put in a line
_json_string = json.encoder.encode_basestring  # a JSON string as COMPACT_JSON (ensure_ascii=False) writes it


@dataclasses.dataclass(frozen=True)
class AuditSettings:
    path: str = "-"
    fail_closed: bool = True


def parse_audit(raw: Any, where: str, base_dir: Path) -> AuditSettings:
    if raw is None:
        return AuditSettings()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    reject_unknown(raw, {"path", "fail_closed"}, where)
    path = raw.get("path", "-")
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{where}: path: a file path, or \"-\" for stdout")
    fail_closed = raw.get("fail_closed", True)
    if not isinstance(fail_closed, bool):
        raise ConfigError(f"{where}: fail_closed: true or false")
    return AuditSettings(path=path if path == "-" else str(base_dir / path), fail_closed=fail_closed)


def fingerprint(signature: str) -> str:
    return hashlib.sha256(signature.encode("utf-8")).hexdigest()[:16] if signature else ""


class AuditLog:
    """Appends audit lines with one unbuffered write(2) each on an O_APPEND
    descriptor: a line is either in the file when the call answers, or the
    write failed and nothing of it lingers in a buffer to appear later.
    Thread-safe; open errors surface at start-up."""

    def __init__(self, settings: AuditSettings):
        self.settings = settings
        self._lock = threading.Lock()
        self._fd = 1 if settings.path == "-" else None  # "-": the process's stdout
        if self._fd is None:
            try:
                self._fd = os.open(settings.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as e:
                raise ConfigError(f"audit.path: cannot open {settings.path}: {e.strerror}") from None
            self._owned = True
        else:
            self._owned = False

    def write(self, entries: list[dict[str, Any]], encoded: bytes = b"") -> bool:
        """Writes ``encoded`` (lines already encoded, by the fast path) and the
        entries' lines with one write(2) in the common case; False when that failed."""
        data = encoded + "".join(COMPACT_JSON.encode(e) + "\n" for e in entries).encode()
        with self._lock:
            try:
                while data:
                    data = data[os.write(self._fd, data):]
            except OSError:
                return False
        return True

    def close(self) -> None:
        if self._owned and self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _clip(value: str) -> str:
    return value if len(value) <= MAX_FIELD_CHARS else value[:MAX_FIELD_CHARS] + "…"


_ENV = {v: k for k, v in pb.Env.items()}
_API = {v: k for k, v in pb.PaymentApi.items()}
_SCHEME = {v: k for k, v in pb.SignatureScheme.items()}


def request_fields(rpc: str, request: Any) -> dict[str, Any]:
    """The auditable fields of a request: never session_key, body, payload or signature."""
    fields: dict[str, Any] = {"app_id": _clip(request.app_id), "env": _ENV.get(request.env, str(request.env))}
    if rpc == "SignOrder":
        o = request.order
        fields.update(api=_API.get(request.api, str(request.api)), out_trade_no=_clip(o.out_trade_no),
                      product_id=_clip(o.product_id), goods_price=o.goods_price, buy_quantity=o.buy_quantity)
    elif rpc == "SignApiCall":
        fields["uri"] = _clip(request.uri)
    elif rpc == "VerifySignature":
        fields.update(scheme=_SCHEME.get(request.scheme, str(request.scheme)), method=_clip(request.method),
                      signature_fp=fingerprint(request.signature))
    return fields


def response_fields(rpc: str, response: Any) -> dict[str, Any]:
    if response is None:
        return {}
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


def head(rpc: str, caller: Any, peer: str, request_id: str) -> dict[str, Any]:
    """The fields every line starts with: when, which process, which call, who."""
    return {"ts": _timestamp(time.time()), "pid": os.getpid(), "request_id": request_id,
            "caller": caller.name if caller else "", "peer": peer, "rpc": rpc}


def encoded_head(rpc: str, caller: Any, peer: str, request_id: str) -> str:
    """COMPACT_JSON.encode(head(...)) without its closing brace, for the fast
    path to complete; formatted directly, as it is on every fast call."""
    return (f'{{"ts":"{_timestamp(time.time())}","pid":{os.getpid()},"request_id":{_json_string(request_id)},'
            f'"caller":{_json_string(caller.name if caller else "")},"peer":{_json_string(peer)},'
            f'"rpc":{_json_string(rpc)}')


def entry(rpc: str, item_rpc: str, request: Any, response: Any, error: PaysigError | None, caller: Any,
          peer: str, request_id: str = "") -> dict[str, Any]:
    """The audit line of one request (``item_rpc`` names its kind; for a batch
    item ``rpc`` is the batch RPC). ``request`` is None for a batch refused as
    a whole."""
    record = head(rpc, caller, peer, request_id)
    if request is not None:
        record.update(request_fields(item_rpc, request))
    record["code"] = error.code.value if error else "OK"
    if error:
        record["reason"] = error.reason
    record.update(response_fields(item_rpc, response))
    return record


def audit_unavailable() -> PaysigError:
    return PaysigError(Code.UNAVAILABLE, "AUDIT_UNAVAILABLE",
                       "the audit log cannot be written, so nothing was signed or verified; retry later")
