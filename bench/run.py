#!/usr/bin/env python3
"""`make bench`: paysig's throughput and latency against reference points
measured in the same run, on loopback, each scenario for a fixed duration.

- paysig: `paysig serve --workers 2` with audit lines written to a file.
- transport floor: bench/floor_server.py, 2 grpcio processes whose SignOrder
  only computes one HMAC. paysig is reported as a fraction of it.
- in-process ceilings: signing in a loop on one core, no network: paysig's
  own pipeline (with its compiled fast path, and with the Python reference
  path alone), and a Go loop doing the same HMACs (bench/ceiling).

Load generators: ghz (pinned in the Makefile) for every scenario, and h2load
(nghttp2, a C HTTP/2 client that costs the 2-core machine far less CPU) for
unary SignOrder, the batch and the comparison with the floor.

Writes the table to stdout, bench/out/results.json and
docs/bench-throughput.png. The soak (`--soak N`) sends N calls and samples
each worker's RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
PROTO = ["--proto", str(REPO / "proto/paysig/v1/signer.proto"), "--import-paths", str(REPO / "proto")]
TICKS = os.sysconf("SC_CLK_TCK")
SESSION_KEY = "9hAb/NEYUlkaMBEsmFgzig=="
CONFIG = """
demo = true
[[apps]]
app_id = "bench"
kind = "minigame"
offer_id = "1450000001"
[apps.keys]
production = {{ value = "bench-production-key" }}
[apps.push]
token = {{ value = "benchToken" }}
encoding_aes_key = {{ value = "BenchEncodingAESKeyBenchEncodingAESKeyBench" }}
wechat_appid = "wx0123456789abcdef"
[audit]
path = "{audit}"
[limits]
max_items_in_flight_per_caller = 1000000  # one caller (anonymous) drives the whole load here
"""


def order(i: int = 1) -> dict:
    return {"app_id": "bench", "env": "ENV_PRODUCTION", "api": "PAYMENT_API_GAME_ITEM", "session_key": SESSION_KEY,
            "order": {"product_id": "sword", "goods_price": 600, "buy_quantity": 1, "out_trade_no": f"bench-{i:06d}"}}


def safe_goods_push() -> dict:
    """A VerifyNotificationRequest (proto JSON) for a safe-mode mini-game
    goods push, built as WeChat builds it: PayEventSig with hmac, AES-256-CBC
    with pyca/cryptography, msg_signature with hashlib (not with paysig)."""
    import base64
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    event = "minigame_game_pay_goods_deliver_notify"
    payload = json.dumps({"OpenId": "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", "Env": 0, "OutTradeNo": "bench-000001",
                          "GoodsInfo": {"ProductId": "sword", "Quantity": 1, "ZoneId": "1", "OrigPrice": 600,
                                        "ActualPrice": 600, "Attach": "", "OrderSource": 1},
                          "WeChatPayInfo": {"MchOrderNo": "M1", "TransactionId": "T1"}}, separators=(",", ":"))
    sig = hmac.new(b"bench-production-key", f"{event}&{payload}".encode(), hashlib.sha256).hexdigest()
    message = json.dumps({"ToUserName": "gh_97417a04a28d", "FromUserName": "o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
                          "CreateTime": 1714112445, "MsgType": "event", "Event": event,
                          "MiniGame": {"Payload": payload, "PayEventSig": sig, "IsMock": False}}).encode()
    key = base64.b64decode("BenchEncodingAESKeyBenchEncodingAESKeyBench=")
    padder = padding.PKCS7(256).padder()
    padded = padder.update(os.urandom(16) + len(message).to_bytes(4, "big") + message + b"wx0123456789abcdef")
    padded += padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    encrypt = base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()
    timestamp, nonce = "1714112445", "415670741"

    def sha1_sorted(*parts: str) -> str:
        return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()

    query = (f"signature={sha1_sorted('benchToken', timestamp, nonce)}&timestamp={timestamp}&nonce={nonce}"
             f"&encrypt_type=aes&msg_signature={sha1_sorted('benchToken', timestamp, nonce, encrypt)}")
    body = json.dumps({"ToUserName": "gh_97417a04a28d", "Encrypt": encrypt}).encode()
    return {"app_id": "bench", "http_method": "POST", "query": query, "body": base64.b64encode(body).decode()}


SCENARIOS = {  # name: (call, data, items per call)
    "SignOrder": ("SignOrder", order(), 1),
    "BatchSignOrders x100": ("BatchSignOrders", {"requests": [order(i) for i in range(100)]}, 100),
    "SignApiCall": ("SignApiCall", {"app_id": "bench", "env": "ENV_PRODUCTION", "uri": "/wxa/game/getbalance",
                                    "body": '{"openid":"o1","env":0,"ts":1668136271,"zone_id":"1"}',
                                    "session_key": SESSION_KEY}, 1),
    "VerifySignature": ("VerifySignature", {"app_id": "bench", "scheme": "SIGNATURE_SCHEME_USER_SIGNATURE",
                                            "payload": '{"foo":"bar"}', "session_key": "o0q0otL8aEzpcZL/FT9WsQ==",
                                            "signature": "654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b"},
                        1),
    # Figures are indicative: the machine is shared, and each push costs an AES decryption, two SHA-1, one
    # HMAC and two JSON parses in Python.
    "VerifyNotification (safe)": ("VerifyNotification", safe_goods_push(), 1),
}


class Workers:
    """A server whose worker pids we know, for CPU and RSS readings."""

    def __init__(self, command: list[str], pids_from):
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.pids = pids_from(self.proc)

    def cpu_ticks(self) -> dict[int, int]:
        out = {}
        for pid in self.pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[pid] = int(fields[11]) + int(fields[12])
        return out

    def memory(self, key: str) -> dict[int, int]:
        out = {}
        for pid in self.pids:
            match = re.search(rf"^{key}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
            out[pid] = int(match.group(1)) * 1024
        return out

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


def paysig_server(config: Path, port: int) -> Workers:
    def pids(proc):
        serving = json.loads(proc.stderr.readline())
        return serving["pids"]

    return Workers([sys.executable, "-m", "paysig", "serve", "--config", str(config), "--listen",
                    f"127.0.0.1:{port}", "--workers", "2"], pids)


def floor_server(port: int) -> Workers:
    return Workers([sys.executable, str(REPO / "bench" / "floor_server.py"), "--listen", f"127.0.0.1:{port}",
                    "--workers", "2"], lambda proc: [int(p) for p in proc.stdout.readline().split()])


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measured(server: Workers, seconds: float, run) -> dict:
    """Runs a load and adds the workers' CPU (percent of one core, each) and peak RSS."""
    before = server.cpu_ticks()
    started = time.monotonic()
    result = run()
    elapsed = time.monotonic() - started
    after = server.cpu_ticks()
    result["server_cpu_percent"] = [round(100 * (after[p] - before[p]) / TICKS / elapsed) for p in server.pids]
    result["peak_rss_mib"] = [round(v / 2**20, 1) for v in server.memory("VmHWM").values()]
    return result


