"""The grpc-go peer of `make bench` (bench/peer) signs what paysig signs, byte
for byte, and refuses what paysig refuses: otherwise the benchmark would
compare paysig with a server doing different work.

The peer is built from bench/ (its own Go module) and run next to
`paysig serve` on the same minigame app; both get the same orders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from paysig.v1 import signer_pb2 as pb
from support import ServerProcess, write_config

REPO = Path(__file__).resolve().parent.parent
KEY = "peer-test-app-key"
SESSION_KEY = "9hAb/NEYUlkaMBEsmFgzig=="
CONFIG = f"""
[[apps]]
app_id = "g1"
kind = "minigame"
offer_id = "1450000001"
[apps.keys]
production = {{ value = "{KEY}" }}
[audit]
path = "{{audit}}"
"""


def order(**changes) -> pb.SignOrderRequest:
    request = pb.SignOrderRequest(app_id="g1", env=pb.ENV_PRODUCTION, api=pb.PAYMENT_API_GAME_ITEM,
                                  session_key=SESSION_KEY,
                                  order=pb.Order(product_id="sword", goods_price=600, buy_quantity=1,
                                                 out_trade_no="peer-0001"))
    for name, value in changes.items():
        target = request.order if hasattr(request.order, name) else request
        setattr(target, name, value)
    return request


VALID = [
    order(),
    order(product_id='a"b\\c/é中😀\u2028', attach='{"k":"v"}', zone_id="zone 7"),
    order(goods_price=2**53 - 1, buy_quantity=2**53 - 1, out_trade_no="A-z_0|*@" + "9" * 24),
    order(currency_type="CNY", platform="android", product_id="x" * 128),
    order(session_key="~" * 256, attach="a" * 1024, zone_id="z" * 64),
]
INVALID = [
    order(out_trade_no="_leading"), order(out_trade_no="x" * 33), order(out_trade_no="sp ace"),
    order(goods_price=0), order(buy_quantity=2**53), order(product_id=""), order(product_id="a\x00b"),
    order(product_id="a\x85b"), order(attach="a" * 1025), order(zone_id="z" * 65), order(currency_type="USD"),
    order(platform="ios"), order(session_key=""), order(session_key="has space"), order(env=pb.ENV_UNSPECIFIED),
    order(api=pb.PAYMENT_API_VIRTUAL_PAYMENT), order(mode=pb.VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS),
    order(activity_selling_price=1), order(app_id="nope"), order(env=pb.ENV_SANDBOX),
]


@pytest.fixture(scope="module", params=["none", "always"])
def servers(tmp_path_factory, request):
    """paysig and the Go peer, the peer with -sync none and always (durable audit lines, as paysig's default)."""
    tmp = tmp_path_factory.mktemp("peer")
    binary = tmp / "peer"
    subprocess.run(["go", "build", "-o", str(binary), "./peer"], cwd=REPO / "bench", check=True, timeout=600,
                   env={**os.environ, "GOWORK": "off"})
    (tmp / "key").write_text(KEY)
    peer = subprocess.Popen([str(binary), "-listen", "127.0.0.1:0", "-mode", "sign", "-app", "g1", "-kind",
                             "minigame", "-offer-id", "1450000001", "-key-file", str(tmp / "key"), "-audit",
                             str(tmp / "peer-audit.log"), "-sync", request.param], stdout=subprocess.PIPE, text=True)
    paysig = ServerProcess(write_config(tmp, CONFIG.replace("{audit}", str(tmp / "audit.log"))), "--workers", "1")
    try:
        peer_port = int(peer.stdout.readline())
        with grpc.insecure_channel(paysig.address) as ours, grpc.insecure_channel(f"127.0.0.1:{peer_port}") as go:
            yield ours, go
    finally:
        peer.terminate()
        peer.wait(15)
        assert paysig.stop() == 0


def raw(channel: grpc.Channel, call: str, request) -> bytes | grpc.StatusCode:
    """The response bytes, or the status code of the error."""
    try:
        return channel.unary_unary(f"/paysig.v1.SignerService/{call}")(request.SerializeToString(), timeout=30)
    except grpc.RpcError as error:
        return error.code()


@pytest.mark.parametrize("request_", VALID, ids=range(len(VALID)))
def test_the_peer_signs_valid_orders_with_paysigs_bytes(servers, request_):
    ours, go = servers
    answer = raw(ours, "SignOrder", request_)
    assert isinstance(answer, bytes) and pb.SignOrderResponse.FromString(answer).pay_sig
    assert raw(go, "SignOrder", request_) == answer


@pytest.mark.parametrize("request_", INVALID, ids=range(len(INVALID)))
def test_the_peer_refuses_what_paysig_refuses(servers, request_):
    ours, go = servers
    answer = raw(ours, "SignOrder", request_)
    assert isinstance(answer, grpc.StatusCode)
    assert raw(go, "SignOrder", request_) == answer


def test_the_peer_batch_has_paysigs_bytes_for_signed_items_and_errors_where_paysig_has_them(servers):
    ours, go = servers
    batch = pb.BatchSignOrdersRequest(requests=VALID + INVALID)
    mine = pb.BatchSignOrdersResponse.FromString(raw(ours, "BatchSignOrders", batch))
    theirs = pb.BatchSignOrdersResponse.FromString(raw(go, "BatchSignOrders", batch))
    assert [r.WhichOneof("outcome") for r in theirs.results] == [r.WhichOneof("outcome") for r in mine.results]
    assert [r.error.code for r in theirs.results] == [r.error.code for r in mine.results]
    for a, b in zip(mine.results, theirs.results):
        if a.HasField("response"):
            assert a.response.SerializeToString() == b.response.SerializeToString()
    valid_only = pb.BatchSignOrdersRequest(requests=VALID)
    assert raw(go, "BatchSignOrders", valid_only) == raw(ours, "BatchSignOrders", valid_only)


def test_the_grpcio_floor_serves_with_paysigs_workers_and_options():
    """bench/floor_server.py (make bench's sync floor) starts its workers on
    one port and answers SignOrder with the HMAC it stands for."""
    import hashlib
    import hmac
    import select
    import signal

    from support import REPO, free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, str(REPO / "bench" / "floor_server.py"), "--listen",
                             f"127.0.0.1:{port}", "--workers", "2"], stdout=subprocess.PIPE, text=True)
    try:
        assert select.select([proc.stdout], [], [], 60)[0], "the floor's workers did not start"
        pids = [int(p) for p in proc.stdout.readline().split()]  # once every worker serves
        assert len(pids) == 2
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            answer = raw(channel, "SignOrder", order())
        assert isinstance(answer, bytes)
        expected = hmac.new(b"floor-key", order().order.out_trade_no.encode(), hashlib.sha256).hexdigest()
        assert pb.SignOrderResponse.FromString(answer).pay_sig == expected
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()


def test_the_in_process_bench_measures_this_tree():
    out = subprocess.run([sys.executable, str(REPO / "bench" / "inprocess.py")], capture_output=True, text=True,
                         timeout=300, check=True)
    result = json.loads(out.stdout)
    assert Path(result["tree"]) == REPO
    assert result["unary_us_per_call"] > 0 and result["batch_us_per_order"] > 0
    assert result["unary_us_per_call_threads"] > 0 and isinstance(result["switches_per_call_threads"], float)


def test_the_ablation_bench_runs_its_cut_down_handlers_after_checking_their_answers():
    """bench/ablation.py checks that each cut-down handler answers what paysig
    answers before measuring; a short run prints a row per server and load."""
    out = subprocess.run([sys.executable, str(REPO / "bench" / "ablation.py"), "--rounds", "1", "--seconds", "0.3"],
                         capture_output=True, text=True, timeout=300, check=True)
    rows = [line.split() for line in out.stdout.splitlines() if line.startswith("  SignOrder")]
    assert len(rows) == 2 * 7
    assert {row[2] for row in rows} >= {"sign", "+audit", "+trailer", "+peer", "paysig"}
