"""Operating paysig: metrics across workers, request ids, reload on SIGHUP,
and a fault run under load (worker killed, reloads, SIGTERM)."""

import hashlib
import hmac
import json
import os
import re
import signal
import threading
import time

import grpc

from paysig.client import Client, PaysigError
from paysig.v1 import signer_pb2 as pb
from support import (ServerProcess, free_port, openssl_hmac, per_worker, running_server, scrape_metrics,
                     signer_stub, wait_for, write_config)
from test_security import order

APP = """
[[apps]]
app_id = "g1"
kind = "minigame"
offer_id = "1450000001"
[apps.keys]
production = {keys}
"""
V1 = '{ value = "ops-key-v1" }'
V2 = '[ { version = 2, value = "ops-key-v2" }, { version = 1, value = "ops-key-v1" } ]'
KEYS = {1: "ops-key-v1", 2: "ops-key-v2"}


def config_file(tmp_path, keys: str, audit) -> object:
    return write_config(tmp_path, APP.format(keys=keys) + f'[audit]\npath = "{audit}"\n')


def test_request_id_is_in_trailing_metadata_and_audit(tmp_path):
    audit = tmp_path / "audit.log"
    with running_server(config_file(tmp_path, V1, audit)) as (_, port), signer_stub(port) as stub:
        _, call = stub.SignOrder.with_call(order(), timeout=5)
        ok_id = dict(call.trailing_metadata())["x-request-id"]
        try:
            stub.SignOrder(order(out_trade_no="_bad"), timeout=5)
        except grpc.RpcError as error:
            bad_id = dict(error.trailing_metadata())["x-request-id"]
    lines = [json.loads(x) for x in audit.read_text().splitlines()]
    assert [(x["request_id"], x["code"]) for x in lines] == [(ok_id, "OK"), (bad_id, "INVALID_ARGUMENT")]
    assert ok_id != bad_id and re.fullmatch(r"[0-9a-f]{16}", ok_id)


def test_metrics_reload_and_rejected_reload_across_workers(tmp_path):
    audit = tmp_path / "audit.log"
    config = config_file(tmp_path, V1, audit)
    metrics_port = free_port()
    server = ServerProcess(config, "--workers", "2", "--metrics-listen", f"127.0.0.1:{metrics_port}")
    try:
        with Client(server.address, connections=8) as client:
            for i in range(10):
                assert client.sign_order(order(out_trade_no=f"m-{i}")).key_version == 1
            for i in range(3):
                try:
                    client.sign_order(order(out_trade_no=f"_m{i}"))
                except PaysigError:
                    pass
            client.verify_signature(pb.VerifySignatureRequest(
                app_id="g1", scheme=pb.SIGNATURE_SCHEME_USER_SIGNATURE, payload="{}", signature="0" * 64,
                session_key="k-0001"))
        m = scrape_metrics(metrics_port)
        assert m['paysig_calls_total{code="OK",rpc="SignOrder"}'] == 10
        assert m['paysig_calls_total{code="INVALID_ARGUMENT",rpc="SignOrder"}'] == 3
        assert m['paysig_signatures_total{api="PAYMENT_API_GAME_ITEM",app_id="g1",env="production"}'] == 10
        assert m['paysig_verifications_total{app_id="g1",result="invalid",scheme="SIGNATURE_SCHEME_USER_SIGNATURE"}'] == 1
        assert m['paysig_call_seconds_count{rpc="SignOrder"}'] == 13
        pids = {str(p) for p in json.loads(server.stderr[0])["pids"]}
        assert per_worker(m, "paysig_key_version_signing") == dict.fromkeys(pids, 1)
        assert per_worker(m, "paysig_config_generation") == dict.fromkeys(pids, 1)
        assert m["paysig_config_last_reload_success"] == 1
        assert m["paysig_audit_write_failures_total"] == 0

        config.write_text(APP.format(keys=V2) + f'[audit]\npath = "{audit}"\n')
        os.kill(server.proc.pid, signal.SIGHUP)
        assert wait_for(lambda: sum('"config applied"' in line for line in server.stderr) == 2)
        assert sum('"reloaded"' in line for line in server.stderr) == 1
        with Client(server.address, connections=8) as client:
            for i in range(8):
                signed = client.sign_order(order(out_trade_no=f"r-{i}"))
                assert signed.key_version == 2
                assert signed.pay_sig == openssl_hmac("ops-key-v2", "requestMidasPaymentGameItem&" + signed.sign_data)
        m = scrape_metrics(metrics_port)
        assert per_worker(m, "paysig_config_generation") == dict.fromkeys(pids, 2)
        assert per_worker(m, "paysig_key_version_signing") == dict.fromkeys(pids, 2)

        config.write_text(APP.format(keys='{ value = "" }'))
        os.kill(server.proc.pid, signal.SIGHUP)
        assert wait_for(lambda: sum('"reload rejected"' in line for line in server.stderr) == 1)
        rejected = json.loads(next(line for line in server.stderr if '"reload rejected"' in line))
        assert "keys.production: value: must be a non-empty string" in rejected["error"]
        with Client(server.address, connections=8) as client:
            assert client.sign_order(order(out_trade_no="after-bad")).key_version == 2
        assert wait_for(lambda: scrape_metrics(metrics_port).get('paysig_config_reloads_total{result="rejected"}') == 2)
        m = scrape_metrics(metrics_port)
        assert m["paysig_config_last_reload_success"] == 0
        assert per_worker(m, "paysig_config_generation") == dict.fromkeys(pids, 2)
        assert m['paysig_config_reloads_total{result="rejected"}'] == 2  # counted by each of the 2 workers
    finally:
        assert server.stop() == 0


