"""Receiving WeChat's payment pushes: the game server's push URL forwards each
HTTP request, unchanged, to paysig's VerifyNotification, delivers what paysig
accepted and answers WeChat with the reply paysig prepared.

    from paysig.client import Client, wsgi_notification_app

    def deliver(n):                       # a paysig.v1 Notification, authentic
        grant_items(n.openid, n.out_trade_no, n.goods)   # idempotent per out_trade_no
        # raise (or return False) when the delivery failed: WeChat then retries

    app = wsgi_notification_app(Client("127.0.0.1:50051"), "demo-minigame", deliver)

The steps, in every form (function, WSGI, ASGI):
- a body over 64 KiB is refused (413) without calling paysig;
- the URL verification (GET) is answered with the echostr;
- a rejected push is answered with paysig's nack (4xx) and never delivered;
- a mock push (IsMock) is answered with the ack and never delivered;
- otherwise ``deliver(notification)`` runs; it succeeded unless it raised or
  returned False, and the answer is the ack, else the nack (WeChat retries).
WeChat waits 3 s: paysig gets ``timeout`` (1.5 s by default) and deliver the
rest. WeChat repeats a push until it gets the ack, so deliver must be
idempotent per out_trade_no (the repeats get the same ack as the first).
When paysig cannot be reached the answer is 503, and WeChat retries later.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import grpc

from paysig.v1 import signer_pb2 as pb

from .errors import PaysigError

MAX_BODY_BYTES = 64 * 1024
DEFAULT_TIMEOUT = 1.5
log = logging.getLogger("paysig.client")

Deliver = Callable[[pb.Notification], Any]
AsyncDeliver = Callable[[pb.Notification], Any]  # a coroutine function, or a plain one


@dataclasses.dataclass(frozen=True)
class Reply:
    """The HTTP answer to send back to WeChat."""

    status: int
    content_type: str
    body: bytes

    @classmethod
    def text(cls, status: int, text: str) -> "Reply":
        return cls(status, "text/plain; charset=utf-8", text.encode("utf-8"))

    @classmethod
    def from_proto(cls, reply: pb.HttpReply) -> "Reply":
        return cls(reply.status, reply.content_type, reply.body)


TOO_LARGE = Reply.text(413, "payload too large")
NOT_ALLOWED = Reply.text(405, "method not allowed")
UNAVAILABLE = Reply.text(503, "unavailable")
BAD_REQUEST = Reply.text(400, "bad request")


def _request(app_id: str, method: str, query: str, body: bytes) -> pb.VerifyNotificationRequest:
    return pb.VerifyNotificationRequest(app_id=app_id, http_method=method, query=query, body=body)


def _early(method: str, body: bytes) -> Reply | None:
    """The answer given without asking paysig, if any."""
    if method not in ("GET", "POST"):
        return NOT_ALLOWED
    if len(body) > MAX_BODY_BYTES:
        return TOO_LARGE
    return None


def _failed(error: PaysigError) -> Reply:
    log.error("VerifyNotification failed", extra={"code": error.code.name, "reason": error.reason})
    return BAD_REQUEST if error.code == grpc.StatusCode.INVALID_ARGUMENT else UNAVAILABLE


def _verdict(response: pb.VerifyNotificationResponse) -> tuple[Reply | None, pb.Notification | None]:
    """(the answer, None) when there is nothing to deliver, else (None, notification)."""
    if response.result == pb.NOTIFICATION_RESULT_URL_VERIFICATION:
        return Reply.from_proto(response.ack), None
    if response.result != pb.NOTIFICATION_RESULT_ACCEPTED:
        if response.reject_reason:
            log.warning("push rejected", extra={"reason": response.reject_reason})
        return (Reply.from_proto(response.nack) if response.HasField("nack") else Reply.text(403, "forbidden")), None
    if response.notification.is_mock:
        return Reply.from_proto(response.ack), None
    return None, response.notification


def _delivered(response: pb.VerifyNotificationResponse, outcome: Any) -> Reply:
    return Reply.from_proto(response.nack if outcome is False else response.ack)


def handle_notification(client, app_id: str, deliver: Deliver, method: str, query: str, body: bytes, *,
                        timeout: float = DEFAULT_TIMEOUT) -> Reply:
    """One pushed HTTP request (``query`` raw, without "?"; ``body`` raw)
    through paysig and ``deliver``, with a blocking paysig.client.Client."""
    early = _early(method, body)
    if early is not None:
        return early
    try:
        response = client.verify_notification(_request(app_id, method, query, body), timeout=timeout)
    except PaysigError as error:
        return _failed(error)
    answer, notification = _verdict(response)
    if answer is not None:
        return answer
    try:
        outcome = deliver(notification)
    except Exception:  # noqa: BLE001 - a failed delivery is answered with the nack, so WeChat retries
        log.exception("deliver failed", extra={"out_trade_no": notification.out_trade_no})
        return Reply.from_proto(response.nack)
    return _delivered(response, outcome)


async def handle_notification_async(client, app_id: str, deliver: AsyncDeliver, method: str, query: str,
                                    body: bytes, *, timeout: float = DEFAULT_TIMEOUT) -> Reply:
    """handle_notification with a paysig.client.AsyncClient; ``deliver`` may
    be a coroutine function."""
    early = _early(method, body)
    if early is not None:
        return early
    try:
        response = await client.verify_notification(_request(app_id, method, query, body), timeout=timeout)
    except PaysigError as error:
        return _failed(error)
    answer, notification = _verdict(response)
    if answer is not None:
        return answer
    try:
        outcome = deliver(notification)
        if inspect.isawaitable(outcome):
            outcome = await outcome
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - see handle_notification
        log.exception("deliver failed", extra={"out_trade_no": notification.out_trade_no})
        return Reply.from_proto(response.nack)
    return _delivered(response, outcome)


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def wsgi_notification_app(client, app_id: str, deliver: Deliver, *,
                          timeout: float = DEFAULT_TIMEOUT) -> Callable[..., Any]:
    """A WSGI application serving the push URL with a blocking Client."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0:
            reply = BAD_REQUEST
        elif length > MAX_BODY_BYTES:
            reply = TOO_LARGE
        else:
            body = environ["wsgi.input"].read(length) if length else b""
            reply = handle_notification(client, app_id, deliver, method, environ.get("QUERY_STRING", ""), body,
                                        timeout=timeout)
        start_response(_status_line(reply.status), [("Content-Type", reply.content_type),
                                                    ("Content-Length", str(len(reply.body)))])
        return [reply.body]

    return app


def asgi_notification_app(client, app_id: str, deliver: AsyncDeliver, *,
                          timeout: float = DEFAULT_TIMEOUT) -> Callable[..., Awaitable[None]]:
    """An ASGI application serving the push URL with an AsyncClient."""

    async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                break
            chunks.append(chunk)
            more = message.get("more_body", False)
        if size > MAX_BODY_BYTES:
            reply = TOO_LARGE
        else:
            query = scope.get("query_string", b"").decode("latin-1")
            reply = await handle_notification_async(client, app_id, deliver, scope["method"], query,
                                                    b"".join(chunks), timeout=timeout)
        await send({"type": "http.response.start", "status": reply.status,
                    "headers": [(b"content-type", reply.content_type.encode("latin-1")),
                                (b"content-length", str(len(reply.body)).encode())]})
        await send({"type": "http.response.body", "body": reply.body})

    return app
