"""What `[audit] sync = "always"` costs: AuditLog.write throughput and
latency, sync "none" against "always", from 1 to 64 threads, one line per
write (a unary call) and 100 (a batch), to a file in --dir (default: the
system temp folder; put it on the disk the audit log will use).

    .venv/bin/python bench/audit_sync.py [--seconds 2] [--dir /var/log/paysig]

Group commit shows as syncs per write well below 1 once threads overlap.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from paysig.server.audit import AuditLog, AuditSettings


def record(i: int) -> dict:
    return {"ts": "2026-01-01T00:00:00.000Z", "pid": 1, "request_id": f"{i:016x}", "caller": "game-a",
            "peer": "ipv4:10.0.0.7:51522", "rpc": "SignOrder", "app_id": "demo-minigame", "env": "ENV_PRODUCTION",
            "api": "PAYMENT_API_GAME_ITEM", "out_trade_no": f"bench-{i:012d}", "product_id": "sword",
            "goods_price": 600, "buy_quantity": 1, "code": "OK", "key_version": 1, "key_env": "ENV_PRODUCTION",
            "signature_fp": "6f1c0123456789ab"}


def run(directory: Path, sync: str, threads: int, lines: int, seconds: float) -> dict:
    path = directory / f"audit-{sync}-{threads}-{lines}.log"
    log = AuditLog(AuditSettings(path=str(path), sync=sync))
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    entries = [record(i) for i in range(lines)]

    def work() -> None:
        mine = []
        while time.monotonic() < stop:
            started = time.perf_counter()
            assert log.write(entries)
            mine.append(time.perf_counter() - started)
        latencies.extend(mine)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    log.close()
    path.unlink()
    writes = len(latencies)
    latencies.sort()
    return {"sync": sync, "threads": threads, "lines_per_write": lines, "writes_per_s": round(writes / seconds),
            "lines_per_s": round(writes * lines / seconds), "syncs_per_write": round(log.syncs / max(writes, 1), 3),
            "p50_us": round(statistics.median(latencies) * 1e6), "p99_us": round(latencies[int(writes * 0.99)] * 1e6)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(f"{'sync':>6} {'threads':>7} {'lines/write':>11} {'writes/s':>9} {'lines/s':>9} "
              f"{'syncs/write':>11} {'p50 us':>7} {'p99 us':>7}")
        for lines in (1, 100):
            for threads in (1, 4, 16, 64):
                for sync in ("none", "always"):
                    r = run(Path(tmp), sync, threads, lines, args.seconds)
                    print(f"{r['sync']:>6} {r['threads']:>7} {r['lines_per_write']:>11} {r['writes_per_s']:>9} "
                          f"{r['lines_per_s']:>9} {r['syncs_per_write']:>11} {r['p50_us']:>7} {r['p99_us']:>7}",
                          flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
