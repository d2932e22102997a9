"""Resource limits: idle connections, the number of connections, one
caller's work in flight, the request size ([limits] and MAX_REQUEST_BYTES)."""

import re
import threading
import time

import grpc
import pytest

from paysig.server import ConfigError, load_config
from paysig.server.limits import MAX_REQUEST_BYTES, InFlight, Limits
from paysig.server.process import check_reload
from paysig.v1 import signer_pb2 as pb
from paysig.v1 import signer_pb2_grpc
from support import REPO, error_details, running_server, token_sha256, write_config
from test_security import APPS, order
from test_workers import TOKEN_A, TOKEN_B

CALLERS = f"""
[auth]
mode = "token"

[[callers]]
name = "game-a"
token_sha256 = "{token_sha256(TOKEN_A)}"
apps = ["g1"]

[[callers]]
name = "game-b"
token_sha256 = "{token_sha256(TOKEN_B)}"
apps = ["g1"]
"""


def fresh_channel(port: int) -> grpc.Channel:
    return grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])


def bearer(token: str) -> tuple:
    return (("authorization", f"Bearer {token}"),)


def test_limits_section_is_validated(tmp_path):
    assert load_config(write_config(tmp_path, APPS)).limits == Limits()
    config = load_config(write_config(tmp_path, APPS + "[limits]\nmax_connections = 10\nidle_timeout_seconds = 2.5\n"
                                                       "max_items_in_flight_per_caller = 1\n"))
    assert config.limits == Limits(max_connections=10, idle_timeout_seconds=2.5, max_items_in_flight_per_caller=1)
    for bad, message in (("max_connections = 0", "limits: max_connections: a whole number from 1 to 1000000"),
                         ("max_connections = 2.5", "max_connections: a whole number"),
                         ("idle_timeout_seconds = true", "idle_timeout_seconds: a number from 0.1 to 86400"),
                         ("max_items_in_flight_per_caller = -1", "max_items_in_flight_per_caller: a whole number"),
                         ("max_request_bytes = 10", "limits: unknown field 'max_request_bytes'")):
        with pytest.raises(ConfigError) as info:
            load_config(write_config(tmp_path, APPS + f"[limits]\n{bad}\n"))
        assert message in str(info.value)


def test_idle_connections_are_closed(tmp_path):
    config = load_config(write_config(tmp_path, APPS + "[limits]\nidle_timeout_seconds = 0.5\n"))
    with running_server(config) as (_, port), fresh_channel(port) as channel:
        states = []
        idle = threading.Event()

        def watch(state):
            states.append(state)
            if state == grpc.ChannelConnectivity.IDLE and grpc.ChannelConnectivity.READY in states:
                idle.set()

        channel.subscribe(watch)
        signer_pb2_grpc.SignerServiceStub(channel).SignOrder(order(), timeout=10)
        assert idle.wait(30), states  # the server's GOAWAY after 0.5 s without calls
        channel.unsubscribe(watch)


def test_connections_are_bounded(tmp_path):
    config = load_config(write_config(tmp_path, APPS + "[limits]\nmax_connections = 2\n"))
    with running_server(config) as (_, port):
        channels = [fresh_channel(port) for _ in range(4)]
        try:
            outcomes = []
            for channel in channels:
                try:
                    signer_pb2_grpc.SignerServiceStub(channel).SignOrder(order(), timeout=5)
                    outcomes.append("OK")
                except grpc.RpcError as error:
                    outcomes.append(error.code().name)
            assert outcomes[:2] == ["OK", "OK"]
            assert set(outcomes[2:]) <= {"UNAVAILABLE", "DEADLINE_EXCEEDED"}
            channels[0].close()
            time.sleep(0.2)
            with fresh_channel(port) as again:  # a closed connection makes room
                for _ in range(50):
                    try:
                        signer_pb2_grpc.SignerServiceStub(again).SignOrder(order(), timeout=5)
                        break
                    except grpc.RpcError:
                        time.sleep(0.1)
                else:
                    pytest.fail("no room after a connection closed")
        finally:
            for channel in channels:
                channel.close()


def test_one_caller_saturating_its_cap_does_not_block_another(tmp_path):
    """game-a's batch is held inside the server (its audit write waits); its
    next batch that would exceed the cap is refused at once, game-b's calls
    and game-a's calls within the cap still go through."""
    config = load_config(write_config(tmp_path, APPS + CALLERS + "[limits]\nmax_items_in_flight_per_caller = 1000\n"))
    with running_server(config) as (server, port), fresh_channel(port) as channel:
        stub = signer_pb2_grpc.SignerServiceStub(channel)
        inside, release = threading.Event(), threading.Event()
        write = server.audit_log.write

        def held_write(records, lines=b""):
            if not inside.is_set() and (b'"caller":"game-a"' in lines
                                        or any(r.get("caller") == "game-a" for r in records)):
                inside.set()
                release.wait(30)
            return write(records, lines)

        server.audit_log.write = held_write
        batch = pb.BatchSignOrdersRequest(requests=[order(out_trade_no=f"held-{i}") for i in range(600)])
        held = {}
        thread = threading.Thread(target=lambda: held.update(
            response=stub.BatchSignOrders(batch, timeout=60, metadata=bearer(TOKEN_A))))
        thread.start()
        try:
            assert inside.wait(30)
            with pytest.raises(grpc.RpcError) as info:
                stub.BatchSignOrders(batch, timeout=10, metadata=bearer(TOKEN_A))
            code, reason, _, message = error_details(info.value)
            assert (code, reason) == ("RESOURCE_EXHAUSTED", "CONCURRENCY_LIMITED")
            assert "600 items in flight; 600 more exceed its limit of 1000" in message
            assert stub.SignOrder(order(out_trade_no="a-within"), timeout=10, metadata=bearer(TOKEN_A)).pay_sig
            for i in range(20):
                assert stub.SignOrder(order(out_trade_no=f"b-{i}"), timeout=10, metadata=bearer(TOKEN_B)).pay_sig
            assert thread.is_alive()  # game-a's batch was held all along
        finally:
            release.set()
            thread.join(60)
        assert all(r.HasField("response") for r in held["response"].results)
        assert server.pipeline._inflight.count("game-a") == 0


