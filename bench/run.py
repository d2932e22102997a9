#!/usr/bin/env python3
"""`make bench`: paysig against its real peers, measured in the same run on
loopback, each measurement for a fixed duration (BENCH_SECONDS).

Servers (each started once, measured in turn):
- paysig: `paysig serve` with its default workers (one per CPU), audit lines
  written to a file.
- floor (grpcio): bench/floor_server.py, the same kind of server as paysig
  (synchronous grpcio, paysig's workers, threads and options) whose
  SignOrder only computes one HMAC.
- go peer: bench/peer in -mode sign, a grpc-go SignerService doing what
  paysig does for SignOrder and BatchSignOrders (validation, the same
  signData, both HMACs, the same response bytes, an audit line per order).
  Its answers to the bench orders are checked byte for byte against
  paysig's before anything is measured.
- go peer sync=always: the same with -sync always: each answer waits for
  its audit lines to be on disk (group commit), as paysig's default does.
- go floor: bench/peer in -mode floor, grpc-go doing only the HMAC.

The primary figure is server CPU per call: utime+stime of all the server's
processes (the process tree under the one started, from /proc/PID/stat,
plus the children it reaped), per 1,000 calls (per 1,000 orders for the
batch), next to calls/s and p50/p99 latency. h2load (a C HTTP/2 client
that costs the 2-core machine little) sends unary SignOrder at concurrency
1 and 64, and BatchSignOrders of 100 orders. BENCH_PAIRS rounds interleave
the servers (the order rotates each round); the table gives the median and
the range over the rounds, and each ratio is taken within a round.

Also: ghz (pinned in the Makefile) for the other RPCs and for the
throughput-against-concurrency chart, and the in-process ceilings (signing
in a loop on one core, no network, rates in CPU time: paysig's pipeline with
its compiled fast path and with the Python reference path alone, and a Go
loop doing the same HMACs, bench/ceiling).

Writes the tables to stdout, bench/out/results.json and
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
OFFER_ID = "1450000001"
APP_KEY = "bench-production-key"
CONFIG = f"""
demo = true
[[apps]]
app_id = "bench"
kind = "minigame"
offer_id = "{OFFER_ID}"
[apps.keys]
production = {{{{ value = "{APP_KEY}" }}}}
[apps.push]
token = {{{{ value = "benchToken" }}}}
encoding_aes_key = {{{{ value = "BenchEncodingAESKeyBenchEncodingAESKeyBench" }}}}
wechat_appid = "wx0123456789abcdef"
[audit]
path = "{{audit}}"
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


def stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (fields[0] is field 3, state)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


