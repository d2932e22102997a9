"""A game server's push URL in a few lines: WeChat posts payment
notifications here, paysig verifies them, deliver() grants the goods.

    make run                                            # paysig on 127.0.0.1:50051, demo config
    python examples/push_receiver.py --app demo-minigame --listen 127.0.0.1:8080

Then set the push URL in the WeChat console to https://<your host>/wechat/push
(behind your TLS proxy). The ASGI form, for uvicorn and the like:

    uvicorn --factory 'push_receiver:asgi_app' --app-dir examples
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from wsgiref.simple_server import make_server

from paysig.client import AsyncClient, Client, asgi_notification_app, wsgi_notification_app
from paysig.v1 import signer_pb2 as pb

_granted: set[str] = set()
_lock = threading.Lock()


def deliver(n: pb.Notification) -> None:
    """Grants what an authentic push paid for, once per out_trade_no: WeChat
    repeats a push until it gets the ack. In a real game this is one database
    transaction with a unique key on out_trade_no; raising (or returning
    False) makes the handler answer the nack, and WeChat retries later."""
    if n.kind == pb.NOTIFICATION_KIND_OTHER:
        return  # not a payment (a user message, another event)
    if not n.body_authenticated:
        raise RuntimeError("plain-mode push whose content nothing proves: configure safe mode")
    with _lock:
        if n.out_trade_no in _granted:
            return
        _granted.add(n.out_trade_no)
    kind = pb.NotificationKind.Name(n.kind)
    if n.kind == pb.NOTIFICATION_KIND_GOODS_DELIVER:
        logging.info("grant %s x%d to %s (order %s, %s)", n.goods.product_id, n.goods.quantity, n.openid,
                     n.out_trade_no, pb.Env.Name(n.env))
    else:
        logging.info("%s for order %s", kind, n.out_trade_no)


def wsgi_app(paysig: str, app_id: str):
    return wsgi_notification_app(Client(paysig), app_id, deliver)


def asgi_app():
    """ASGI factory; PAYSIG_ADDRESS and PAYSIG_APP_ID say where and which app."""
    client = AsyncClient(os.environ.get("PAYSIG_ADDRESS", "127.0.0.1:50051"))
    return asgi_notification_app(client, os.environ.get("PAYSIG_APP_ID", "demo-minigame"), deliver)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paysig", default="127.0.0.1:50051", help="paysig's address")
    parser.add_argument("--app", default="demo-minigame", help="the app_id in paysig's config")
    parser.add_argument("--listen", default="127.0.0.1:8080", help="host:port of the push URL")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    host, _, port = args.listen.rpartition(":")
    with make_server(host, int(port), wsgi_app(args.paysig, args.app)) as server:
        logging.info("push URL: http://%s:%d/ (paysig %s, app %s)", host, server.server_port, args.paysig, args.app)
        server.serve_forever()


if __name__ == "__main__":
    main()
