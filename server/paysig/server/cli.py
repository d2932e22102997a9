"""Command line: ``paysig serve --config FILE --listen HOST:PORT``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from . import logs
from .config import ConfigError, load_config
from .grpc_server import DEFAULT_GRACE_SECONDS, create_server

log = logging.getLogger("paysig")
DEFAULT_LISTEN = "127.0.0.1:50051"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paysig", description="WeChat virtual-payment signing service")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gRPC server")
    serve.add_argument("--config", required=True, help="TOML config file")
    serve.add_argument("--listen", default=DEFAULT_LISTEN, help=f"HOST:PORT to listen on (default {DEFAULT_LISTEN}; port 0 picks one)")
    serve.add_argument("--grace", type=float, default=DEFAULT_GRACE_SECONDS,
                       help="seconds in-flight calls get to finish on SIGTERM/SIGINT (default %(default)s)")
    args = parser.parse_args(argv)
    logs.setup()
    return serve_command(args)


def serve_command(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(f"paysig: config error: {e}", file=sys.stderr)
        return 2
    try:
        server, port = create_server(args.listen, config)
    except OSError as e:
        print(f"paysig: {e}", file=sys.stderr)
        return 2

    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum, _frame):
        received.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    host = args.listen.rsplit(":", 1)[0]
    log.info("serving", extra={"fields": {"address": f"{host}:{port}", "port": port, "config": config.source,
                                          "apps": sorted(config.apps)}})
    while not stop.wait(3600):
        pass
    log.info("draining", extra={"fields": {"signal": received[0], "grace_seconds": args.grace}})
    server.stop(args.grace)
    log.info("stopped")
    return 0
