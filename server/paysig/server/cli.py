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
from .address import AddressError, parse_address

log = logging.getLogger("paysig")
DEFAULT_LISTEN = "127.0.0.1:50051"


def main(argv: list[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else argv)[:1] == ["serve"]:
        from .signals import Signals  # before the heavy imports: a signal during start-up is kept, not fatal

        signals = Signals().install()
    else:
        signals = None
    from .access import RPC_NAMES
    from .grpc_server import DEFAULT_GRACE_SECONDS

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
    serve.add_argument("--health-listen", metavar="HOST:PORT",
                       help="also serve grpc.health.v1, and nothing else, in plaintext on HOST:PORT "
                            "(for probes that cannot do TLS or client certificates)")
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

    health = commands.add_parser("health", help="exit 0 when the server at ADDRESS reports SERVING (for probes); "
                                 "plaintext: point it at the --health-listen address")
    health.add_argument("address", nargs="?", default=DEFAULT_LISTEN)
    health.add_argument("--service", default="paysig.v1.SignerService")
    health.add_argument("--timeout", type=float, default=3.0)
    health.set_defaults(run=health_command)

    args = parser.parse_args(argv)
    if signals is not None:
        args.signals = signals
    return args.run(args)


def health_command(args: argparse.Namespace) -> int:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        address = parse_address(args.address)
    except AddressError as e:
        print(f"paysig health: {e}", file=sys.stderr)
        return 2
    try:
        with grpc.insecure_channel(str(address)) as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout).status
    except grpc.RpcError as e:
        print(f"paysig health: {e.code().name}", file=sys.stderr)
        return 1
    print(health_pb2.HealthCheckResponse.ServingStatus.Name(status))
    return 0 if status == health_pb2.HealthCheckResponse.SERVING else 1


def token_command(args: argparse.Namespace) -> int:
    from .access import CALLER_NAME, CALLER_NAME_RULE

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


def diagnose_command(args: argparse.Namespace) -> int:
    from google.protobuf import json_format
    from paysig.v1 import signer_pb2 as pb

    from .config import load_config
    from .config_errors import ConfigError
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
    from . import hardening
    from .config_errors import ConfigError

    if not args.allow_core_dumps:
        try:
            hardening.disable_core_dumps()
        except OSError as e:
            print(f"paysig: cannot disable core dumps ({e}); pass --allow-core-dumps to run anyway", file=sys.stderr)
            return 2
    logs.setup()
    try:
        listen = parse_address(args.listen, "--listen")
        health = parse_address(args.health_listen, "--health-listen") if args.health_listen else None
        metrics_address = parse_address(args.metrics_listen, "--metrics-listen") if args.metrics_listen else None
    except AddressError as e:
        print(f"paysig: {e}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("paysig: --workers must be at least 1", file=sys.stderr)
        return 2
    from . import ports, process
    from .config import load_config
    from .grpc_server import UnauthenticatedNetworkError, check_listen
    from .limits import ensure_descriptors
    from .tlscheck import check_tls

    signals = getattr(args, "signals", None) or process.Signals().install()
    metrics_dir = metrics.prepare_multiprocess() if metrics_address else None
    claims = []
    try:
        config = load_config(args.config)
        check_listen(listen, config, args.insecure_allow_unauthenticated_network)
        ensure_descriptors(config.limits, f"{config.source}: limits")
        check_tls(config)
        shared = args.workers > 1
        for address in (listen, health):
            if address is not None:
                claims.append(ports.claim(address, reserve=shared))
        listen = claims[0].address
        health = claims[1].address if health else None
        if metrics_address:
            metrics.serve_multiprocess(metrics_address)
        reloader = process.Reloader(args.config, config, listen, args.insecure_allow_unauthenticated_network)

        def log_serving(address, health_address, **extra) -> None:
            _log_serving(args, config, address, health_address, **extra)

        if not shared:
            return process.serve_single(reloader, signals, listen, health, args.grace,
                                        args.insecure_allow_unauthenticated_network, log_serving)
        return process.serve_workers(reloader, signals, args.workers, listen, health, args.grace,
                                     args.insecure_allow_unauthenticated_network, log_serving)
    except ConfigError as e:
        print(f"paysig: config error: {e}", file=sys.stderr)
    except UnauthenticatedNetworkError as e:
        print(f"paysig: {e}", file=sys.stderr)
    except (OSError, RuntimeError) as e:
        print(f"paysig: {e}", file=sys.stderr)
    finally:
        for claim in claims:
            claim.close()
        if metrics_dir:
            metrics.cleanup(metrics_dir)
    return 2


def _log_serving(args: argparse.Namespace, config, address, health, **extra) -> None:
    log.info("serving", extra={"fields": {"address": str(address), "port": address.port,
                                          "health_address": str(health) if health else "",
                                          "config": config.source, "apps": sorted(config.apps),
                                          "auth": config.access.mode.value, "tls": config.access.tls is not None,
                                          "audit": config.audit.path, "metrics": args.metrics_listen or "",
                                          **extra}})
    if config.access.mode.value == "none" and args.insecure_allow_unauthenticated_network:
        log.warning("unauthenticated", extra={"fields": {"detail": "auth.mode is none on a network address: "
                                                                    "anyone who can connect can sign"}})
