"""`paysig serve --workers N`: one port, N processes, supervised."""

import json
import os
import signal
import time

from paysig.client import Client

from support import ServerProcess, openssl_hmac
from test_security import APPS, order, write_config


def audit_pids(path) -> set[int]:
    return {json.loads(line)["pid"] for line in path.read_text().splitlines()}


def test_connections_reach_every_worker_and_a_killed_worker_is_replaced(tmp_path):
    audit = tmp_path / "audit.log"
    config = write_config(tmp_path, APPS + f'[audit]\npath = "{audit}"\n')
    server = ServerProcess(config, "--workers", "3")
    try:
        serving = json.loads(server.stderr[0])
        assert serving["workers"] == 3 and len(serving["pids"]) == 3
        with Client(server.address, connections=12) as client:
            for i in range(60):
                signed = client.sign_order(order(out_trade_no=f"w-{i}"))
                assert signed.pay_sig == openssl_hmac("g1-production-key",
                                                      "requestMidasPaymentGameItem&" + signed.sign_data)
        assert audit_pids(audit) == set(serving["pids"])

        victim = serving["pids"][0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any('"worker restarted"' in line for line in server.stderr):
            time.sleep(0.1)
        restarted = [json.loads(line) for line in server.stderr if '"worker restarted"' in line]
        assert restarted and restarted[0]["worker"] == 0
        with Client(server.address, connections=12) as client:
            for i in range(60):
                client.sign_order(order(out_trade_no=f"w2-{i}"))
        assert restarted[0]["pid"] in audit_pids(audit)
    finally:
        code = server.stop()
    assert code == 0
    exited = [json.loads(line) for line in server.stderr if '"worker exited"' in line]
    assert exited[0]["pid"] == victim and exited[0]["status"] == "signal SIGKILL"


def test_rates_are_split_between_workers(tmp_path):
    from paysig.server import load_config
    from test_security import TOKEN_CALLERS

    config = load_config(write_config(tmp_path, APPS + TOKEN_CALLERS.replace("rate_per_second = 0.001\nburst = 2",
                                                                             "rate_per_second = 100\nburst = 40")))
    rate = next(c for c in config.per_worker(4).access.callers if c.name == "game-b").rate
    assert (rate.per_second, rate.burst) == (25, 10)
    assert config.per_worker(1) is config


def test_workers_option_is_checked(tmp_path):
    import subprocess
    import sys

    config = write_config(tmp_path, APPS)
    result = subprocess.run([sys.executable, "-m", "paysig", "serve", "--config", str(config), "--workers", "0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "--workers must be at least 1" in result.stderr
