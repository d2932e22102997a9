#!/usr/bin/env python3
"""The in-process cost of a call, from request bytes to response bytes: the
servicer's deserializer and handler as grpcio calls them (pipeline, fast
path, audit line written to a file with sync "none"), without the network;
CPU time of this process. The unary call is measured from one thread, then
from grpc_server.RPC_THREADS threads at once, as a busy worker runs it (with
the voluntary context switches per call: a thread that waits for a lock
another thread holds gives the GIL up).

    python bench/inprocess.py                     # figures for this tree
    python bench/inprocess.py --against DIR [-n 5]
    python bench/inprocess.py --metrics-listen    # metrics recorded as with serve --metrics-listen

With --against, DIR is another checkout with its extensions built in place
(`git worktree add DIR REV && (cd DIR && python setup.py build_ext --inplace)`):
the two trees are measured in alternating child processes, and the medians
and the per-pair ratios (this tree / DIR) are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KEYS = ("unary_us_per_call", "batch_us_per_order", "unary_us_per_call_threads", "switches_per_call_threads")


def measure(metrics_listen: bool = False) -> dict:
    if not metrics_listen:
        return _measure()
    with tempfile.TemporaryDirectory(prefix="paysig-bench-metrics-") as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory  # as `paysig serve --metrics-listen` has workers record
        return _measure()


def _measure() -> dict:
    sys.path.insert(0, str(REPO / "bench"))
    import tomllib

    import run as bench
    from google.protobuf import json_format

    import paysig.server as server
    from paysig.server import servicer as servicer_module
    from paysig.server.audit import AuditLog
    from paysig.server.config import parse_config
    from paysig.server.grpc_server import RPC_THREADS
    from paysig.server.limits import InFlight
    from paysig.server.pipeline import Pipeline
    from paysig.server.ratelimit import RateLimiter
    from paysig.server.state import ConfigHolder
    from paysig.v1 import signer_pb2

    with tempfile.TemporaryDirectory() as tmp:
        text = bench.CONFIG.format(audit=f"{tmp}/audit.log").replace("[limits]", 'sync = "none"\n[limits]')
        config = parse_config(tomllib.loads(text), source="bench", base_dir=REPO)
        pipeline = Pipeline(ConfigHolder(config), AuditLog(config.audit), RateLimiter(), inflight=InFlight())
        handlers = servicer_module.generic_handler(servicer_module.SignerServicer(pipeline))

        class Details:
            def __init__(self, method: str):
                self.method = f"/paysig.v1.SignerService/{method}"
                self.invocation_metadata = ()

        class Context:
            def peer(self):
                return "ipv4:127.0.0.1:1"

            def invocation_metadata(self):
                return ()

            def set_trailing_metadata(self, metadata):
                pass

            def auth_context(self):
                return {}

        context = Context()
        unary, batch = handlers.service(Details("SignOrder")), handlers.service(Details("BatchSignOrders"))
        one = json_format.ParseDict(bench.order(), signer_pb2.SignOrderRequest()).SerializeToString()
        hundred = json_format.ParseDict({"requests": [bench.order(i) for i in range(100)]},
                                        signer_pb2.BatchSignOrdersRequest()).SerializeToString()

        def per_item(handler, data: bytes, calls: int, items: int, threads: int = 1) -> tuple[float, float]:
            """(CPU µs per item, voluntary context switches per call) of ``calls`` calls made by ``threads`` threads."""
            answer = handler.unary_unary(handler.request_deserializer(data), context)
            assert isinstance(answer, bytes) and answer

            def loop():
                for _ in range(calls // threads):
                    handler.unary_unary(handler.request_deserializer(data), context)

            before = resource.getrusage(resource.RUSAGE_SELF)
            workers = [threading.Thread(target=loop) for _ in range(threads)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            after = resource.getrusage(resource.RUSAGE_SELF)
            cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            return 1e6 * cpu / calls / items, (after.ru_nvcsw - before.ru_nvcsw) / calls

        unary_us, _ = per_item(unary, one, 20000, 1)
        threaded_us, switches = per_item(unary, one, 20000, 1, RPC_THREADS)
        return {"tree": str(Path(server.__file__).parents[3]), "unary_us_per_call": unary_us,
                "batch_us_per_order": per_item(batch, hundred, 300, 100)[0],
                "unary_us_per_call_threads": threaded_us, "switches_per_call_threads": switches}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", type=Path, help="another checkout, its extensions built in place")
    parser.add_argument("-n", type=int, default=5, help="pairs of runs (with --against)")
    parser.add_argument("--metrics-listen", action="store_true",
                        help="record metrics as `paysig serve --metrics-listen` does (prometheus multiprocess mode)")
    args = parser.parse_args()
    if args.against is None:
        print(json.dumps(measure(args.metrics_listen)))
        return 0
    trees = {"this": REPO, "other": args.against.resolve()}
    runs: dict[str, list[dict]] = {"this": [], "other": []}
    for i in range(args.n):
        for name in (("other", "this") if i % 2 == 0 else ("this", "other")):
            tree = trees[name]
            env = dict(os.environ, PYTHONPATH=f"{tree / 'server'}{os.pathsep}{tree / 'clients' / 'python'}")
            flags = ["--metrics-listen"] if args.metrics_listen else []
            out = subprocess.run([sys.executable, __file__, *flags], env=env, capture_output=True, text=True,
                                 check=True)
            result = json.loads(out.stdout)
            if Path(result["tree"]) != tree:
                raise SystemExit(f"measured {result['tree']}, not {tree}")
            runs[name].append(result)
    for key in KEYS:
        this = [r[key] for r in runs["this"]]
        other = [r[key] for r in runs["other"]]
        if key.startswith("switches"):
            print(f"{key}: {trees['other']} {statistics.median(other):.2f}, this tree {statistics.median(this):.2f} "
                  f"(medians over {args.n} runs)")
            continue
        ratios = [a / b for a, b in zip(this, other)]
        print(f"{key}: {trees['other']} {statistics.median(other):.1f}, this tree {statistics.median(this):.1f}; "
              f"this/other median {statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}] "
              f"over {args.n} pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
