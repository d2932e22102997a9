#!/usr/bin/env python3
"""In-process ceilings of builds of the compiled fast path, compared in the
same conditions: each build of _fastsign (a .so file) is loaded in turn in
a fresh process, in interleaved rounds, and measured in CPU time (not wall
time: the machine may be shared):

- the pipeline with the fast path, one unary SignOrder a call (as bench/run.py's ceiling);
- _fastsign.sign_orders for one order a call, and for 100 orders a call.

To compare a change of _fastsign.c with its base, copy the base's built .so
aside first (for example `cp server/paysig/server/_fastsign.*.so /tmp/before.so`
before rebuilding), then:

    .venv/bin/python bench/fastsign_ceiling.py /tmp/before.so server/paysig/server/_fastsign.*.so

Prints one JSON line per measurement and, per build, the medians and the
median of the per-round ratios to the first build.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIGURES = ("pipeline_calls_per_cpu_s", "sign_orders_x1_calls_per_cpu_s", "sign_orders_x100_orders_per_cpu_s")


def cpu_rate(fn, n: int) -> float:
    fn()
    started = time.process_time()
    for _ in range(n):
        fn()
    return n / (time.process_time() - started)


def measure(so: str, seconds: float) -> dict:
    """Runs in a fresh process: loads ``so`` as paysig.server._fastsign, then measures."""
    name = "paysig.server._fastsign"
    loader = importlib.machinery.ExtensionFileLoader(name, so)
    module = importlib.util.module_from_spec(importlib.util.spec_from_file_location(name, so, loader=loader))
    loader.exec_module(module)
    import paysig.server

    sys.modules[name] = module
    paysig.server._fastsign = module
    sys.path.insert(0, str(REPO / "bench"))
    import tomllib

    import run
    from google.protobuf import json_format

    from paysig.server import fastpath
    from paysig.server.access import ANONYMOUS
    from paysig.server.audit import AuditLog
    from paysig.server.config import parse_config
    from paysig.server.pipeline import Pipeline
    from paysig.server.ratelimit import RateLimiter
    from paysig.server.servicer import SPECS
    from paysig.server.state import ConfigHolder
    from paysig.v1 import signer_pb2

    assert fastpath._fastsign is module

    class Context:
        @staticmethod
        def peer() -> str:
            return "ipv4:127.0.0.1:1"

    config = parse_config(tomllib.loads(run.CONFIG.format(audit="/dev/null")), source="bench", base_dir=REPO)
    pipeline = Pipeline(ConfigHolder(config), AuditLog(config.audit), RateLimiter(), fast=True)
    orders = fastpath.FastOrders(config)
    one = [json_format.ParseDict(run.order(), signer_pb2.SignOrderRequest())]
    batch = [json_format.ParseDict(run.order(i), signer_pb2.SignOrderRequest()) for i in range(100)]
    head = '{"rpc":"SignOrder"'
    results, _, _ = orders.sign(batch, ANONYMOUS, head, True)
    assert all(results)
    context = Context()
    return {"so": so,
            FIGURES[0]: round(cpu_rate(lambda: pipeline.run(SPECS["SignOrder"], one[0], context, ""),
                                       int(seconds * 15000))),
            FIGURES[1]: round(cpu_rate(lambda: orders.sign(one, ANONYMOUS, head, False), int(seconds * 30000))),
            FIGURES[2]: round(100 * cpu_rate(lambda: orders.sign(batch, ANONYMOUS, head, True),
                                             max(100, int(seconds * 300))))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("builds", nargs="*", help="_fastsign .so files; ratios are to the first")
    parser.add_argument("--seconds", type=float, default=2.0, help="rough seconds per figure")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.seconds)))
        return 0
    if not args.builds:
        parser.error("give at least one _fastsign .so file")
    rows = []
    for r in range(args.rounds):
        for so in args.builds[r % len(args.builds):] + args.builds[:r % len(args.builds)]:
            out = subprocess.run([sys.executable, __file__, "--measure", so, "--seconds", str(args.seconds)],
                                 capture_output=True, text=True, check=True)
            rows.append({"round": r, **json.loads(out.stdout)})
            print(json.dumps(rows[-1]), flush=True)
    for so in args.builds:
        mine = [x for x in rows if x["so"] == so]
        print(so)
        for figure in FIGURES:
            ratios = [x[figure] / y[figure] for x in mine for y in rows
                      if y["so"] == args.builds[0] and y["round"] == x["round"]]
            print(f"  {figure:36} median {statistics.median(x[figure] for x in mine):>9.0f}  ratio to the first "
                  f"{statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