class Workers:
    """A server we started: its worker pids (for per-worker CPU and RSS) and
    its whole process tree (for the CPU it costs)."""

    def __init__(self, command: list[str], pids_from, name: str = ""):
        self.name = name
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.pids = pids_from(self.proc)

    def cpu_ticks(self) -> dict[int, int]:
        out = {}
        for pid in self.pids:
            fields = stat(pid)
            out[pid] = int(fields[11]) + int(fields[12])
        return out

    def tree_cpu_seconds(self) -> float:
        """utime+stime of every live process under the one we started (it
        included), plus cutime+cstime: the children they have reaped."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (fields := stat(int(entry))):
                children.setdefault(int(fields[1]), []).append(int(entry))
        ticks, todo = 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            if fields := stat(pid):
                ticks += sum(int(f) for f in fields[11:15])
            todo.extend(children.get(pid, []))
        return ticks / TICKS

    def memory(self, key: str) -> dict[int, int]:
        out = {}
        for pid in self.pids:
            match = re.search(rf"^{key}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
            out[pid] = int(match.group(1)) * 1024
        return out

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


WORKERS = os.cpu_count() or 1  # paysig serve's default --workers, and so the floor's
PEER = REPO / ".tools" / "bin" / "paysig-bench-peer"


def paysig_server(config: Path, port: int, name: str = "paysig", serve: tuple[str, ...] = ()) -> Workers:
    """`paysig serve` (``serve``: another command taking its arguments, e.g. bench/ablation.py's)."""
    def pids(proc):
        serving = json.loads(proc.stderr.readline())
        return serving["pids"]

    return Workers([*(serve or (sys.executable, "-m", "paysig", "serve")), "--config", str(config), "--listen",
                    f"127.0.0.1:{port}", "--workers", str(WORKERS)], pids, name)


def floor_server(port: int) -> Workers:
    return Workers([sys.executable, str(REPO / "bench" / "floor_server.py"), "--listen", f"127.0.0.1:{port}",
                    "--workers", str(WORKERS)], lambda proc: [int(p) for p in proc.stdout.readline().split()],
                   "floor (grpcio)")


def go_server(port: int, mode: str, key_file: Path, audit: Path, sync: str = "none", name: str = "") -> Workers:
    """bench/peer (built by make bench): the grpc-go SignerService or floor."""
    def pids(proc):
        assert int(proc.stdout.readline()) == port
        return [proc.pid]

    return Workers([str(PEER), "-listen", f"127.0.0.1:{port}", "-mode", mode, "-app", "bench", "-kind", "minigame",
                    "-offer-id", OFFER_ID, "-key-file", str(key_file), "-audit", str(audit), "-sync", sync], pids,
                   name or ("go peer" if mode == "sign" else "go floor"))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measured(server: Workers, seconds: float, run) -> dict:
    """Runs a load and adds the server's CPU: the whole process tree's
    seconds (and per 1,000 calls, or items for a batch), each worker's percent
    of one core, and each worker's peak RSS."""
    before, tree_before = server.cpu_ticks(), server.tree_cpu_seconds()
    started = time.monotonic()
    result = run()
    elapsed = time.monotonic() - started
    after, tree_after = server.cpu_ticks(), server.tree_cpu_seconds()
    result["server"] = server.name
    result["server_cpu_s"] = round(tree_after - tree_before, 3)
    calls = result.get("calls") or 0
    items = calls * result.get("items", 1)
    result["cpu_ms_per_1k"] = round(1000 * result["server_cpu_s"] * 1000 / items, 2) if items else None
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
    return {"generator": "ghz", "concurrency": concurrency, "connections": connections, "calls": ok,
            "items": items, "calls_per_s": round(report["rps"]), "signatures_per_s": round(report["rps"] * items),
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
    out = subprocess.run(["h2load", "-D", f"{max(1, round(seconds * 1000))}ms", "-c", str(connections), "-m",
                          str(max(1, concurrency // connections)), "-t", "1", "-d", f.name, "--log-file", log.name,
                          "-H", "content-type: application/grpc", "-H", "te: trailers",
                          f"http://127.0.0.1:{port}/paysig.v1.SignerService/{call}"],
                         capture_output=True, text=True, timeout=seconds + 120)
    os.unlink(f.name)
    latencies = sorted(int(line.split()[2]) for line in Path(log.name).read_text().splitlines() if line.strip())
    os.unlink(log.name)
    rps = float(re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out.stdout).group(1))
    failed = int(re.search(r"(\d+) failed", out.stdout).group(1)) + int(re.search(r"(\d+) errored", out.stdout).group(1))
    succeeded = int(re.search(r"(\d+) succeeded", out.stdout).group(1))

    def percentile(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] / 1000, 2) if latencies else 0

    return {"generator": "h2load", "concurrency": concurrency, "connections": connections, "calls": succeeded,
            "items": items, "calls_per_s": round(rps), "signatures_per_s": round(rps * items), "p50_ms": percentile(0.50),
            "p99_ms": percentile(0.99), "errors": failed}


def grpc_frame(data: dict, call: str = "SignOrder") -> bytes:
    from google.protobuf import json_format

    from paysig.v1 import signer_pb2

    body = json_format.ParseDict(data, getattr(signer_pb2, call + "Request")()).SerializeToString()
    return b"\0" + struct.pack(">I", len(body)) + body


def python_ceiling(seconds: float, fast: bool) -> float:
    """paysig's whole per-call pipeline (validation, signing, audit line) on
    one core, calls per second of this process's CPU time (not wall time: the
    machine may be shared): with the compiled fast path, or the Python
    reference path."""
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
    took = timeit.Timer(lambda: pipeline.run(spec, request, context, ""), timer=time.process_time).timeit(number=n)
    return n / took


def go_ceiling(seconds: float) -> float:
    out = subprocess.run(["go", "run", str(REPO / "bench" / "ceiling" / "main.go"), str(seconds)],
                         capture_output=True, text=True, timeout=600, env={**os.environ, "GOWORK": "off"},
                         cwd=REPO / "bench", check=True)
    return float(out.stdout.strip())


def table(rows: list[dict]) -> str:
    head = f"{'scenario':34} {'gen':6} {'conc':>4} {'conn':>4} {'calls/s':>8} {'p50 ms':>7} {'p99 ms':>7} " \
           f"{'errors':>6} {'CPU ms/1k calls':>15} {'server CPU %/worker':>20} {'peak RSS MiB/worker':>20}"
    lines = [head, "-" * len(head)]
    for r in rows:
        if r["scenario"].startswith("sweep"):
            continue
        lines.append(f"{r['scenario']:34} {r['generator']:6} {r['concurrency']:>4} {r['connections']:>4} "
                     f"{r['calls_per_s']:>8} {r.get('p50_ms', '-'):>7} {r.get('p99_ms', '-'):>7} {r['errors']:>6} "
                     f"{str(r.get('cpu_ms_per_1k')):>15} "
                     f"{'/'.join(map(str, r.get('server_cpu_percent', []))):>20} "
                     f"{'/'.join(map(str, r.get('peak_rss_mib', []))):>20}")
    return "\n".join(lines)


def chart(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, key in (("paysig SignOrder", "sweep paysig"), ("sync grpcio floor", "sweep floor (grpcio)"),
                       ("grpc-go peer", "sweep go peer")):
        points = sorted((r["concurrency"], r["calls_per_s"]) for r in rows if r["scenario"] == key)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("concurrent calls (ghz, up to 8 connections)")
    ax.set_ylabel("calls/s")
    ax.set_title(f"Unary SignOrder throughput, {WORKERS} worker processes, {os.cpu_count()} CPUs")
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


NO_SYNC = "paysig sync=none"  # paysig with [audit] sync = "none": what the durable default costs
GO_SYNC = "go peer sync=always"  # the Go peer with durable audit lines, like paysig's default
SCENARIOS_ROUNDS = [  # (name, call, concurrency, connections, items per call, servers)
    ("SignOrder c=1", "SignOrder", 1, 1, 1, ("paysig", NO_SYNC, "floor (grpcio)", "go peer", GO_SYNC, "go floor")),
    ("SignOrder c=64", "SignOrder", 64, 8, 1, ("paysig", NO_SYNC, "floor (grpcio)", "go peer", GO_SYNC,
                                               "go floor")),
    ("BatchSignOrders x100 c=16", "BatchSignOrders", 16, 8, 100, ("paysig", NO_SYNC, "go peer", GO_SYNC)),
]


def raw_call(port: int, call: str, frame: bytes) -> tuple[bytes, dict]:
    """The response bytes and trailing metadata of one call of a gRPC frame's message."""
    import grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        method = channel.unary_unary(f"/paysig.v1.SignerService/{call}")
        response, info = method.with_call(frame[5:], timeout=30)
        return response, dict(info.trailing_metadata() or ())


def check_peers(ports: dict[str, int], frames: dict[str, bytes]) -> dict:
    """Before measuring: the Go peer answers the bench orders with exactly
    paysig's bytes (unary and batch), and both floors answer."""
    from paysig.v1 import signer_pb2

    checked = {}
    for call, frame in frames.items():
        ours, trailers = raw_call(ports["paysig"], call, frame)
        theirs, go_trailers = raw_call(ports["go peer"], call, frame)
        if ours != theirs:
            raise SystemExit(f"bench: the Go peer's {call} answer differs from paysig's:\n{ours!r}\n{theirs!r}")
        assert "x-request-id" in trailers and "x-request-id" in go_trailers
        checked[call] = len(ours)
    frame = frames["SignOrder"]
    for name in ("floor (grpcio)", "go floor"):
        answer, _ = raw_call(ports[name], "SignOrder", frame)
        assert len(signer_pb2.SignOrderResponse.FromString(answer).pay_sig) == 64, name
    return checked


def rounds(servers: dict[str, Workers], ports: dict[str, int], frames: dict[str, bytes], n: int,
           seconds: float) -> list[dict]:
    """n rounds; in each, every scenario on every server, the servers' order
    rotating from round to round."""
    rows = []
    for r in range(n):
        for name, call, concurrency, connections, items, names in SCENARIOS_ROUNDS:
            order_ = names[r % len(names):] + names[:r % len(names)]
            for server in order_:
                row = measured(servers[server], seconds, lambda: h2load(
                    ports[server], frames[call], concurrency, connections, seconds, call, items))
                rows.append({"round": r, "scenario": name, **row})
                print(f"  round {r + 1}/{n} {name:26} {server:15} {row['calls_per_s']:>7} calls/s "
                      f"{row['cpu_ms_per_1k']} CPU ms/1k", file=sys.stderr, flush=True)
    return rows


def spread(values: list[float]) -> str:
    """median [min-max]"""
    if not values:
        return "-"
    fmt = (lambda v: f"{v:.2f}") if max(values) < 100 else (lambda v: f"{v:.0f}")
    return f"{fmt(statistics.median(values))} [{fmt(min(values))}-{fmt(max(values))}]"


def rounds_summary(rows: list[dict]) -> tuple[str, dict]:
    """The primary table (median and range over the rounds) and the ratios,
    each taken within a round."""
    lines = [f"{'scenario':26} {'server':20} {'CPU ms/1k calls':>22} {'calls/s':>22} {'p50 ms':>18} "
             f"{'p99 ms':>18} {'errors':>6}"]
    lines.append("-" * len(lines[0]))
    summary: dict = {"rows": {}, "ratios": {}}
    for name, _, _, _, items, names in SCENARIOS_ROUNDS:
        for server in names:
            rs = [r for r in rows if r["scenario"] == name and r["server"] == server]
            cpu = [r["cpu_ms_per_1k"] for r in rs if r["cpu_ms_per_1k"] is not None]
            unit = "orders" if items > 1 else "calls"
            lines.append(f"{name:26} {server:20} {spread(cpu):>22} {spread([r['calls_per_s'] for r in rs]):>22} "
                         f"{spread([r['p50_ms'] for r in rs]):>18} {spread([r['p99_ms'] for r in rs]):>18} "
                         f"{sum(r['errors'] for r in rs):>6}" + (f"  (CPU per 1k {unit})" if items > 1 else ""))
            summary["rows"][f"{name} / {server}"] = {
                "cpu_ms_per_1k": cpu, "calls_per_s": [r["calls_per_s"] for r in rs],
                "p50_ms": [r["p50_ms"] for r in rs], "p99_ms": [r["p99_ms"] for r in rs],
                "errors": sum(r["errors"] for r in rs)}

    def ratio(scenario: str, a: str, b: str) -> list[float]:
        out = []
        for r in sorted({x["round"] for x in rows}):
            x = next((y for y in rows if (y["round"], y["scenario"], y["server"]) == (r, scenario, a)), None)
            y = next((y for y in rows if (y["round"], y["scenario"], y["server"]) == (r, scenario, b)), None)
            if x and y and x["cpu_ms_per_1k"] and y["cpu_ms_per_1k"]:
                out.append(round(x["cpu_ms_per_1k"] / y["cpu_ms_per_1k"], 3))
        return out

    lines.append("")
    lines.append("server CPU per call, ratios within each round, median [range]:")
    checks = [
        ("SignOrder c=1", "paysig", "floor (grpcio)", 1.05, "target: paysig <= 1.05x the sync grpcio floor"),
        ("SignOrder c=64", "paysig", "floor (grpcio)", 1.05, "target: paysig <= 1.05x the sync grpcio floor"),
        ("BatchSignOrders x100 c=16", "paysig", GO_SYNC, 1.0,
         "target: paysig per order <= the Go peer, both with durable audit lines (the default)"),
        ("BatchSignOrders x100 c=16", NO_SYNC, "go peer", 1.0,
         "target: paysig per order <= the Go peer, neither syncing"),
        ("SignOrder c=1", "paysig", NO_SYNC, None, 'the cost of the default [audit] sync = "always"'),
        ("SignOrder c=64", "paysig", NO_SYNC, None, 'the cost of the default [audit] sync = "always"'),
        ("BatchSignOrders x100 c=16", "paysig", NO_SYNC, None, 'the cost of the default [audit] sync = "always"'),
        ("SignOrder c=1", NO_SYNC, "floor (grpcio)", None, "paysig without syncs over the sync grpcio floor"),
        ("SignOrder c=64", NO_SYNC, "floor (grpcio)", None, "paysig without syncs over the sync grpcio floor"),
        ("BatchSignOrders x100 c=16", "paysig", "go peer", None, "paysig durable against the Go peer not syncing"),
        ("SignOrder c=1", "paysig", "go peer", None, "the gap to the Go peer"),
        ("SignOrder c=64", "paysig", "go peer", None, "the gap to the Go peer"),
        ("SignOrder c=64", "paysig", GO_SYNC, None, "the gap to the Go peer, both durable"),
        ("SignOrder c=1", "floor (grpcio)", "go floor", None, "the transport: grpcio over grpc-go"),
        ("SignOrder c=64", "floor (grpcio)", "go floor", None, "the transport: grpcio over grpc-go"),
        ("SignOrder c=1", "go peer", "go floor", None, "the Go peer's own work over its transport"),
        ("SignOrder c=64", "go peer", "go floor", None, "the Go peer's own work over its transport"),
    ]
    for scenario, a, b, target, what in checks:
        values = ratio(scenario, a, b)
        verdict = ""
        if target is not None and values:
            verdict = "  MET" if statistics.median(values) <= target else "  NOT MET"
        lines.append(f"  {scenario:26} {a + ' / ' + b:36} {spread(values):>22}  {what}{verdict}")
        summary["ratios"][f"{scenario}: {a} / {b}"] = {"values": values, "target": target}
    return "\n".join(lines), summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 5)))
    parser.add_argument("--ghz", default=str(REPO / ".tools" / "bin" / "ghz"))
    parser.add_argument("--pairs", type=int, default=int(os.environ.get("BENCH_PAIRS", 3)),
                        help="interleaved rounds of the server-CPU comparison (BENCH_PAIRS)")
    parser.add_argument("--soak", type=int, metavar="CALLS", help="run the memory soak instead")
    parser.add_argument("--rounds-only", action="store_true",
                        help="only the interleaved server-CPU rounds (no ghz rows, ceilings or chart)")
    args = parser.parse_args()
    for tool in ("h2load",) if args.soak else (args.ghz, "h2load", str(PEER)):
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
        key_file = Path(tmp) / "app.key"
        key_file.write_text(APP_KEY)
        no_sync = Path(tmp) / "bench-no-sync.toml"
        no_sync.write_text(CONFIG.format(audit=Path(tmp) / "audit-no-sync.log").replace(
            "[audit]\n", '[audit]\nsync = "none"\n'))
        ports = {name: free_port() for name in ("paysig", NO_SYNC, "floor (grpcio)", "go peer", GO_SYNC, "go floor")}
        servers: dict[str, Workers] = {}
        try:
            servers["paysig"] = paysig_server(config, ports["paysig"])
            servers[NO_SYNC] = paysig_server(no_sync, ports[NO_SYNC], NO_SYNC)
            servers["floor (grpcio)"] = floor_server(ports["floor (grpcio)"])
            servers["go peer"] = go_server(ports["go peer"], "sign", key_file, Path(tmp) / "go-audit.log")
            servers[GO_SYNC] = go_server(ports[GO_SYNC], "sign", key_file, Path(tmp) / "go-audit-sync.log", "always",
                                         GO_SYNC)
            servers["go floor"] = go_server(ports["go floor"], "floor", key_file, Path(os.devnull))
            frames = {"SignOrder": grpc_frame(order()),
                      "BatchSignOrders": grpc_frame(SCENARIOS["BatchSignOrders x100"][1], "BatchSignOrders")}
            checked = check_peers(ports, frames)
            print(f"the Go peer answers the bench orders with paysig's bytes: SignOrder {checked['SignOrder']} "
                  f"bytes, BatchSignOrders {checked['BatchSignOrders']} bytes", flush=True)

            round_rows = rounds(servers, ports, frames, args.pairs, s)
            if args.rounds_only:
                print(rounds_summary(round_rows)[0])
                return 0

            paysig, paysig_port = servers["paysig"], ports["paysig"]
            for name, (call, data, items) in SCENARIOS.items():
                if call in ("SignApiCall", "VerifySignature", "VerifyNotification"):
                    rows.append({"scenario": f"paysig {name}", **measured(paysig, s, lambda: ghz(
                        args.ghz, paysig_port, call, data, 64, 8, s, items))})
            for concurrency in (1, 4, 16, 64):
                connections = min(concurrency, 8)
                for key in ("paysig", "floor (grpcio)", "go peer"):
                    rows.append({"scenario": f"sweep {key}", **measured(servers[key], s / 2, lambda: ghz(
                        args.ghz, ports[key], "SignOrder", order(), concurrency, connections, s / 2, 1))})
            audited, audited_ok = 0, 0
            with (Path(tmp) / "audit.log").open("rb") as lines:
                for line in lines:
                    audited += 1
                    audited_ok += b'"code":"OK"' in line
        finally:
            for server in servers.values():
                server.stop()

    ceilings = {"pipeline_fast_path_per_core": round(python_ceiling(s, True)),
                "pipeline_reference_path_per_core": round(python_ceiling(s, False)),
                "go_hmac_per_core": round(go_ceiling(s))}
    primary, summary = rounds_summary(round_rows)
    results = {"seconds_per_measurement": s, "rounds": args.pairs, "workers": WORKERS,
               "machine": {"cpus": os.cpu_count(), "loadavg_at_end": os.getloadavg()},
               "server_cpu": summary, "round_rows": round_rows, "ghz_rows": rows,
               "ceilings_signatures_per_cpu_s": ceilings, "audit_lines": audited, "audit_lines_ok": audited_ok}
    (OUT / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nserver CPU per call (utime+stime of all the server's processes), h2load, {args.pairs} interleaved "
          f"rounds of {s:g} s, {WORKERS} workers for paysig and the grpcio floor:\n")
    print(primary)
    print("\nother RPCs (ghz, concurrency 64):")
    print(table(rows))
    print(f"\nin-process ceilings (one core, no network, calls per CPU-second): paysig pipeline with the fast path "
          f"{ceilings['pipeline_fast_path_per_core']}, with the Python reference path "
          f"{ceilings['pipeline_reference_path_per_core']}; the same HMACs in Go {ceilings['go_hmac_per_core']}")
    print(f"audit lines written by paysig: {audited}, {audited - audited_ok} of them not OK")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (on {os.cpu_count()} CPUs)")
    try:
        chart(rows, REPO / "docs" / "bench-throughput.png")
        print("chart: docs/bench-throughput.png; JSON: bench/out/results.json")
    except ImportError:
        print("chart skipped: matplotlib is not installed (make bench installs it)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