def test_in_flight_counts_are_given_back():
    inflight = InFlight()
    inflight.enter("a", 5, cap=6)
    assert inflight.count("a") == 5
    inflight.leave()
    inflight.leave()
    assert inflight.count("a") == 0
    inflight.enter("a", 50, cap=6)  # alone, a call larger than the cap runs
    done = threading.Event()
    errors = []

    def other_thread():
        try:
            inflight.enter("a", 1, cap=6)
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        done.set()

    threading.Thread(target=other_thread).start()
    assert done.wait(10) and errors and errors[0].reason == "CONCURRENCY_LIMITED"
    inflight.enter("a", 1, cap=6)  # a call that ended by an exception: its hold is given back first
    assert inflight.count("a") == 1


def test_a_request_over_the_size_limit_is_refused(tmp_path):
    with running_server(load_config(write_config(tmp_path, APPS))) as (_, port), fresh_channel(port) as channel:
        stub = signer_pb2_grpc.SignerServiceStub(channel)
        big = order()
        big.order.attach = "x" * MAX_REQUEST_BYTES
        with pytest.raises(grpc.RpcError) as info:
            stub.SignOrder(big, timeout=10)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert stub.SignOrder(order(), timeout=10).pay_sig


def test_the_request_size_limit_is_one_number():
    mib = MAX_REQUEST_BYTES / 1024 / 1024
    assert mib == int(mib)
    readme = (REPO / "README.md").read_text()
    proto = (REPO / "proto" / "paysig" / "v1" / "signer.proto").read_text()
    in_readme = re.findall(r"requests? (?:above|over) (\d+) (KiB|MiB)", readme, re.I)
    in_proto = re.findall(r"requests? (?:above|over) (\d+) (KiB|MiB)", proto, re.I)
    assert len(in_readme) >= 2 and set(in_readme) == {(str(int(mib)), "MiB")}
    assert in_proto and set(in_proto) == {(str(int(mib)), "MiB")}


def test_a_reload_that_changes_a_restart_section_is_refused_naming_it(tmp_path):
    base = load_config(write_config(tmp_path, APPS + CALLERS))
    for extra, section in (("[limits]\nmax_connections = 5\n", "[limits]"),
                           (f'[audit]\npath = "{tmp_path / "a.log"}"\n', "[audit]")):
        changed = load_config(write_config(tmp_path, APPS + CALLERS + extra))
        with pytest.raises(ConfigError) as info:
            check_reload(base, changed)
        assert f"{section}: a change of {section} needs a restart; restart paysig" in str(info.value)
    mtls = load_config(write_config(tmp_path, APPS))
    with pytest.raises(ConfigError) as info:
        check_reload(base, mtls)
    assert "[auth]" in str(info.value)
    check_reload(base, load_config(write_config(tmp_path, APPS.replace("g1-production-key", "k2") + CALLERS)))


def test_the_descriptor_limit_is_raised_for_max_connections_or_the_start_refused(tmp_path):
    import json
    import resource
    import shutil
    import subprocess
    import sys

    def serve(soft, hard, limits=""):
        config = write_config(tmp_path, APPS + limits)
        command = [sys.executable, "-m", "paysig", "serve", "--config", str(config), "--listen", "127.0.0.1:0",
                   "--workers", "2", "--grace", "5"]
        if shutil.which("prlimit"):  # no preexec_fn: this test process has threads
            return subprocess.Popen(["prlimit", f"--nofile={soft}:{hard}", *command], stderr=subprocess.PIPE,
                                    text=True)
        return subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)))

    refused = serve(256, 512)
    _, stderr = refused.communicate(timeout=60)
    assert refused.returncode == 2
    assert ("limits: max_connections: 1000 connections need about 1064 file descriptors, and this process may "
            "open at most 512 (ulimit -n)") in stderr

    proc = serve(256, 4096, "[limits]\nmax_connections = 300\n")
    try:
        serving = json.loads(proc.stderr.readline())
        for pid in serving["pids"]:
            with open(f"/proc/{pid}/limits") as f:
                row = next(line for line in f if line.startswith("Max open files")).split()
            assert row[3:5] == ["364", "4096"]
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert proc.returncode == 0