def test_fault_run_under_load_loses_no_acknowledged_call(tmp_path):
    """Clients sign continuously over 8 connections while one worker is
    SIGKILLed, the config is reloaded twice and the server is SIGTERMed at the
    end. Every answered call must verify and have its audit line."""
    audit = tmp_path / "audit.log"
    config = config_file(tmp_path, V1, audit)
    server = ServerProcess(config, "--workers", "2")
    signed: list[tuple[str, str, str]] = []  # (request id, sign_data, pay_sig)
    failures: list[str] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        with Client(server.address, connections=2, timeout=5) as client:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    response, call = client.stub.SignOrder.with_call(order(out_trade_no=f"f{worker}-{i}"), timeout=5)
                    signed.append((dict(call.trailing_metadata())["x-request-id"], response.sign_data,
                                   response.pay_sig))
                except grpc.RpcError as error:
                    failures.append(error.code().name)

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.5)
        os.kill(json.loads(server.stderr[0])["pids"][0], signal.SIGKILL)
        time.sleep(1.5)
        for keys in (V2, V1):
            config.write_text(APP.format(keys=keys) + f'[audit]\npath = "{audit}"\n')
            os.kill(server.proc.pid, signal.SIGHUP)
            time.sleep(1.5)
        assert wait_for(lambda: any('"worker restarted"' in line for line in server.stderr))
    finally:
        code = server.stop()
        stop.set()
        for t in threads:
            t.join(30)
    assert code == 0

    audited = {}
    for line in audit.read_text().splitlines():
        record = json.loads(line)
        audited[record["request_id"]] = record
    bad = []
    for request_id, sign_data, pay_sig in signed:
        record = audited.get(request_id)
        key = KEYS[record["key_version"]] if record else None
        expected = key and hmac.new(key.encode(), f"requestMidasPaymentGameItem&{sign_data}".encode(),
                                    hashlib.sha256).hexdigest()
        if record is None or record["code"] != "OK" or expected != pay_sig:
            bad.append(request_id)
    print(f"\nfault run: {len(signed)} calls answered, all audited and verified: {not bad}; "
          f"{len(failures)} failed after retries {sorted(set(failures))}")
    assert len(signed) > 200 and bad == []
    assert set(failures) <= {"UNAVAILABLE", "CANCELLED"}, failures


def test_a_reload_runs_every_start_up_check(tmp_path, caplog):
    """auth.mode = "none" on a network address is refused on reload as at
    start-up; the config in force and its generation stay."""
    from paysig.server import load_config
    from paysig.server.address import parse_address
    from paysig.server.process import Reloader
    from test_workers import trust_config

    config = tmp_path / "paysig.toml"
    config.write_text(trust_config(V1))
    reloader = Reloader(str(config), load_config(config), parse_address("0.0.0.0:50051"), False)
    first = reloader.config
    config.write_text(APP.format(keys=V2))  # no [auth]: mode none
    with caplog.at_level("ERROR", logger="paysig"):
        assert reloader.attempt() is None
    assert "refusing to listen on 0.0.0.0:50051 with auth.mode = \"none\"" in caplog.records[-1].fields["error"]
    assert (reloader.config, reloader.generation, reloader.last_ok) == (first, 1, False)
    config.write_text(trust_config(V2, callers=("game-a",)))
    assert reloader.attempt() is not None and reloader.generation == 2 and reloader.last_ok


def test_request_ids_are_unique_within_a_process_and_across_a_fork():
    import re

    from paysig.server.pipeline import new_request_id

    before = [new_request_id() for _ in range(5000)]
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write_fd, " ".join(new_request_id() for _ in range(2000)).encode())
        os._exit(0)
    os.close(write_fd)
    child = b"".join(iter(lambda: os.read(read_fd, 65536), b"")).decode().split()
    os.close(read_fd)
    os.waitpid(pid, 0)
    after = [new_request_id() for _ in range(2000)]
    every = before + child + after
    assert len(child) == 2000 and len(set(every)) == len(every)
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in every)
