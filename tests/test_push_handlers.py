"""End to end: a test "WeChat" posts real pushes over HTTP to the Python push
handlers (WSGI on wsgiref, ASGI on a tiny asyncio HTTP server, both on port
0), which call a real paysig server. Deliveries happen exactly for the
authentic pushes; repeats get the same ack."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

import pushes
from paysig.client import (AsyncClient, Client, PaysigError, asgi_notification_app, handle_notification,
                           wsgi_notification_app)
from paysig.server.config import parse_config
from paysig.v1 import signer_pb2 as pb
from support import running_server

TOKEN = "gameToken7"
AES = "HandlerKeyHandlerKeyHandlerKeyHandlerKey123"
APPID = "wx5555666677778888"
APP_KEY = "handler-production-key"
GOODS = "minigame_game_pay_goods_deliver_notify"
TIMEOUT = 20.0  # generous: the machine running the tests may be loaded


@pytest.fixture(scope="module")
def paysig_port():
    config = parse_config({"apps": [
        {"app_id": "game", "kind": "minigame", "offer_id": "1", "keys": {"production": {"value": APP_KEY}},
         "push": {"token": {"value": TOKEN}, "encoding_aes_key": {"value": AES}, "wechat_appid": APPID}},
    ]}, source="test", base_dir=Path("."))
    with running_server(config) as (_, port):
        yield port


class Game:
    """The game's deliver(): grants each out_trade_no once, fails on demand."""

    def __init__(self):
        self.calls: list[str] = []
        self.granted: dict[str, int] = {}
        self.fail_next: set[str] = set()
        self.lock = threading.Lock()

    def deliver(self, n: pb.Notification):
        assert n.body_authenticated and not n.is_mock
        with self.lock:
            self.calls.append(n.out_trade_no)
            if n.out_trade_no in self.fail_next:
                self.fail_next.discard(n.out_trade_no)
                raise RuntimeError("database down")
            self.granted.setdefault(n.out_trade_no, n.goods.quantity)


def goods(out_trade_no: str, *, key: str = APP_KEY, token: str = TOKEN, is_mock: bool = False,
          nonce: str = "415670741") -> tuple[str, bytes]:
    message = pushes.minigame_message(GOODS, pushes.goods_payload(out_trade_no), key, is_mock=is_mock)
    return pushes.safe_push(token, AES, APPID, message, nonce=nonce)


