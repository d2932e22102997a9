"""One caller's abuse against another caller's latency (issue 11, item 7).

Caller "abuser" keeps 16 BatchSignOrders of 1,000 orders in flight over 8
connections; caller "victim" makes unary SignOrder calls one after the other
over 4 connections. Prints the victim's p50/p99 and the abuser's answers by
status, for a server with the default [limits] and one without a cap on items
in flight (max_items_in_flight_per_caller = 1000000).

    .venv/bin/python bench/fairness.py [--seconds 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc

from paysig.client import Client
from paysig.v1 import signer_pb2 as pb

TOKENS = {"abuser": "fairness-abuser-token-0001", "victim": "fairness-victim-token-0001"}
CONFIG = """
[[apps]]
app_id = "g1"
kind = "minigame"
offer_id = "1450000001"
[apps.keys]
production = {{ value = "fairness-key" }}

[auth]
mode = "token"
{callers}
[audit]
path = "{audit}"
{limits}
"""


def order(i: int) -> pb.SignOrderRequest:
    return pb.SignOrderRequest(app_id="g1", env=pb.ENV_PRODUCTION, api=pb.PAYMENT_API_GAME_ITEM,
                               session_key="fairness-session-key", order=pb.Order(
                                   product_id="sword", goods_price=600, buy_quantity=1, out_trade_no=f"f-{i}"))


def run(limits: str, seconds: float, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        callers = "".join(f'\n[[callers]]\nname = "{n}"\ntoken_sha256 = "{hashlib.sha256(t.encode()).hexdigest()}"\n'
                          f'apps = ["g1"]\n' for n, t in TOKENS.items())
        config = Path(tmp) / "paysig.toml"
        config.write_text(CONFIG.format(callers=callers, audit=Path(tmp) / "audit.log", limits=limits))
        proc = subprocess.Popen([sys.executable, "-m", "paysig", "serve", "--config", str(config), "--listen",
                                 "127.0.0.1:0", "--workers", str(workers)], stderr=subprocess.PIPE, text=True)
        address = json.loads(proc.stderr.readline())["address"]
        threading.Thread(target=lambda: proc.stderr.read(), daemon=True).start()
        stop = threading.Event()
        abuser_codes: collections.Counter = collections.Counter()
        batch = pb.BatchSignOrdersRequest(requests=[order(i) for i in range(1000)])
        try:
            with Client(address, token=TOKENS["abuser"], allow_token_without_tls=True, connections=8,
                        timeout=60) as abuser, \
                    Client(address, token=TOKENS["victim"], allow_token_without_tls=True, connections=4,
                           timeout=60) as victim:
                def abuse():
                    while not stop.is_set():
                        try:
                            abuser.stub.BatchSignOrders(batch, timeout=60, metadata=abuser._metadata)
                            abuser_codes["OK"] += 1
                        except grpc.RpcError as e:
                            abuser_codes[e.code().name] += 1
                            time.sleep(0.01)

                threads = [threading.Thread(target=abuse) for _ in range(16)]
                for t in threads:
                    t.start()
                time.sleep(1.0)
                latencies, started = [], time.monotonic()
                while time.monotonic() - started < seconds:
                    t0 = time.perf_counter()
                    victim.stub.SignOrder(order(len(latencies)), timeout=60, metadata=victim._metadata)
                    latencies.append((time.perf_counter() - t0) * 1000)
                stop.set()
                for t in threads:
                    t.join(120)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    latencies.sort()
    return {"victim_calls": len(latencies), "victim_p50_ms": round(statistics.median(latencies), 1),
            "victim_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1), "abuser": dict(abuser_codes)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for name, limits in (("default [limits]", ""),
                         ("cap 1000", "[limits]\nmax_items_in_flight_per_caller = 1000\n"),
                         ("no cap", "[limits]\nmax_items_in_flight_per_caller = 1000000\n")):
        print(f"{name}: {run(limits, args.seconds, args.workers)}", flush=True)


if __name__ == "__main__":
    main()
