"""What every SignerService call goes through: authenticate, authorize, rate
limit, run the operation, write the audit lines; only then answer.

A batch is authenticated once and charged one rate-limit token per item;
each item is then authorized, run and audited exactly like the unary call.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from paysig.v1 import signer_pb2 as pb

from .access import CallContext, Caller
from . import metrics
from . import fastpath
from .audit import AuditLog, audit_unavailable, encoded_head, entry
from .config import Config
from .errors import Code, PaysigError, Rule, Violations
from .fastpath import FastOrders
from .ratelimit import RateLimiter
from .state import ConfigHolder

log = logging.getLogger("paysig")
MAX_BATCH_ITEMS = 1000
# Label values for API URIs are limited to the known ones; any other is "other".
KNOWN_APIS = frozenset({"/xpay/query_user_balance", "/xpay/currency_pay", "/xpay/cancel_currency_pay",
                        "/xpay/query_order", "/xpay/notify_provide_goods", "/xpay/present_currency",
                        "/xpay/download_bill", "/xpay/refund_order", "/xpay/create_withdraw_order",
                        "/xpay/query_withdraw_order", "/xpay/start_upload_goods", "/xpay/query_upload_goods",
                        "/xpay/start_publish_goods", "/xpay/query_publish_goods", "/xpay/query_biz_balance",
                        "/wxa/game/getbalance", "/wxa/game/pay", "/wxa/game/cancelpay", "/wxa/game/present",
                        "/wxa/game/queryorderinfo"})


RESULTS_TAG = b"\n"  # field 1 (results), length-delimited, of the Batch*Response messages


def new_request_id() -> str:
    return os.urandom(8).hex()


class Pipeline:
    def __init__(self, holder: ConfigHolder, audit_log: AuditLog, limiter: RateLimiter, fast: bool = True):
        self._holder = holder
        self.audit_log = audit_log
        self._limiter = limiter
        self._metrics = metrics.get()
        self._use_fast = fast and fastpath.AVAILABLE
        self._fast: tuple[Config | None, FastOrders | None] = (None, None)

    def _fast_orders(self, config: Config) -> FastOrders | None:
        """The fast path of this config generation (built once per generation)."""
        if not self._use_fast:
            return None
        built_for, fast = self._fast
        if built_for is not config:
            fast = FastOrders(config)
            self._fast = (config, fast)
        return fast

    def run(self, rpc: str, operation: Callable, request: Any, context: CallContext, request_id: str = "",
            fast: bool = False) -> Any:
        """The answer to one request: a response message, or, from the fast
        path (``fast``: the RPC is SignOrder), its serialized bytes."""
        started = time.perf_counter()
        config = self._holder.current
        caller, response, error = None, None, None
        try:
            caller = config.access.authenticate(context)
            self._admit(config, caller, rpc, 1)
            orders = self._fast_orders(config) if fast else None
            if orders is not None:
                results, lines, signed = orders.sign((request,), caller,
                                                     encoded_head(rpc, caller, context.peer(), request_id), False)
                if results[0] is not None:
                    self._finish(rpc, [], None, started, request_id, lines, signed)
                    return results[0]
            response, error = self._apply(config, caller, rpc, operation, request)
        except PaysigError as e:
            error = e
        records = [entry(rpc, rpc, request, response, error, caller, context.peer(), request_id)]
        self._finish(rpc, records, error, started, request_id)
        return response

    def run_batch(self, rpc: str, item_rpc: str, operation: Callable, request: Any, response_type: type,
                  result_type: type, context: CallContext, request_id: str = "", fast: bool = False) -> Any:
        """The batch's answer: a response message, or, when the fast path
        (``fast``: the items are SignOrder requests) signed any item, its
        serialized bytes."""
        started = time.perf_counter()
        config = self._holder.current
        items = request.requests
        caller = None
        try:
            if not 1 <= len(items) <= MAX_BATCH_ITEMS:
                v = Violations()
                v.add("requests", Rule.REQUIRED if not items else Rule.TOO_LONG,
                      f"must hold 1 to {MAX_BATCH_ITEMS} requests")
                v.raise_if_any(type(request).__name__)
            caller = config.access.authenticate(context)
            self._admit(config, caller, rpc, len(items))
        except PaysigError as error:
            self._finish(rpc, [entry(rpc, item_rpc, None, None, error, caller, context.peer(), request_id)], error,
                         started, request_id)
        peer = context.peer()
        records: list[dict[str, Any]] = []
        orders = self._fast_orders(config) if fast else None
        if orders is not None:
            encoded, lines, signed = orders.sign(items, caller, encoded_head(rpc, caller, peer, request_id), True)
            if lines:
                for i, done in enumerate(encoded):
                    if done is None:
                        result = self._item_result(config, caller, rpc, item_rpc, operation, items[i], result_type,
                                                   records, peer, request_id).SerializeToString()
                        encoded[i] = RESULTS_TAG + fastpath.varint(len(result)) + result
                self._finish(rpc, records, None, started, request_id, lines, signed)
                return b"".join(encoded)
        results = [self._item_result(config, caller, rpc, item_rpc, operation, item, result_type, records, peer,
                                     request_id) for item in items]
        self._finish(rpc, records, None, started, request_id)
        return response_type(results=results)

    def _item_result(self, config: Config, caller: Caller, rpc: str, item_rpc: str, operation: Callable, item: Any,
                     result_type: type, records: list[dict[str, Any]], peer: str, request_id: str) -> Any:
        """One batch item through the reference path; appends its audit record."""
        response, error = self._apply(config, caller, item_rpc, operation, item)
        records.append(entry(rpc, item_rpc, item, response, error, caller, peer, request_id))
        return result_type(response=response) if error is None else result_type(error=item_error(error))

    def _admit(self, config: Config, caller: Caller, rpc: str, cost: int) -> None:
        config.access.authorize_rpc(caller, rpc)
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
            log.error("internal error", extra={"fields": {"rpc": rpc, "app_id": request.app_id[:64],
                                                          "error": type(e).__name__}})
            return None, PaysigError(Code.INTERNAL, "INTERNAL", "internal error")

    def _finish(self, rpc: str, records: list[dict[str, Any]], error: PaysigError | None, started: float,
                request_id: str, lines: bytes = b"", signed: dict[tuple[str, str, str], int] | None = None) -> None:
        """Writes the audit lines (the fast path's ``lines``, then the
        records'), records the metrics (``signed``: the fast path's counts of
        signatures by app, env and api), raises the call's error."""
        if not self.audit_log.write(records, lines):
            self._metrics.audit_failures.inc()
            log.error("audit write failed", extra={"fields": {"rpc": rpc, "request_id": request_id,
                                                              "records": len(records) + lines.count(b"\n"),
                                                              "fail_closed": self.audit_log.settings.fail_closed}})
            if self.audit_log.settings.fail_closed:
                error = audit_unavailable()
                records, signed = [], None
        m = self._metrics
        m.child(m.calls, rpc, error.code.value if error else "OK").inc()
        m.child(m.latency, rpc).observe(time.perf_counter() - started)
        if signed:
            for labels, n in signed.items():
                m.child(m.signatures, *labels).inc(n)
        for record in records:
            if record["code"] != "OK":
                continue
            if "notification_result" in record:
                m.child(m.notifications, record["app_id"], record["notification_result"],
                        record.get("reject_reason", "")).inc()
            elif "valid" in record:
                m.child(m.verifications, record["app_id"], record["scheme"],
                        "valid" if record["valid"] else "invalid").inc()
            else:
                api = record.get("api") or (record["uri"] if record.get("uri") in KNOWN_APIS else "other")
                m.child(m.signatures, record["app_id"], record["key_env"], api).inc()
        if error is not None:
            raise error


def item_error(error: PaysigError) -> pb.ItemError:
    return pb.ItemError(code=error.code.value, message=error.message, reason=error.reason, violations=[
        pb.ItemFieldViolation(field=v.field, reason=v.rule.value, description=v.description)
        for v in error.violations])
