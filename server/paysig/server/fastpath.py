"""The compiled path of SignOrder (unary and batch items), for speed.

``_fastsign`` (C, built with the package) signs the valid orders of the
variants order_spec.py marks ``compiled`` (its rules come from
_fastsign_spec.h, generated from order_spec.py) with the same bytes as the
reference path in ops/sign_order.py: signData, paySig, signature, the
serialized response and the audit line. It declines everything else
(superapps, and any item that breaks a rule), and the reference path answers
those, violations and all. Access control, rate limits and the audit write
stay in the pipeline, for both paths.
"""

from __future__ import annotations

from typing import Any

from paysig.v1 import signer_pb2 as pb

from .access import Caller
from .config import Config
from .keys import Env
from .ops.common import ENV_TO_PROTO

try:
    from . import _fastsign
except ImportError:  # not built: every call takes the reference path
    _fastsign = None

AVAILABLE = _fastsign is not None


class FastOrders:
    """The fast path for one config generation: the offerId and signing keys
    of each app of a kind _fastsign was generated for, held in C."""

    def __init__(self, config: Config):
        self._apps: dict[str, Any] = {}
        for app in config.apps.values():
            if app.kind.value not in _fastsign.KINDS or not app.offer_id:
                continue
            keys = {}
            for env in Env:
                ring = app.key_ring(env)
                if ring is not None:
                    keys[ENV_TO_PROTO[env]] = (ring.primary.version, ring.primary.secret.reveal())
            self._apps[app.app_id] = _fastsign.AppKeys(app.kind.value, app.offer_id, keys)
        self._by_caller: dict[frozenset[str], dict[str, Any]] = {}

    def _apps_for(self, caller: Caller) -> dict[str, Any]:
        """The apps ``caller`` may sign for; the others are declined, and the
        reference path refuses them."""
        if caller.apps is None:
            return self._apps
        found = self._by_caller.get(caller.apps)
        if found is None:
            found = self._by_caller[caller.apps] = {k: v for k, v in self._apps.items() if k in caller.apps}
        return found

    def sign(self, items, caller: Caller, audit_head: str, wrap: bool) -> tuple[list[bytes | None], bytes,
                                                                               dict[tuple[str, str, str], int]]:
        """(results, audit lines, signed counts) of _fastsign.sign_orders, for
        items that are SignOrderRequest messages or RawOrders.items; the
        counts are keyed (app_id, env, api), env as metrics.ENV_LABELS names it."""
        return _fastsign.sign_orders(items, self._apps_for(caller), audit_head, wrap)


class RawOrders:
    """A SignOrder or BatchSignOrders request kept as its bytes, because
    every SignOrderRequest in it is of the simple form _fastsign reads
    (``scan``): ``items`` are their serialized bytes, signed without a
    protobuf message in between. ``message`` and ``item`` parse with
    protobuf, for what the reference path answers or audits; they cannot
    fail, as protobuf parses the simple form."""

    __slots__ = ("items", "_data", "_batch", "_message")

    def __init__(self, data: bytes, items: tuple[bytes, ...], batch: bool):
        self.items = items
        self._data = data
        self._batch = batch
        self._message = None

    @staticmethod
    def scan(data: bytes, batch: bool) -> "RawOrders | None":
        """The request as bytes, or None when protobuf must parse it (or the extension is not built)."""
        if _fastsign is None:
            return None
        items = _fastsign.scan_orders(data, batch)
        return None if items is None else RawOrders(data, items, batch)

    def message(self) -> Any:
        """The SignOrderRequest (a batch: the BatchSignOrdersRequest)."""
        if self._message is None:
            self._message = (pb.BatchSignOrdersRequest if self._batch else pb.SignOrderRequest).FromString(self._data)
        return self._message

    def item(self, i: int) -> Any:
        """The i-th SignOrderRequest."""
        return pb.SignOrderRequest.FromString(self.items[i])


def message_of(request: Any) -> Any:
    """The protobuf message of a request (RawOrders or already a message)."""
    return request.message() if isinstance(request, RawOrders) else request


def varint(n: int) -> bytes:
    """A protobuf varint, to frame a batch result next to the fast path's."""
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)
