#!/usr/bin/env python3
"""What each part of a unary SignOrder costs above the sync grpcio floor,
measured end to end: paysig's server (`paysig serve`, its workers, threads
and options) with its SignOrder handler cut down to a part of its work, next
to the floor (bench/floor_server.py) and to paysig whole, in interleaved
rounds of h2load on loopback. Server CPU per call, each ratio to the floor
taken within a round; the medians and ranges over the rounds are printed.

    python bench/ablation.py [--rounds 4] [--seconds 3]

The cut-down handlers (HANDLERS; each adds one part to the one before):
  sign     the compiled fast path signs the order read as bytes; no access
           check, no audit line, no metrics, no request id
  +audit   and writes its audit line (sync "none") before answering
  +trailer and sends the x-request-id trailing metadata
  +peer    and reads the caller's address (context.peer()), as every audit
           line needs it
They answer what paysig answers (checked before measuring); they exist only
here, to show where the cost lies, and are never served by paysig.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402

HANDLERS = ("sign", "+audit", "+trailer", "+peer")
HEAD = ('{"ts":"2026-01-01T00:00:00.000Z","pid":1,"request_id":"0000000000000000","caller":"",'
        '"peer":"ipv4:127.0.0.1:1","rpc":"SignOrder"')


def serve_cut_down(handler: str, argv: list[str]) -> int:
    """`paysig serve argv` with SignOrder answered by the cut-down ``handler``."""
    from paysig.server import servicer
    from paysig.server.access import ANONYMOUS
    from paysig.server.cli import main

    parts = HANDLERS[:HANDLERS.index(handler) + 1]

    def sign_order(self, request, context):
        pipeline = self._pipeline
        if "+peer" in parts:
            context.peer()
        results, lines, _ = pipeline._fast_orders(pipeline._holder.current).sign(request.items, ANONYMOUS, HEAD,
                                                                                   False)
        if "+audit" in parts:
            pipeline.audit_log.write([], lines)
        if "+trailer" in parts:
            context.set_trailing_metadata(((servicer.REQUEST_ID_KEY, "0000000000000000"),))
        return results[0]

    servicer.SignerServicer.SignOrder = sign_order
    return main(["serve", *argv])


def start(name: str, config: Path, port: int) -> bench.Workers:
    if name == "floor (grpcio)":
        return bench.floor_server(port)
    cut_down = (sys.executable, __file__, "--serve-cut-down", name, "--") if name in HANDLERS else ()
    return bench.paysig_server(config, port, name, cut_down)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--serve-cut-down", choices=HANDLERS, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.serve_cut_down:
        return serve_cut_down(args.serve_cut_down, [a for a in rest if a != "--"])
    names = ["floor (grpcio)", *HANDLERS, "paysig sync=none", "paysig"]
    with tempfile.TemporaryDirectory() as tmp:
        configs = {}
        for i, name in enumerate(names):
            text = bench.CONFIG.format(audit=Path(tmp) / f"audit-{i}.log")
            if name != "paysig":
                text = text.replace("[audit]\n", '[audit]\nsync = "none"\n')
            configs[name] = Path(tmp) / f"{i}.toml"
            configs[name].write_text(text)
        ports = {name: bench.free_port() for name in names}
        servers: dict[str, bench.Workers] = {}
        frame = bench.grpc_frame(bench.order())
        try:
            for name in names:
                servers[name] = start(name, configs[name], ports[name])
            expected, _ = bench.raw_call(ports["paysig"], "SignOrder", frame)
            for name in HANDLERS:
                answer, _ = bench.raw_call(ports[name], "SignOrder", frame)
                assert answer == expected, f"{name} does not answer what paysig answers"
            cpu: dict[tuple[int, str], list[float]] = {}
            for r in range(args.rounds):
                for concurrency, connections in ((1, 1), (64, 8)):
                    for name in names[r % len(names):] + names[:r % len(names)]:
                        row = bench.measured(servers[name], args.seconds, lambda: bench.h2load(
                            ports[name], frame, concurrency, connections, args.seconds))
                        if row["errors"]:
                            raise SystemExit(f"{name}: {row['errors']} calls failed")
                        cpu.setdefault((concurrency, name), []).append(row["cpu_ms_per_1k"])
        finally:
            for server in servers.values():
                server.stop()
    print(f"server CPU per 1,000 calls (ms), {args.rounds} interleaved rounds of {args.seconds:g} s; ratio to the "
          "floor within each round: median [range]")
    for concurrency in (1, 64):
        floor = cpu[(concurrency, names[0])]
        for name in names:
            values = cpu[(concurrency, name)]
            ratios = [a / b for a, b in zip(values, floor)]
            print(f"  SignOrder c={concurrency:<3} {name:18} {statistics.median(values):7.1f}   "
                  f"{statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
