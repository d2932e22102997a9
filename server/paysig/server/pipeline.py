"""What every SignerService call goes through: authenticate, authorize, rate
limit, run the operation, write the audit lines; only then answer.

A batch is authenticated once and charged one rate-limit token per item;
each item is then authorized, run and audited exactly like the unary call.

Each RPC is described once by an ``RpcSpec`` (built in servicer.py). The
answer to every call is its serialized response (bytes), whichever path made
it: the compiled fast path of SignOrder encodes its responses and batch
results itself (parsing them into messages only for grpcio to serialize them
again would add work to every fast call); the reference path serializes its
messages here. The servicer
registers its handlers without a response serializer. Errors are raised
(PaysigError) once the call's audit lines and metrics are written;
``_finish`` returns the error to raise, and its callers raise it.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from paysig.v1 import signer_pb2 as pb

from .access import CallContext, Caller
from . import apis, metrics
from . import fastpath
from .audit import AuditLog, CallAudit, audit_unavailable
from .config import Config
from .errors import Code, PaysigError, Rule, Violations
from .fastpath import FastOrders, RawOrders, message_of
from .limits import InFlight
from .ratelimit import RateLimiter
from .state import ConfigHolder

log = logging.getLogger("paysig")
MAX_BATCH_ITEMS = 1000
# Label values for API URIs are the known ones (apis.py); any other is "other".
KNOWN_APIS = apis.KNOWN_URIS


@dataclasses.dataclass(frozen=True, slots=True)
class RpcSpec:
    """One SignerService RPC, as the pipeline runs it."""

    name: str  # the RPC: authorization, rate limits, metrics and the audit line's "rpc" name it
    item_name: str  # the RPC each request is run as (a batch's: its items'); ``name`` for a unary RPC
    operation: Callable[[Config, Any], Any]  # one request (or batch item) -> its response message
    request_type: type
    response_type: type
    result_type: type | None = None  # a batch's: one item's outcome (response or error); None: unary
    fast: bool = False  # the compiled fast path signs its requests (SignOrder's)
    results_tag: bytes = dataclasses.field(init=False, repr=False, compare=False)  # a batch's, for results[i]

    def __post_init__(self):
        if self.result_type is not None:
            field = self.response_type.DESCRIPTOR.fields_by_name["results"]
            object.__setattr__(self, "results_tag", fastpath.varint(field.number << 3 | 2))  # length-delimited
        else:
            object.__setattr__(self, "results_tag", b"")

    @property
    def batch(self) -> bool:
        return self.result_type is not None


class RequestIds:
    """Request ids: 16 hex digits, a random 64-bit base per process plus a
    counter, so making one costs no system call (os.urandom is one, and on a
    busy server each system call hands the GIL to another thread). They
    correlate an answer with its audit line and are not secrets; two
    processes' ids meet only if their bases fall within the calls they make
    (about 1e-10 for two processes making a billion calls each). A forked
    child draws a new base."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._base = int.from_bytes(os.urandom(8), "big")
        self._counter = itertools.count()

    def __call__(self) -> str:
        return f"{(self._base + next(self._counter)) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


new_request_id = RequestIds()