def post(url: str, query: str, body: bytes, method: str = "POST") -> tuple[int, str, bytes]:
    request = urllib.request.Request(f"{url}?{query}", data=body if method != "GET" else None, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def wsgi_server(app):
    server = make_server("127.0.0.1", 0, app, server_class=WSGIServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/wechat/push"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


async def _serve_asgi(app, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One HTTP/1.1 request per connection, enough for the handler."""
    try:
        request_line = (await reader.readline()).decode("latin-1").split()
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", 0)))
        method, target = request_line[0], request_line[1]
        path, _, query = target.partition("?")
        scope = {"type": "http", "method": method, "path": path, "query_string": query.encode("latin-1"),
                 "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
        chunks = [body[:1000], body[1000:]]  # two receive() messages, as servers may give

        async def receive():
            chunk = chunks.pop(0) if chunks else b""
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

        sent = []

        async def send(message):
            sent.append(message)

        await app(scope, receive, send)
        start, payload = sent[0], sent[1]["body"]
        head = [f"HTTP/1.1 {start['status']} X"] + [f"{k.decode()}: {v.decode()}" for k, v in start["headers"]]
        writer.write(("\r\n".join(head) + "\r\nConnection: close\r\n\r\n").encode("latin-1") + payload)
        await writer.drain()
    finally:
        writer.close()


@contextlib.contextmanager
def asgi_server(paysig_port: int, game: Game):
    loop = asyncio.new_event_loop()
    ready: dict = {}

    async def start():
        client = AsyncClient(f"127.0.0.1:{paysig_port}", connections=1)
        app = asgi_notification_app(client, "game", game.deliver, timeout=TIMEOUT)
        server = await asyncio.start_server(lambda r, w: _serve_asgi(app, r, w), "127.0.0.1", 0)
        ready.update(client=client, server=server, port=server.sockets[0].getsockname()[1])

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(TIMEOUT)
    try:
        yield f"http://127.0.0.1:{ready['port']}/wechat/push"
    finally:
        async def stop():
            ready["server"].close()
            await ready["server"].wait_closed()
            await ready["client"].close()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextlib.contextmanager
def handler(kind: str, paysig_port: int, game: Game):
    if kind == "wsgi":
        with Client(f"127.0.0.1:{paysig_port}", connections=1) as client, \
                wsgi_server(wsgi_notification_app(client, "game", game.deliver, timeout=TIMEOUT)) as url:
            yield url
    else:
        with asgi_server(paysig_port, game) as url:
            yield url


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_wechat_pushes_over_http(paysig_port, kind):
    game = Game()
    with handler(kind, paysig_port, game) as url:
        # the URL verification
        v = pushes.plain_query(TOKEN, echostr="7711223344")
        assert post(url, v, b"", "GET")[::2] == (200, b"7711223344")

        # an authentic push, then WeChat's repeats of it (new nonce, new random bytes)
        first = post(url, *goods("ORDER-A1"))
        assert first[0] == 200 and json.loads(first[2]) == {"ErrCode": 0, "ErrMsg": "Success"}
        assert first[1].startswith("application/json")
        for nonce in ("1", "2"):
            assert post(url, *goods("ORDER-A1", nonce=nonce)) == first

        # forgeries: never delivered, answered 403
        query, body = goods("ORDER-F1")
        forgeries = [
            goods("ORDER-F1", token="otherToken"),
            goods("ORDER-F2", key="not-the-key"),
            (query, body.replace(b'"Encrypt": "', b'"Encrypt": "A')),
            (query.replace("msg_signature=", "msg_signature=0"), body),
            (pushes.plain_query(TOKEN), pushes.minigame_message(GOODS, pushes.goods_payload("ORDER-F3"), APP_KEY)),
        ]
        for forged in forgeries:
            status, _, answer = post(url, *forged)
            assert status == 403 and b"ErrCode" not in answer

        # a mock push: answered with the ack, not delivered
        assert post(url, *goods("ORDER-M1", is_mock=True)) == first

        # a failed delivery gets the nack (WeChat retries); the retry is delivered
        game.fail_next.add("ORDER-B1")
        status, _, nack = post(url, *goods("ORDER-B1"))
        assert status == 200 and json.loads(nack)["ErrCode"] != 0
        assert post(url, *goods("ORDER-B1", nonce="9")) == first

        # not a push: refused before paysig is asked
        assert post(url, "", b"x" * (64 * 1024 + 1))[0] == 413
        assert post(url, v, b"", "PUT")[0] == 405
        assert post(url, "timestamp=1", b"{}")[0] == 400  # a query without signature: paysig's INVALID_ARGUMENT

    assert game.granted == {"ORDER-A1": 2, "ORDER-B1": 2}
    assert sorted(set(game.calls)) == ["ORDER-A1", "ORDER-B1"]
    assert game.calls.count("ORDER-A1") == 3  # every repeat reaches deliver, which grants once


def test_function_form_and_unreachable_paysig(paysig_port):
    game = Game()
    with Client(f"127.0.0.1:{paysig_port}", connections=1) as client:
        reply = handle_notification(client, "game", game.deliver, "POST", *goods("ORDER-C1"), timeout=TIMEOUT)
    assert reply.status == 200 and json.loads(reply.body)["ErrCode"] == 0 and game.granted == {"ORDER-C1": 2}
    with Client("127.0.0.1:1", connections=1) as nowhere:
        assert handle_notification(nowhere, "game", game.deliver, "POST", *goods("ORDER-C3"), timeout=2).status == 503
    with Client(f"127.0.0.1:{paysig_port}", connections=1) as client:
        nack = handle_notification(client, "game", lambda n: False, "POST", *goods("ORDER-C4"), timeout=TIMEOUT)
    assert json.loads(nack.body)["ErrCode"] != 0
    assert "ORDER-C3" not in game.calls and "ORDER-C4" not in game.granted


def test_example_push_receiver():
    """examples/push_receiver.py, run as an operator would, on the demo config."""
    import re
    import subprocess
    import sys

    from support import REPO

    with running_server(REPO / "examples" / "paysig.toml") as (_, port):
        proc = subprocess.Popen([sys.executable, str(REPO / "examples" / "push_receiver.py"), "--paysig",
                                 f"127.0.0.1:{port}", "--app", "demo-minigame", "--listen", "127.0.0.1:0"],
                                stderr=subprocess.PIPE, text=True)
        try:
            url = re.search(r"push URL: (http://\S+)", proc.stderr.readline()).group(1)
            payload = pushes.goods_payload("DEMO00001")
            message = pushes.minigame_message(GOODS, payload, "demo-minigame-production-appkey")
            query, body = pushes.safe_push("demoPushToken", "DemoEncodingAESKeyDemoEncodingAESKeyDemo123",
                                           "wx0123456789abcd01", message)
            status, _, answer = post(url, query, body)
            assert (status, json.loads(answer)) == (200, {"ErrCode": 0, "ErrMsg": "Success"})
            lines = [proc.stderr.readline() for _ in range(2)]  # the grant, then wsgiref's request line
            assert any("grant sword x2 to o9AgO5Kd5ggOC-bXrbNODIiE3bGY (order DEMO00001, ENV_PRODUCTION)" in line
                       for line in lines), lines
            assert post(url, *pushes.safe_push("demoPushToken", AES, APPID, message))[0] == 403
        finally:
            proc.terminate()
            proc.wait(10)
            proc.stderr.close()


def test_pipeline_authentication_grants_and_rate_limit():
    """VerifyNotification is an RPC like the others: a caller needs a token
    and the grant, and is rate limited; the handler answers 503 when paysig
    refuses it (WeChat retries), never the ack."""
    import hashlib

    def sha(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    config = parse_config({
        "apps": [{"app_id": "game", "kind": "minigame", "offer_id": "1", "keys": {"production": {"value": APP_KEY}},
                  "push": {"token": {"value": TOKEN}, "encoding_aes_key": {"value": AES}, "wechat_appid": APPID}}],
        "auth": {"mode": "token"},
        "callers": [{"name": "pusher", "token_sha256": sha("pusher-token-0123456789"), "apps": ["game"],
                     "rpcs": ["VerifyNotification"], "rate_per_second": 0.001, "burst": 2},
                    {"name": "signer", "token_sha256": sha("signer-token-0123456789"), "apps": ["game"],
                     "rpcs": ["SignOrder"]}],
    }, source="test", base_dir=Path("."))
    game = Game()
    with running_server(config) as (_, port):
        def client(token):
            return Client(f"127.0.0.1:{port}", connections=1, token=token, allow_token_without_tls=True)

        def answer(token, out_trade_no):
            with client(token) as c:
                return handle_notification(c, "game", game.deliver, "POST", *goods(out_trade_no), timeout=TIMEOUT)

        def refusal(token, out_trade_no):
            query, body = goods(out_trade_no)
            with client(token) as c, pytest.raises(PaysigError) as info:
                c.verify_notification(pb.VerifyNotificationRequest(app_id="game", http_method="POST", query=query,
                                                                   body=body), timeout=TIMEOUT)
            return info.value.reason

        assert refusal(None, "AUTH0001") == "MISSING_CREDENTIALS"
        assert refusal("signer-token-0123456789", "AUTH0002") == "RPC_NOT_ALLOWED"
        assert answer("signer-token-0123456789", "AUTH0002").status == 503
        ok = answer("pusher-token-0123456789", "AUTH0003")
        assert ok.status == 200 and json.loads(ok.body)["ErrCode"] == 0
        assert answer("pusher-token-0123456789", "AUTH0004") == ok
        assert refusal("pusher-token-0123456789", "AUTH0005") == "RATE_LIMITED"  # after the burst of 2
        assert answer("pusher-token-0123456789", "AUTH0006").status == 503
    assert sorted(game.granted) == ["AUTH0003", "AUTH0004"]
