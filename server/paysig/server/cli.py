"""Command line.

    paysig serve --config FILE [--listen HOST:PORT]   run the server
    paysig token --name CALLER --app APP ...          make a caller token and its config lines
    paysig audit --file AUDIT --out-trade-no NO       who signed an order
    paysig diagnose --config FILE --app-id A [FILE]   why WeChat rejected a signature
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

from . import logs, metrics
from .access import RPC_NAMES
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

    diagnose = commands.add_parser(
        "diagnose", help="explain why WeChat rejected a signature, with the config's keys (no server needed)",
        description="Reads a DiagnoseSignatureRequest as JSON (proto JSON: "
                    '{"scheme": "SIGNATURE_SCHEME_PAY_SIG", "method": ..., "payload": ..., "signature": ..., '
                    '"wechat_error_code": -15014}) from FILE or stdin and prints the findings. '
                    "Exit 0 when the signature is valid, 1 when it is explained or unexplained, 2 on bad input.")
    diagnose.add_argument("--config", required=True, help="TOML config file holding the app's keys")
    diagnose.add_argument("--app-id", required=True, help="the app whose keys are tried")
    diagnose.add_argument("request", nargs="?", default="-", help="request JSON file (default: stdin)")
    diagnose.add_argument("--json", action="store_true", help="print the response as proto JSON")
    diagnose.set_defaults(run=diagnose_command)

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


def diagnose_command(args: argparse.Namespace) -> int:
    from google.protobuf import json_format
    from paysig.v1 import signer_pb2 as pb

    from .errors import PaysigError
    from .ops.diagnose_signature import diagnose_signature

    try:
        config = load_config(args.config)
        text = sys.stdin.read() if args.request == "-" else open(args.request, encoding="utf-8").read()
        request = json_format.Parse(text, pb.DiagnoseSignatureRequest())
        request.app_id = args.app_id
        response = diagnose_signature(config, request)
    except ConfigError as e:
        print(f"paysig: config error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"paysig: cannot read {args.request}: {e.strerror}", file=sys.stderr)
        return 2
    except json_format.ParseError as e:
        print(f"paysig: the request is not a DiagnoseSignatureRequest in JSON: {e}", file=sys.stderr)
        return 2
    except PaysigError as e:
        print(f"paysig: {e.code.value}: {e.message}", file=sys.stderr)
        return 2
    if args.json:
        print(json_format.MessageToJson(response, preserving_proto_field_name=True, ensure_ascii=False))
    else:
        print(pb.DiagnosisVerdict.Name(response.verdict).removeprefix("DIAGNOSIS_VERDICT_"))
        if response.error_code_meaning:
            print(f"  error code: {response.error_code_meaning}")
        for f in response.findings:
            print(f"- {f.code}{f' ({f.field})' if f.field else ''}: {f.message}")
            if f.key_version:
                print(f"    key: {pb.Env.Name(f.key_env)} version {f.key_version}")
            for name in ("expected_method", "expected_payload", "expected_signature"):
                if getattr(f, name):
                    print(f"    {name}: {getattr(f, name)}")
    return 0 if response.verdict == pb.DIAGNOSIS_VERDICT_VALID else 1


def serve_command(args: argparse.Namespace) -> int:
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