class Pipeline:
    def __init__(self, holder: ConfigHolder, audit_log: AuditLog, limiter: RateLimiter, fast: bool = True,
                 inflight: InFlight | None = None):
        self._holder = holder
        self.audit_log = audit_log
        self._limiter = limiter
        self._inflight = inflight
        self._metrics = metrics.get()
        self._call_metrics: dict[tuple[str, str], tuple[Any, Any]] = {}  # (rpc, code) -> (calls, latency) children
        self._use_fast = fast and fastpath.AVAILABLE
        self._fast: tuple[Config | None, FastOrders | None] = (None, None)

    def _fast_orders(self, config: Config) -> FastOrders:
        """The fast path of this config generation (built once per generation); only with ``_use_fast``."""
        built_for, fast = self._fast
        if built_for is not config:
            fast = FastOrders(config)
            self._fast = (config, fast)
        return fast

    def run(self, spec: RpcSpec, request: Any, context: CallContext, request_id: str = "") -> bytes:
        """The serialized response to one request of a unary RPC (a message,
        or for SignOrder possibly RawOrders: its bytes, read by the fast path)."""
        started = time.perf_counter()
        config = self._holder.current
        call = CallAudit(spec.name, context.peer(), request_id)
        try:
            call.caller = caller = config.access.authenticate(context)
            self._admit(config, caller, spec.name, 1)
        except PaysigError as error:
            raise self._finish(spec.name, [call.record(spec.name, message_of(request), None, error)], error,
                               started, request_id)
        signed_answer = None  # the fast path's serialized response, when it signed the request
        try:
            if spec.fast and self._use_fast:
                items = request.items if isinstance(request, RawOrders) else (request,)
                results, lines, signed = self._fast_orders(config).sign(items, caller, call.encoded_head(), False)
                signed_answer = results[0]
            if signed_answer is None:
                request = message_of(request)
        except Exception as bug:  # noqa: BLE001 - audited and answered INTERNAL; the items in flight given back
            raise self._bug(spec.name, call, bug, started, request_id) from None
        if signed_answer is not None:
            error = self._finish(spec.name, [], None, started, request_id, lines, signed)
            if error is not None:
                raise error
            return signed_answer
        response, error = self._apply(config, caller, spec.name, spec.operation, request)
        error = self._finish(spec.name, [call.record(spec.name, request, response, error)], error, started,
                             request_id)
        if error is not None:
            raise error
        return response.SerializeToString()

    def run_batch(self, spec: RpcSpec, request: Any, context: CallContext, request_id: str = "") -> bytes:
        """The serialized response to a batch: the fast path's encoded
        results (``spec.fast``) for the items it signed, the reference path's
        for the others, in request order."""
        started = time.perf_counter()
        config = self._holder.current
        raw = isinstance(request, RawOrders)
        items = request.items if raw else request.requests
        call = CallAudit(spec.name, context.peer(), request_id)
        try:
            if not 1 <= len(items) <= MAX_BATCH_ITEMS:
                v = Violations()
                v.add("requests", Rule.REQUIRED if not items else Rule.TOO_LONG,
                      f"must hold 1 to {MAX_BATCH_ITEMS} requests")
                v.raise_if_any(type(message_of(request)).__name__)
            call.caller = caller = config.access.authenticate(context)
            self._admit(config, caller, spec.name, len(items))
        except PaysigError as error:
            raise self._finish(spec.name, [call.record(error=error)], error, started, request_id)
        records: list[dict[str, Any]] = []
        try:
            if spec.fast and self._use_fast:
                encoded, lines, signed = self._fast_orders(config).sign(items, caller, call.encoded_head(), True)
            else:
                encoded, lines, signed = [None] * len(items), b"", None
            for i, done in enumerate(encoded):
                if done is None:
                    result = self._item_result(config, spec, call, request.item(i) if raw else items[i], records)
                    encoded[i] = spec.results_tag + fastpath.varint(len(result)) + result
        except Exception as bug:  # noqa: BLE001 - audited and answered INTERNAL; the items in flight given back
            raise self._bug(spec.name, call, bug, started, request_id) from None
        error = self._finish(spec.name, records, None, started, request_id, lines, signed)
        if error is not None:
            raise error
        return b"".join(encoded)

    def refuse(self, spec: RpcSpec, error: PaysigError, context: CallContext, request_id: str = "") -> PaysigError:
        """Audits and counts ``error`` for a request refused before it could
        be read (undecodable bytes), with its caller when it has one; returns
        the error to raise."""
        started = time.perf_counter()
        call = CallAudit(spec.name, context.peer(), request_id)
        try:
            call.caller = self._holder.current.access.authenticate(context)
        except PaysigError:
            pass
        return self._finish(spec.name, [call.record(error=error)], error, started, request_id)

    def _bug(self, rpc: str, call: CallAudit, bug: Exception, started: float, request_id: str) -> PaysigError:
        """For a bug after admission: audits the call as INTERNAL, gives back its items in flight; the error to raise."""
        error = internal_error(rpc, bug)
        return self._finish(rpc, [call.record(error=error)], error, started, request_id)

    def _item_result(self, config: Config, spec: RpcSpec, call: CallAudit, item: Any,
                     records: list[dict[str, Any]]) -> bytes:
        """One batch item through the reference path: its serialized result;
        appends its audit record."""
        response, error = self._apply(config, call.caller, spec.item_name, spec.operation, item)
        records.append(call.record(spec.item_name, item, response, error))
        result = spec.result_type(response=response) if error is None else spec.result_type(error=item_error(error))
        return result.SerializeToString()

    def _admit(self, config: Config, caller: Caller, rpc: str, cost: int) -> None:
        """Authorizes the RPC, admits the call under the caller's cap on items
        in flight (given back in ``_finish``), spends its rate tokens."""
        config.access.authorize_rpc(caller, rpc)
        if self._inflight is not None:
            self._inflight.enter(caller.name, cost, config.limits.max_items_in_flight_per_caller)
        self._limiter.take(caller, cost)

    @staticmethod
    def _apply(config: Config, caller: Caller, rpc: str, operation: Callable, request: Any):
        """(response, None) or (None, error) for one request."""
        try:
            config.access.authorize_app(caller, request.app_id)
            return operation(config, request), None
        except PaysigError as e:
            return None, e
        except Exception as e:  # noqa: BLE001 - a bug: audited, answered as INTERNAL without details
            return None, internal_error(rpc, e, request.app_id)

    def _finish(self, rpc: str, records: list[dict[str, Any]], error: PaysigError | None, started: float,
                request_id: str, lines: bytes = b"", signed: dict[tuple[str, str, str], int] | None = None
                ) -> PaysigError | None:
        """Writes the audit lines (the fast path's ``lines``, then the
        records'), records the metrics (``signed``: the fast path's counts of
        signatures by app, env label and api) and returns the call's error,
        for the caller to raise: ``error``, AUDIT_UNAVAILABLE when the lines
        could not be written and the audit fails closed, else None. Never
        None when ``error`` is given."""
        written = self.audit_log.write(records, lines)
        if self._inflight is not None:
            self._inflight.leave()
        if not written:
            self._metrics.audit_failures.inc()
            log.error("audit write failed", extra={"fields": {"rpc": rpc, "request_id": request_id,
                                                              "records": len(records) + lines.count(b"\n"),
                                                              "fail_closed": self.audit_log.settings.fail_closed}})
            if self.audit_log.settings.fail_closed:
                error = audit_unavailable()
                records, signed = [], None
        m = self._metrics
        key = (rpc, error.code.value if error else "OK")
        counters = self._call_metrics.get(key)
        if counters is None:
            counters = self._call_metrics[key] = (m.child(m.calls, *key), m.child(m.latency, rpc))
        counters[0].inc()
        counters[1].observe(time.perf_counter() - started)
        if signed:
            for labels, n in signed.items():
                m.child(m.signatures, *labels).inc(n)
        for record in records:
            if record["code"] != "OK" or "verdict" in record:  # a diagnosis signs and verifies nothing
                continue
            if "notification_result" in record:
                m.child(m.notifications, record["app_id"], record["notification_result"],
                        record.get("reject_reason", "")).inc()
            elif "valid" in record:
                m.child(m.verifications, record["app_id"], record["scheme"],
                        "valid" if record["valid"] else "invalid").inc()
            else:
                api = record.get("api") or (record["uri"] if record.get("uri") in KNOWN_APIS else "other")
                m.child(m.signatures, record["app_id"], metrics.ENV_LABELS[record["key_env"]], api).inc()
        return error


def internal_error(rpc: str, bug: Exception, app_id: str = "") -> PaysigError:
    """Logs a bug (its type only: never a value) and returns the INTERNAL error, without details, to answer."""
    log.error("internal error", extra={"fields": {"rpc": rpc, "app_id": app_id[:64], "error": type(bug).__name__}})
    return PaysigError(Code.INTERNAL, "INTERNAL", "internal error")


def item_error(error: PaysigError) -> pb.ItemError:
    return pb.ItemError(code=error.code.value, message=error.message, reason=error.reason, violations=[
        pb.ItemFieldViolation(field=v.field, reason=v.rule.value, description=v.description)
        for v in error.violations])