def ghz(ghz_bin: str, port: int, call: str, data: dict, concurrency: int, connections: int, seconds: float,
        items: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(data, f)
    out = subprocess.run([ghz_bin, "--insecure", *PROTO, "--call", f"paysig.v1.SignerService.{call}",
                          "--data-file", f.name, "-c", str(concurrency), "--connections", str(connections),
                          "-z", f"{seconds}s", "--format", "json", f"127.0.0.1:{port}"],
                         capture_output=True, text=True, timeout=seconds + 120)
    os.unlink(f.name)
    report = json.loads(out.stdout)
    latency = {int(d["percentage"]): d["latency"] / 1e6 for d in report.get("latencyDistribution") or []}
    ok = report.get("statusCodeDistribution", {}).get("OK", 0)
    # ghz closes its connections when the duration ends; the calls in flight
    # then fail on its side with this message. They are not server errors.
    cut = sum(n for message, n in (report.get("errorDistribution") or {}).items()
              if "use of closed network connection" in message)
    return {"generator": "ghz", "concurrency": concurrency, "connections": connections,
            "calls_per_s": round(report["rps"]), "signatures_per_s": round(report["rps"] * items),
            "p50_ms": round(latency.get(50, 0), 2), "p99_ms": round(latency.get(99, 0), 2),
            "errors": report["count"] - ok - cut, "cut_at_end": cut}


def h2load(port: int, data: bytes, concurrency: int, connections: int, seconds: float, call: str = "SignOrder",
           items: int = 1) -> dict:
    """h2load sends the same gRPC frame on ``connections`` connections with
    concurrency/connections streams each; latency percentiles come from its
    per-request log. It reads HTTP statuses only: the gRPC statuses are in
    the audit lines, which main() counts."""
    with tempfile.NamedTemporaryFile("wb", delete=False) as f, tempfile.NamedTemporaryFile(delete=False) as log:
        f.write(data)
    out = subprocess.run(["h2load", "-D", str(int(seconds)), "-c", str(connections), "-m",
                          str(max(1, concurrency // connections)), "-t", "1", "-d", f.name, "--log-file", log.name,
                          "-H", "content-type: application/grpc", "-H", "te: trailers",
                          f"http://127.0.0.1:{port}/paysig.v1.SignerService/{call}"],
                         capture_output=True, text=True, timeout=seconds + 120)
    os.unlink(f.name)
    latencies = sorted(int(line.split()[2]) for line in Path(log.name).read_text().splitlines() if line.strip())
    os.unlink(log.name)
    rps = float(re.search(r"finished in [\d.]+s, ([\d.]+) req/s", out.stdout).group(1))
    failed = int(re.search(r"(\d+) failed", out.stdout).group(1))

    def percentile(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] / 1000, 2) if latencies else 0

    return {"generator": "h2load", "concurrency": concurrency, "connections": connections,
            "calls_per_s": round(rps), "signatures_per_s": round(rps * items), "p50_ms": percentile(0.50),
            "p99_ms": percentile(0.99), "errors": failed}


def grpc_frame(data: dict, call: str = "SignOrder") -> bytes:
    from google.protobuf import json_format

    from paysig.v1 import signer_pb2

    body = json_format.ParseDict(data, getattr(signer_pb2, call + "Request")()).SerializeToString()
    return b"\0" + struct.pack(">I", len(body)) + body


def python_ceiling(seconds: float, fast: bool) -> float:
    """paysig's whole per-call pipeline (validation, signing, audit line) on
    one core: with the compiled fast path, or the Python reference path."""
    from google.protobuf import json_format

    from paysig.server.audit import AuditLog
    from paysig.server.config import parse_config
    from paysig.server.pipeline import Pipeline
    from paysig.server.ratelimit import RateLimiter
    from paysig.server.servicer import SPECS
    from paysig.server.state import ConfigHolder
    from paysig.v1 import signer_pb2

    import tomllib

    config = parse_config(tomllib.loads(CONFIG.format(audit="/dev/null")), source="bench", base_dir=REPO)
    pipeline = Pipeline(ConfigHolder(config), AuditLog(config.audit), RateLimiter(), fast=fast)
    request = json_format.ParseDict(order(), signer_pb2.SignOrderRequest())

    class Context:
        @staticmethod
        def peer() -> str:
            return "ipv4:127.0.0.1:1"

    context = Context()
    n = max(1000, int(seconds * 5000))
    spec = SPECS["SignOrder"]
    took = timeit.timeit(lambda: pipeline.run(spec, request, context, ""), number=n)
    return n / took


def go_ceiling(seconds: float) -> float:
    out = subprocess.run(["go", "run", str(REPO / "bench" / "ceiling" / "main.go"), str(seconds)],
                         capture_output=True, text=True, timeout=600, env={**os.environ, "GOWORK": "off"},
                         cwd=REPO / "bench", check=True)
    return float(out.stdout.strip())


def table(rows: list[dict]) -> str:
    head = f"{'scenario':34} {'gen':6} {'conc':>4} {'conn':>4} {'calls/s':>8} {'sigs/s':>8} {'p50 ms':>7} " \
           f"{'p99 ms':>7} {'errors':>6} {'server CPU %/worker':>20} {'peak RSS MiB/worker':>20}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['scenario']:34} {r['generator']:6} {r['concurrency']:>4} {r['connections']:>4} "
                     f"{r['calls_per_s']:>8} {r['signatures_per_s']:>8} {r.get('p50_ms', '-'):>7} "
                     f"{r.get('p99_ms', '-'):>7} {r['errors']:>6} "
                     f"{'/'.join(map(str, r.get('server_cpu_percent', []))):>20} "
                     f"{'/'.join(map(str, r.get('peak_rss_mib', []))):>20}")
    return "\n".join(lines)


def chart(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, key in (("paysig SignOrder", "sweep paysig"), ("transport floor", "sweep floor")):
        points = sorted((r["concurrency"], r["calls_per_s"]) for r in rows if r["scenario"] == key)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("concurrent calls (ghz, up to 8 connections)")
    ax.set_ylabel("calls/s")
    ax.set_title("Unary throughput, 2 worker processes, 2-core machine")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def soak(calls: int) -> int:
    """Sends ``calls`` SignOrder calls with h2load and samples every worker's RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.toml"
        config.write_text(CONFIG.format(audit="/dev/null"))
        port = free_port()
        server = paysig_server(config, port)
        try:
            with tempfile.NamedTemporaryFile("wb", delete=False) as f:
                f.write(grpc_frame(order()))
            load = subprocess.Popen(["h2load", "-n", str(calls), "-c", "8", "-m", "8", "-t", "1", "-d", f.name,
                                     "-H", "content-type: application/grpc", "-H", "te: trailers",
                                     f"http://127.0.0.1:{port}/paysig.v1.SignerService/SignOrder"],
                                    stdout=subprocess.PIPE, text=True)
            samples = []
            started = time.monotonic()
            while load.poll() is None:
                time.sleep(5)
                samples.append((round(time.monotonic() - started), server.memory("VmRSS")))
            out = load.stdout.read()
            os.unlink(f.name)
        finally:
            server.stop()
    finished = re.search(r"^finished in .*$", out, re.M)
    print(finished.group(0) if finished else out)
    print(f"{'seconds':>8} " + " ".join(f"{'RSS MiB pid ' + str(p):>16}" for p in samples[0][1]))
    for t, rss in samples:
        print(f"{t:>8} " + " ".join(f"{v / 2**20:>16.1f}" for v in rss.values()))
    # Growth after warm-up (the first 20% of samples) to the end, per worker.
    warm = samples[max(0, len(samples) // 5)][1]
    growth = {p: samples[-1][1][p] - warm[p] for p in warm}
    print("growth after warm-up MiB:", {p: round(g / 2**20, 1) for p, g in growth.items()})
    done = int(re.search(r"(\d+) succeeded", out).group(1))
    print(f"{done} calls succeeded")
    return 0 if done == calls and all(g < 8 * 2**20 for g in growth.values()) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 5)))
    parser.add_argument("--ghz", default=str(REPO / ".tools" / "bin" / "ghz"))
    parser.add_argument("--pairs", type=int, default=int(os.environ.get("BENCH_PAIRS", 3)),
                        help="interleaved paysig/floor runs of unary SignOrder at concurrency 64 (h2load), "
                             "for the spread of the ratio")
    parser.add_argument("--soak", type=int, metavar="CALLS", help="run the memory soak instead")
    args = parser.parse_args()
    for tool in ("h2load",) if args.soak else (args.ghz, "h2load"):
        if not shutil.which(tool):
            print(f"bench: {tool} not found (make bench installs it)", file=sys.stderr)
            return 2
    if args.soak:
        return soak(args.soak)

    OUT.mkdir(parents=True, exist_ok=True)
    s = args.seconds
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.toml"
        config.write_text(CONFIG.format(audit=Path(tmp) / "audit.log"))
        paysig_port, floor_port = free_port(), free_port()
        paysig, floor = paysig_server(config, paysig_port), floor_server(floor_port)
        try:
            frame = grpc_frame(order())
            for name, (call, data, items) in SCENARIOS.items():
                for concurrency, connections in ([(1, 1), (64, 8)] if call == "SignOrder" else
                                                 [(16, 8)] if items > 1 else [(64, 8)]):
                    row = measured(paysig, s, lambda: ghz(args.ghz, paysig_port, call, data, concurrency,
                                                          connections, s, items))
                    rows.append({"scenario": f"paysig {name}", **row})
            rows.append({"scenario": "floor SignOrder (HMAC only)",
                         **measured(floor, s, lambda: ghz(args.ghz, floor_port, "SignOrder", order(), 64, 8, s, 1))})
            batch_frame = grpc_frame(SCENARIOS["BatchSignOrders x100"][1], "BatchSignOrders")
            for concurrency, connections in ((1, 1), (64, 8)):
                rows.append({"scenario": "paysig SignOrder", **measured(paysig, s, lambda: h2load(
                    paysig_port, frame, concurrency, connections, s))})
            rows.append({"scenario": "paysig BatchSignOrders x100", **measured(paysig, s, lambda: h2load(
                paysig_port, batch_frame, 16, 8, s, "BatchSignOrders", 100))})
            rows.append({"scenario": "floor SignOrder (HMAC only)",
                         **measured(floor, s, lambda: h2load(floor_port, frame, 64, 8, s))})
            for _ in range(args.pairs - 1):  # the rows above are the first pair
                rows.append({"scenario": "pair paysig", **measured(paysig, s, lambda: h2load(
                    paysig_port, frame, 64, 8, s))})
                rows.append({"scenario": "pair floor", **measured(floor, s, lambda: h2load(
                    floor_port, frame, 64, 8, s))})
            for concurrency in (1, 4, 16, 64):
                connections = min(concurrency, 8)
                for key, server, port in (("sweep paysig", paysig, paysig_port), ("sweep floor", floor, floor_port)):
                    rows.append({"scenario": key, **measured(server, s / 2, lambda: ghz(
                        args.ghz, port, "SignOrder", order(), concurrency, connections, s / 2, 1))})
            audited, audited_ok = 0, 0
            with (Path(tmp) / "audit.log").open("rb") as lines:
                for line in lines:
                    audited += 1
                    audited_ok += b'"code":"OK"' in line
        finally:
            paysig.stop()
            floor.stop()

    ceilings = {"pipeline_fast_path_per_core": round(python_ceiling(s, True)),
                "pipeline_reference_path_per_core": round(python_ceiling(s, False)),
                "go_hmac_per_core": round(go_ceiling(s))}
    main_rows = [r for r in rows if not r["scenario"].startswith(("sweep", "pair"))]
    ratio = {}
    for gen in ("ghz", "h2load"):
        paysig_rps = next(r["calls_per_s"] for r in main_rows
                          if r["scenario"] == "paysig SignOrder" and r["generator"] == gen and r["concurrency"] == 64)
        floor_rps = next(r["calls_per_s"] for r in main_rows
                         if r["scenario"].startswith("floor") and r["generator"] == gen)
        ratio[gen] = round(paysig_rps / floor_rps, 2)
    pairs = [(p, f) for p, f in zip(
        [r for r in rows if r["generator"] == "h2load" and r["concurrency"] == 64
         and r["scenario"] in ("paysig SignOrder", "pair paysig")],
        [r for r in rows if r["generator"] == "h2load" and r["scenario"] in ("floor SignOrder (HMAC only)",
                                                                             "pair floor")])]
    spread = {"paysig_calls_per_s": [p["calls_per_s"] for p, _ in pairs],
              "floor_calls_per_s": [f["calls_per_s"] for _, f in pairs],
              "paysig_p99_ms": [p["p99_ms"] for p, _ in pairs], "floor_p99_ms": [f["p99_ms"] for _, f in pairs],
              "ratio": [round(p["calls_per_s"] / f["calls_per_s"], 2) for p, f in pairs]}
    results = {"seconds_per_scenario": s, "h2load_c64_pairs": spread, "machine": {"cpus": os.cpu_count()}, "rows": rows,
               "ceilings_signatures_per_s": ceilings, "paysig_over_floor_c64": ratio, "audit_lines": audited,
               "audit_lines_ok": audited_ok}
    (OUT / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(table(main_rows))
    print(f"\nin-process ceilings (one core, no network, calls/s): paysig pipeline with the fast path "
          f"{ceilings['pipeline_fast_path_per_core']}, with the Python reference path "
          f"{ceilings['pipeline_reference_path_per_core']}; the same HMACs in Go {ceilings['go_hmac_per_core']}")
    print(f"paysig unary SignOrder / transport floor at concurrency 64: {ratio['ghz']} with ghz, "
          f"{ratio['h2load']} with h2load")
    print(f"h2load at concurrency 64, {len(pairs)} interleaved paysig/floor pairs: paysig calls/s "
          f"{spread['paysig_calls_per_s']} (median {statistics.median(spread['paysig_calls_per_s'])}), p99 ms "
          f"{spread['paysig_p99_ms']}; floor calls/s {spread['floor_calls_per_s']}, p99 ms {spread['floor_p99_ms']}; "
          f"ratio {spread['ratio']} (median {statistics.median(spread['ratio'])})")
    print(f"audit lines written by paysig: {audited}, {audited - audited_ok} of them not OK")
    try:
        chart(rows, REPO / "docs" / "bench-throughput.png")
        print("chart: docs/bench-throughput.png; JSON: bench/out/results.json")
    except ImportError:
        print("chart skipped: matplotlib is not installed (make bench installs it)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
