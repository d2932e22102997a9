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
import os
import secrets
import signal
import sys
import threading

from . import hardening, logs, metrics
from .access import CALLER_NAME, CALLER_NAME_RULE, RPC_NAMES
from .config_errors import ConfigError
from .config import load_config
from .grpc_server import DEFAULT_GRACE_SECONDS, UnauthenticatedNetworkError, check_listen, create_server
from .process import Supervisor, install_reload, reserve_port, run_worker, wait_for_stop

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
    serve.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                       help="server processes sharing the port (default: the number of CPUs, %(default)s here)")
    serve.add_argument("--metrics-listen", metavar="HOST:PORT",
                       help="serve Prometheus metrics on http://HOST:PORT/metrics (merged across workers)")
    serve.add_argument("--allow-core-dumps", action="store_true",
                       help="keep core dumps possible (they hold every key and token in memory); off by default")
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

    health = commands.add_parser("health", help="exit 0 when the server at ADDRESS reports SERVING (for probes)")
    health.add_argument("address", nargs="?", default=DEFAULT_LISTEN)
    health.add_argument("--service", default="paysig.v1.SignerService")
    health.add_argument("--timeout", type=float, default=3.0)
    health.set_defaults(run=health_command)

    args = parser.parse_args(argv)
    return args.run(args)


def health_command(args: argparse.Namespace) -> int:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        with grpc.insecure_channel(args.address) as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout).status
    except grpc.RpcError as e:
        print(f"paysig health: {e.code().name}", file=sys.stderr)
        return 1
    print(health_pb2.HealthCheckResponse.ServingStatus.Name(status))
    return 0 if status == health_pb2.HealthCheckResponse.SERVING else 1


def token_command(args: argparse.Namespace) -> int:
    if not CALLER_NAME.fullmatch(args.name):
        print(f"paysig token: --name: {CALLER_NAME_RULE} (the rule of [[callers]] name)", file=sys.stderr)
        return 2
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
    """Prints the matching lines exactly as written; exit 1 when there is
    none. Lines that are not JSON objects (a line torn by a full disk, bytes
    that are not UTF-8) are skipped and counted on stderr."""
    found, skipped = 0, []
    out = sys.stdout.buffer
    try:
        with open(args.file, "rb") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
                    record = None
                if not isinstance(record, dict):
                    skipped.append(number)
                    continue
                if record.get("out_trade_no") != args.out_trade_no:
                    continue
                if args.app_id and record.get("app_id") != args.app_id:
                    continue
                found += 1
                out.write(line if line.endswith(b"\n") else line + b"\n")
            out.flush()
    except BrokenPipeError:  # e.g. `| head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:
        print(f"paysig audit: cannot read {args.file}: {e.strerror}", file=sys.stderr)
        return 2
    if skipped:
        shown = ", ".join(map(str, skipped[:10])) + (", ..." if len(skipped) > 10 else "")
        print(f"paysig audit: {args.file}: skipped {len(skipped)} line(s) that are not JSON objects "
              f"(torn or damaged): line {shown}", file=sys.stderr)
    return 0 if found else 1


def serve_command(args: argparse.Namespace) -> int:
    if not args.allow_core_dumps:
        try:
            hardening.disable_core_dumps()
        except OSError as e:
            print(f"paysig: cannot disable core dumps ({e}); pass --allow-core-dumps to run anyway", file=sys.stderr)
            return 2
    logs.setup()
    if args.workers < 1:
        print("paysig: --workers must be at least 1", file=sys.stderr)
        return 2
    metrics_dir = metrics.prepare_multiprocess() if args.metrics_listen else None
    try:
        config = load_config(args.config)
        check_listen(args.listen, config, args.insecure_allow_unauthenticated_network)
        if args.metrics_listen:
            metrics.serve_multiprocess(args.metrics_listen)
        if args.workers == 1:
            return serve_single(args, config)
        return serve_workers(args, config)
    except ConfigError as e:
        print(f"paysig: config error: {e}", file=sys.stderr)
    except UnauthenticatedNetworkError as e:
        print(f"paysig: {e}", file=sys.stderr)
    except (OSError, RuntimeError) as e:
        print(f"paysig: {e}", file=sys.stderr)
    finally:
        if metrics_dir:
            metrics.cleanup(metrics_dir)
    return 2


def _log_serving(args: argparse.Namespace, config, address: str, **extra) -> None:
    log.info("serving", extra={"fields": {"address": address, "port": int(address.rsplit(":", 1)[1]),
                                          "config": config.source, "apps": sorted(config.apps),
                                          "auth": config.access.mode.value, "tls": config.access.tls is not None,
                                          "audit": config.audit.path, "metrics": args.metrics_listen or "",
                                          **extra}})
    if config.access.mode.value == "none" and args.insecure_allow_unauthenticated_network:
        log.warning("unauthenticated", extra={"fields": {"detail": "auth.mode is none on a network address: "
                                                                    "anyone who can connect can sign"}})


def serve_single(args: argparse.Namespace, config) -> int:
    server, port = create_server(args.listen, config,
                                 allow_unauthenticated_network=args.insecure_allow_unauthenticated_network)
    install_reload(server, args.config)
    server.start()
    _log_serving(args, config, f"{args.listen.rsplit(':', 1)[0]}:{port}", workers=1, pids=[os.getpid()])
    signal_name = wait_for_stop()
    log.info("draining", extra={"fields": {"signal": signal_name, "grace_seconds": args.grace}})
    server.stop(args.grace)
    log.info("stopped")
    return 0


def serve_workers(args: argparse.Namespace, config) -> int:
    reserved, address = reserve_port(args.listen)

    def spawn(index: int, ready_fd: int) -> int:
        pid = os.fork()
        if pid:
            return pid
        code = 1
        try:
            reserved.close()
            code = run_worker(index, args.workers, address, config, args.config, args.grace,
                              args.insecure_allow_unauthenticated_network, ready_fd)
        except BaseException as e:  # noqa: BLE001 - a worker reports and exits, never returns into the parent's code
            log.error("worker failed", extra={"fields": {"worker": index, "error": f"{type(e).__name__}: {e}"}})
        finally:
            os._exit(code)

    supervisor = Supervisor(args.workers, spawn)
    try:
        supervisor.start()
    finally:
        reserved.close()
    stop, hangup, received = threading.Event(), threading.Event(), []

    def on_stop(signum, _frame):
        received.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, lambda *_: hangup.set())
    _log_serving(args, config, address, workers=args.workers, pids=sorted(supervisor.pids))
    supervisor.supervise(stop, hangup)
    log.info("draining", extra={"fields": {"signal": received[0], "grace_seconds": args.grace,
                                           "workers": len(supervisor.pids)}})
    clean = supervisor.terminate(args.grace + 5)
    log.info("stopped", extra={"fields": {"clean": clean}})
    return 0 if clean else 1
