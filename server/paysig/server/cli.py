"""Command line.

    paysig serve --config FILE [--listen HOST:PORT]   run the server
    paysig token --name CALLER --app APP ...          make a caller token and its config lines
    paysig audit --file AUDIT --out-trade-no NO       who signed an order
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import secrets
import signal
import sys
import threading

from . import logs
from .access import RPC_NAMES
from .config_errors import ConfigError
from .config import load_config
from .grpc_server import DEFAULT_GRACE_SECONDS, UnauthenticatedNetworkError, create_server

log = logging.getLogger("paysig")
DEFAULT_LISTEN = "127.0.0.1:50051"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paysig", description="WeChat virtual-payment signing service")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gRPC server")
    serve.add_argument("--config", required=True, help="TOML config file")
    serve.add_argument("--listen", default=DEFAULT_LISTEN,
                       help=f"HOST:PORT to listen on (default {DEFAULT_LISTEN}; port 0 picks one)")
    serve.add_argument("--grace", type=float, default=DEFAULT_GRACE_SECONDS,
                       help="seconds in-flight calls get to finish on SIGTERM/SIGINT (default %(default)s)")
    serve.add_argument("--insecure-allow-unauthenticated-network", action="store_true",
                       help="allow auth.mode = \"none\" on a non-loopback address: anyone who can connect can sign")
    serve.set_defaults(run=serve_command)

    token = commands.add_parser("token", help="create a random caller token and print its [[callers]] entry")
    token.add_argument("--name", required=True, help="caller name, e.g. game-a")
    token.add_argument("--app", action="append", required=True, dest="apps", help="app_id the caller may use (repeat)")
    token.add_argument("--rpc", action="append", dest="rpcs", choices=sorted(RPC_NAMES),
                       help="RPC the caller may call (repeat; default all)")
    token.set_defaults(run=token_command)

    audit = commands.add_parser("audit", help="print the audit lines of an order (who signed it, when, with what)")
    audit.add_argument("--file", required=True, help="audit log file")
    audit.add_argument("--out-trade-no", required=True)
    audit.add_argument("--app-id", help="only this app")
    audit.set_defaults(run=audit_command)

    args = parser.parse_args(argv)
    return args.run(args)


def token_command(args: argparse.Namespace) -> int:
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
    print(f"token (give it to the caller, store it as a secret; paysig keeps only its hash):\n  {token}\n")
    print("config:\n  [[callers]]")
    print(f"  name = {json.dumps(args.name)}")
    print(f'  token_sha256 = "{digest}"')
    print(f"  apps = {json.dumps(args.apps)}")
    if args.rpcs:
        print(f"  rpcs = {json.dumps(sorted(set(args.rpcs)))}")
    return 0


def audit_command(args: argparse.Namespace) -> int:
    """Prints matching lines; exit 1 when there is none."""
    found = 0
    try:
        with open(args.file, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                try:
                    record = json.loads(line)
                except ValueError:
                    print(f"{args.file}:{number}: not a JSON line", file=sys.stderr)
                    continue
                if record.get("out_trade_no") != args.out_trade_no:
                    continue
                if args.app_id and record.get("app_id") != args.app_id:
                    continue
                found += 1
                print(json.dumps(record, ensure_ascii=False))
    except OSError as e:
        print(f"paysig: cannot read {args.file}: {e.strerror}", file=sys.stderr)
        return 2
    return 0 if found else 1


def serve_command(args: argparse.Namespace) -> int:
    logs.setup()
    try:
        config = load_config(args.config)
        server, port = create_server(args.listen, config,
                                     allow_unauthenticated_network=args.insecure_allow_unauthenticated_network)
    except ConfigError as e:
        print(f"paysig: config error: {e}", file=sys.stderr)
        return 2
    except UnauthenticatedNetworkError as e:
        print(f"paysig: {e}", file=sys.stderr)
        return 2
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
                                          "apps": sorted(config.apps), "auth": config.access.mode.value,
                                          "tls": config.access.tls is not None,
                                          "audit": config.audit.path}})
    if config.access.mode.value == "none" and args.insecure_allow_unauthenticated_network:
        log.warning("unauthenticated", extra={"fields": {"detail": "auth.mode is none on a network address: "
                                                                    "anyone who can connect can sign"}})
    while not stop.wait(3600):
        pass
    log.info("draining", extra={"fields": {"signal": received[0], "grace_seconds": args.grace}})
    server.stop(args.grace)
    log.info("stopped")
    return 0
