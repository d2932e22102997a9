"""`paysig serve --workers N`: one port, N processes, supervised."""

import json
import os
import signal
import time
from pathlib import Path

from paysig.client import Client

from support import (NOBODY, ServerProcess, grant_nobody_search, hex_hmac, openssl_hmac, token_sha256, wait_for,
                     write_config)
from test_security import APPS, order


def audit_pids(path) -> set[int]:
    return {json.loads(line)["pid"] for line in path.read_text().splitlines()}


def test_connections_reach_every_worker_and_a_killed_worker_is_replaced(tmp_path):
    audit = tmp_path / "audit.log"
    config = write_config(tmp_path, APPS + f'[audit]\npath = "{audit}"\n')
    server = ServerProcess(config, "--workers", "3")
    try:
        serving = json.loads(server.stderr[0])
        assert serving["workers"] == 3 and len(serving["pids"]) == 3
        with Client(server.address, connections=24) as client:
            for i in range(60):
                signed = client.sign_order(order(out_trade_no=f"w-{i}"))
                assert signed.pay_sig == openssl_hmac("g1-production-key",
                                                      "requestMidasPaymentGameItem&" + signed.sign_data)
        assert audit_pids(audit) == set(serving["pids"])

        victim = serving["pids"][0]
        os.kill(victim, signal.SIGKILL)
        server.wait_for_log("worker restarted", seconds=20)
        restarted = [json.loads(line) for line in server.stderr if '"worker restarted"' in line]
        assert restarted and restarted[0]["worker"] == 0
        with Client(server.address, connections=24) as client:
            for i in range(60):
                client.sign_order(order(out_trade_no=f"w2-{i}"))
        assert restarted[0]["pid"] in audit_pids(audit)
    finally:
        code = server.stop()
    assert code == 0
    exited = [json.loads(line) for line in server.stderr if '"worker exited"' in line]
    assert exited[0]["pid"] == victim and exited[0]["status"] == "signal SIGKILL"


def test_workers_option_is_checked(tmp_path):
    import subprocess
    import sys

    config = write_config(tmp_path, APPS)
    result = subprocess.run([sys.executable, "-m", "paysig", "serve", "--config", str(config), "--workers", "0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "--workers must be at least 1" in result.stderr


# ---- trust under real operations (issue 11) ----------------------------------

import shutil
import subprocess
import sys
import threading

import grpc
import pytest

from paysig.client import PaysigError
from paysig.v1 import signer_pb2 as pb
from paysig.v1 import signer_pb2_grpc

TOKEN_A, TOKEN_B = "trust-token-A-0123456789", "trust-token-B-9876543210"
KEY_V1, KEY_V2 = "trust-key-v1", "trust-key-v2"


def trust_config(keys: str, callers: tuple[str, ...] = ("game-a", "game-b"), extra: str = "") -> str:
    text = f"""
[[apps]]
app_id = "g1"
kind = "minigame"
offer_id = "1450000001"
[apps.keys]
production = {keys}

[auth]
mode = "token"
"""
    for name, token in (("game-a", TOKEN_A), ("game-b", TOKEN_B)):
        if name in callers:
            text += f'\n[[callers]]\nname = "{name}"\ntoken_sha256 = "{token_sha256(token)}"\napps = ["g1"]\n'
    return text + extra


def fresh_connection_calls(address: str, token: str, n: int = 32) -> list[object]:
    """One SignOrder on each of ``n`` new connections (a channel of its own
    each): the kernel spreads connections over the workers. Returns each
    answer, or the status code of each failure."""
    results = []
    for i in range(n):
        with grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            stub = signer_pb2_grpc.SignerServiceStub(channel)
            try:
                results.append(stub.SignOrder(order(out_trade_no=f"fresh-{i}"), timeout=10,
                                              metadata=(("authorization", f"Bearer {token}"),)))
            except grpc.RpcError as error:
                results.append(error.code())
    return results


def signed_with(response, key: str) -> bool:
    return response.pay_sig == hex_hmac(key, "requestMidasPaymentGameItem&" + response.sign_data)


def kill_worker_and_wait(server: ServerProcess, pid: int) -> int:
    restarts = server.logged("worker restarted")
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: server.logged("worker restarted") > restarts)
    return json.loads([line for line in server.stderr if '"worker restarted"' in line][-1])["pid"]


def test_revocation_by_reload_holds_on_every_worker_after_a_restart(tmp_path):
    audit = tmp_path / "audit.log"
    audit_section = f'\n[audit]\npath = "{audit}"\n'
    config = tmp_path / "paysig.toml"
    config.write_text(trust_config('{ value = "%s" }' % KEY_V1, extra=audit_section))
    server = ServerProcess(config, "--workers", "2")
    try:
        pids = json.loads(server.stderr[0])["pids"]
        assert all(r.key_version == 1 for r in fresh_connection_calls(server.address, TOKEN_B, 4))

        # Revoke game-b and add key version 2.
        config.write_text(trust_config(f'[ {{ version = 2, value = "{KEY_V2}" }}, {{ version = 1, value = "{KEY_V1}" }} ]',
                                       callers=("game-a",), extra=audit_section))
        os.kill(server.proc.pid, signal.SIGHUP)
        assert wait_for(lambda: server.logged("config applied") == 2)
        new_pid = kill_worker_and_wait(server, pids[0])

        revoked = fresh_connection_calls(server.address, TOKEN_B)
        assert revoked == [grpc.StatusCode.UNAUTHENTICATED] * 32
        granted = fresh_connection_calls(server.address, TOKEN_A)
        assert all(not isinstance(r, grpc.StatusCode) and r.key_version == 2 and signed_with(r, KEY_V2)
                   for r in granted), granted
        # (the 32 refusals may also leave a "suppressed" summary line, which names no caller)
        served_by = {json.loads(line)["pid"] for line in audit.read_text().splitlines()
                     if json.loads(line).get("caller") == "game-a"}
        assert new_pid in served_by and pids[1] in served_by  # both workers answered

        # A rejected reload (it would restore game-b, but changes [limits]) changes nothing anywhere,
        # not even in a worker started after it.
        config.write_text(trust_config('{ value = "%s" }' % KEY_V1, extra=audit_section + "[limits]\nmax_connections = 7\n"))
        os.kill(server.proc.pid, signal.SIGHUP)
        assert wait_for(lambda: server.logged("reload rejected") == 1)
        rejected = json.loads(next(line for line in server.stderr if '"reload rejected"' in line))
        assert "[limits]" in rejected["error"] and "restart" in rejected["error"]
        kill_worker_and_wait(server, new_pid)
        assert fresh_connection_calls(server.address, TOKEN_B) == [grpc.StatusCode.UNAUTHENTICATED] * 32
        assert all(r.key_version == 2 for r in fresh_connection_calls(server.address, TOKEN_A, 8))
        restarted = [json.loads(line) for line in server.stderr if '"worker restarted"' in line]
        assert [r["generation"] for r in restarted] == [2, 2]
    finally:
        assert server.stop() == 0


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except FileNotFoundError:
        return False


def test_workers_exit_when_the_supervisor_dies(tmp_path):
    config = write_config(tmp_path, APPS)
    server = ServerProcess(config, "--workers", "2")
    workers = json.loads(server.stderr[0])["pids"]
    try:
        assert all(alive(pid) for pid in workers)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(15)
        assert wait_for(lambda: not any(alive(pid) for pid in workers), 30)
        # README Runbook: the port and its lock are freed, paysig starts again on the same address
        again = ServerProcess(config, "--workers", "2", "--listen", server.address)
        try:
            assert again.address == server.address
        finally:
            assert again.stop() == 0
    finally:
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def caught_signals(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("SigCgt:")).split()[1], 16)


def children(pid: int) -> list[int]:
    path = f"/proc/{pid}/task/{pid}/children"
    if not os.path.exists(path):
        pytest.skip("this kernel does not list children in /proc")
    with open(path) as f:
        return [int(x) for x in f.read().split()]


def test_an_early_sighup_is_a_reload_not_a_kill(tmp_path):
    """SIGHUP about 0.15 s after start. Python itself cannot catch a signal
    before its interpreter runs the first line of paysig, so on a slow
    machine the signal waits for the handler: the test checks that the
    handler is in place before any worker exists."""
    config = write_config(tmp_path, APPS)
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "paysig", "serve", "--config", str(config), "--listen",
                             "127.0.0.1:0", "--workers", "2", "--grace", "5"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(max(0.0, 0.15 - (time.monotonic() - started)))
        assert wait_for(lambda: caught_signals(proc.pid) & (1 << (signal.SIGHUP - 1)), 30)
        early_children = children(proc.pid)
        proc.send_signal(signal.SIGHUP)
        serving = json.loads(proc.stderr.readline())
        assert serving["event"] == "serving" and proc.poll() is None
        assert early_children == []  # the handler was in place before any worker existed
        lines = []
        threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()
        assert wait_for(lambda: any('"reloaded"' in line for line in lines))
        assert proc.poll() is None
        with Client(serving["address"], connections=2) as client:
            assert client.sign_order(order()).pay_sig
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0


def test_a_second_server_on_the_same_address_is_refused(tmp_path):
    first_dir, other_dir = tmp_path / "first", tmp_path / "other"
    first_dir.mkdir()
    other_dir.mkdir()
    first = ServerProcess(write_config(first_dir, APPS), "--workers", "2")
    other_config = write_config(other_dir, APPS.replace("g1-production-key", "other-key"))
    try:
        for workers in ("2", "1"):
            second = subprocess.run([sys.executable, "-m", "paysig", "serve", "--config", str(other_config),
                                     "--listen", first.address, "--workers", workers],
                                    capture_output=True, text=True, timeout=60)
            assert second.returncode != 0
            assert f"{first.address} is already served by another process" in second.stderr
            assert '"serving"' not in second.stderr
        answers = fresh_connection_calls(first.address, "")
        assert all(not isinstance(r, grpc.StatusCode) and signed_with(r, "g1-production-key") for r in answers)
    finally:
        assert first.stop() == 0


def test_an_address_another_program_listens_on_is_refused(tmp_path):
    import socket

    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        address = f"127.0.0.1:{other.getsockname()[1]}"
        result = subprocess.run([sys.executable, "-m", "paysig", "serve", "--config",
                                 str(write_config(tmp_path, APPS)), "--listen", address, "--workers", "2"],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"paysig: {address} is already served by another process (address in use)" in result.stderr


RATED = """
[auth]
mode = "token"

[[callers]]
name = "game-a"
token_sha256 = "{sha}"
apps = ["g1"]
rate_per_second = {rate}
burst = {burst}
"""


def rated_client(server: ServerProcess, connections: int) -> Client:
    return Client(server.address, token=TOKEN_A, allow_token_without_tls=True, connections=connections, timeout=10)


def test_a_reload_keeps_what_each_caller_has_spent(tmp_path):
    """README Operations: the buckets belong to the server, not the config."""
    config = write_config(tmp_path, APPS + RATED.format(sha=token_sha256(TOKEN_A), rate=0.001, burst=3))
    server = ServerProcess(config, "--workers", "2")
    try:
        with rated_client(server, 4) as client:
            for i in range(3):
                client.sign_order(order(out_trade_no=f"k-{i}"))
            server.proc.send_signal(signal.SIGHUP)
            assert server.wait_for_log("config applied", 2)
            for i in range(4):  # on every connection, so on both workers
                with pytest.raises(PaysigError) as info:
                    client.sign_order(order(out_trade_no=f"k-after-{i}"))
                assert info.value.reason == "RATE_LIMITED"
    finally:
        assert server.stop() == 0


def test_a_health_address_in_use_is_refused(tmp_path):
    """README Operations: one owner per address applies to --health-listen too."""
    import socket

    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        address = f"127.0.0.1:{other.getsockname()[1]}"
        for workers in ("1", "2"):
            result = subprocess.run([sys.executable, "-m", "paysig", "serve", "--config",
                                     str(write_config(tmp_path, APPS)), "--listen", "127.0.0.1:0",
                                     "--health-listen", address, "--workers", workers],
                                    capture_output=True, text=True, timeout=60)
            assert result.returncode == 2, result.stderr
            assert f"{address} is already served by another process" in result.stderr
            assert '"serving"' not in result.stderr


@pytest.mark.parametrize("workers", ["2", "4"])
def test_burst_is_per_caller_across_all_workers(tmp_path, workers):
    config = write_config(tmp_path, APPS + RATED.format(sha=token_sha256(TOKEN_A), rate=0.001, burst=1000))
    server = ServerProcess(config, "--workers", workers)
    try:
        with rated_client(server, 8) as client:
            batch = pb.BatchSignOrdersRequest(requests=[order(out_trade_no=f"b-{i}") for i in range(600)])
            results = client.stub.BatchSignOrders(batch, timeout=30, metadata=client._metadata).results
            assert len(results) == 600 and all(r.HasField("response") for r in results)
            batch = pb.BatchSignOrdersRequest(requests=[order(out_trade_no=f"c-{i}") for i in range(400)])
            results = client.stub.BatchSignOrders(batch, timeout=30, metadata=client._metadata).results
            assert all(r.HasField("response") for r in results)
            for i in range(8):  # every connection: the 1,000 tokens are spent on every worker
                with pytest.raises(PaysigError) as info:
                    client.sign_order(order(out_trade_no=f"d-{i}"))
                assert info.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "rate limit of 0.001/s (burst 1000)" in str(info.value)
        too_big = pb.BatchSignOrdersRequest(requests=[order(out_trade_no=f"e-{i}") for i in range(1001)])
        with rated_client(server, 1) as client:
            with pytest.raises(grpc.RpcError) as info:
                client.stub.BatchSignOrders(too_big, timeout=30, metadata=client._metadata)
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("workers", ["2", "4"])
def test_rate_over_several_connections_is_the_configured_rate(tmp_path, workers):
    rate = 20.0
    config = write_config(tmp_path, APPS + RATED.format(sha=token_sha256(TOKEN_A), rate=rate, burst=1))
    server = ServerProcess(config, "--workers", workers)
    accepted, attempts = [], [0]
    try:
        with rated_client(server, 8) as client:
            started = time.monotonic()
            while time.monotonic() - started < 3.0:
                attempts[0] += 1
                try:
                    client.stub.SignOrder(order(out_trade_no=f"r-{attempts[0]}"), timeout=10,
                                          metadata=client._metadata)
                    accepted.append(time.monotonic())
                except grpc.RpcError as error:
                    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            elapsed = time.monotonic() - started
    finally:
        assert server.stop() == 0
    allowed = 1 + rate * elapsed
    print(f"\nrate: {len(accepted)} accepted of {attempts[0]} in {elapsed:.2f} s, configured {rate:g}/s")
    assert len(accepted) <= allowed * 1.05 + 1
    if attempts[0] >= 3 * allowed:  # the client asked fast enough for the limit to be what bounds it
        assert len(accepted) >= allowed * 0.8


def test_the_control_socket_carries_a_config_with_its_secrets(tmp_path):
    """What the supervisor hands a worker is the config it accepted, secrets
    included, over a private socketpair; ordinary pickling still refuses a
    Secret."""
    import pickle
    import socket

    from paysig.server import load_config
    from paysig.server.keys import Env
    from paysig.server.process import receive_message, send_message

    config = load_config(write_config(tmp_path, trust_config(f'[ {{ version = 2, value = "{KEY_V2}" }}, '
                                                             f'{{ version = 1, value = "{KEY_V1}" }} ]')))
    with pytest.raises(TypeError):
        pickle.dumps(config)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        send_message(ours, ("config", 7, config))
        kind, generation, received = receive_message(theirs)
        ours.close()
        assert receive_message(theirs) is None  # the supervisor's end is gone
    assert (kind, generation) == ("config", 7) and received == config
    ring = received.apps["g1"].key_ring(Env.PRODUCTION)
    assert [(v.version, v.secret.reveal()) for v in ring.versions] == [(2, KEY_V2.encode()), (1, KEY_V1.encode())]


def test_rate_table_reuses_idle_slots_and_is_shared_with_a_fork():
    from paysig.server.access import Caller, RateLimit
    from paysig.server.errors import PaysigError as ServerError
    from paysig.server.ratelimit import RateLimiter

    now = [100.0]
    limiter = RateLimiter(clock=lambda: now[0], slots=2)

    def caller(name, rate=1.0, burst=2.0):
        return Caller(name=name, apps=frozenset({"g1"}), rpcs=frozenset({"SignOrder"}), rate=RateLimit(rate, burst))

    limiter.take(caller("a"), 2)
    limiter.take(caller("b"), 1)
    with pytest.raises(ServerError) as info:
        limiter.take(caller("c"))  # both slots hold spent buckets
    assert "rate-limit table is full" in info.value.message
    now[0] += 2  # a and b are full again: their slots are free to reuse
    limiter.take(caller("c"), 2)
    with pytest.raises(ServerError) as info:
        limiter.take(caller("c"))
    assert info.value.message == "caller 'c' is over its rate limit of 1/s (burst 2)"
    with pytest.raises(ServerError) as info:
        limiter.take(caller("c"), 3)
    assert info.value.message == "3 items exceed caller 'c''s burst of 2"

    shared = RateLimiter(clock=lambda: 0.0)
    pid = os.fork()
    if pid == 0:
        try:
            shared.take(caller("forked", rate=0.001, burst=3), 2)
        finally:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    shared.take(caller("forked", rate=0.001, burst=3), 1)
    with pytest.raises(ServerError):
        shared.take(caller("forked", rate=0.001, burst=3), 1)  # the child spent 2 of the 3


INTRUDER = ("import os, socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1); "
            "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); print(os.fstat(s.fileno()).st_ino, flush=True); "
            "sys.stdin.read()")


@pytest.mark.parametrize("user", ["root", "nobody"])
def test_a_foreign_listener_joining_the_port_is_reported(tmp_path, user, request):
    """The limit of SO_REUSEPORT: a process of the same user that sets it
    can still join after start. The supervisor finds and logs it, and never
    the workers' own sockets, also when it is not root and its workers are
    not dumpable (as the Docker image runs: their /proc/PID/fd is not
    readable by the supervisor)."""
    import tempfile

    prefix: tuple[str, ...] = ()
    if user == "nobody":
        if os.geteuid() != 0 or not shutil.which("setpriv"):  # the machine `make test` runs on has both
            pytest.skip("starting a process as nobody needs root and setpriv (util-linux)")
        prefix = NOBODY
        request.addfinalizer(grant_nobody_search())
        tmp_path = Path(tempfile.mkdtemp(prefix="paysig-nobody-"))  # pytest's tmp_path is root's, mode 0700
        os.chown(tmp_path, 65534, 65534)
    config = write_config(tmp_path, APPS)
    if prefix:
        os.chown(config, 65534, 65534)
    server = ServerProcess(config, "--workers", "2", prefix=prefix)
    try:
        port = int(server.address.rsplit(":", 1)[1])
        intruder = subprocess.Popen([*prefix, sys.executable, "-c", INTRUDER, str(port)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
        try:
            inode = int(intruder.stdout.readline())
            assert wait_for(lambda: server.logged("foreign listener") >= 1, 40)
        finally:
            intruder.stdin.close()
            intruder.wait(30)
        reported = [json.loads(line) for line in server.stderr if '"foreign listener"' in line]
        assert [(r["address"], r["socket_inode"]) for r in reported] == [(server.address, inode)], reported
    finally:
        assert server.stop() == 0
        if prefix:
            shutil.rmtree(tmp_path)


def test_a_single_process_server_reloads_and_rejects_like_the_supervisor(tmp_path):
    config = tmp_path / "paysig.toml"
    config.write_text(trust_config('{ value = "%s" }' % KEY_V1))
    server = ServerProcess(config, "--workers", "1")
    try:
        config.write_text(trust_config('{ value = "%s" }' % KEY_V1, callers=("game-a",)))
        os.kill(server.proc.pid, signal.SIGHUP)
        assert wait_for(lambda: server.logged("reloaded") == 1)
        assert fresh_connection_calls(server.address, TOKEN_B, 4) == [grpc.StatusCode.UNAUTHENTICATED] * 4
        config.write_text(trust_config('{ value = "%s" }' % KEY_V1) + '[tls]\ncert_file = "x"\nkey_file = "y"\n')
        os.kill(server.proc.pid, signal.SIGHUP)
        assert wait_for(lambda: server.logged("reload rejected") == 1)
        assert fresh_connection_calls(server.address, TOKEN_B, 4) == [grpc.StatusCode.UNAUTHENTICATED] * 4
        assert all(signed_with(r, KEY_V1) for r in fresh_connection_calls(server.address, TOKEN_A, 4))
    finally:
        assert server.stop() == 0


def test_a_reload_rotates_the_tls_certificate_on_every_worker(tmp_path):
    from pki import Authority

    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    ca_one, ca_two = Authority(tmp_path / "one", "ca-one"), Authority(tmp_path / "two", "ca-two")
    one = ca_one.issue("server", dns=("localhost",), ips=("127.0.0.1",), server=True)
    two = ca_two.issue("server", dns=("localhost",), ips=("127.0.0.1",), server=True)
    config = tmp_path / "paysig.toml"

    def write(cert, key, tls=True):
        section = f'\n[tls]\ncert_file = "{cert}"\nkey_file = "{key}"\n' if tls else ""
        config.write_text(trust_config('{ value = "%s" }' % KEY_V1) + section)

    def handshakes(ca: Authority, n: int = 8) -> list[str]:
        outcomes = []
        for i in range(n):
            credentials = grpc.ssl_channel_credentials(ca.cert_pem)
            with grpc.secure_channel(server.address, credentials,
                                     options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
                try:
                    signer_pb2_grpc.SignerServiceStub(channel).SignOrder(
                        order(out_trade_no=f"tls-{i}"), timeout=10, metadata=(("authorization", f"Bearer {TOKEN_A}"),))
                    outcomes.append("OK")
                except grpc.RpcError as error:
                    outcomes.append(error.code().name)
        return outcomes

    write(one.cert, one.key)
    server = ServerProcess(config, "--workers", "2")
    try:
        assert handshakes(ca_one) == ["OK"] * 8
        write(two.cert, two.key)
        os.kill(server.proc.pid, signal.SIGHUP)
        assert wait_for(lambda: server.logged("config applied") == 2)
        assert handshakes(ca_two, 16) == ["OK"] * 16  # every worker serves the new certificate
        assert set(handshakes(ca_one)) == {"UNAVAILABLE"}

        write(two.cert, one.key)  # a key that is not the certificate's
        os.kill(server.proc.pid, signal.SIGHUP)
        assert wait_for(lambda: server.logged("reload rejected") == 1)
        write(two.cert, two.key, tls=False)
        os.kill(server.proc.pid, signal.SIGHUP)
        assert wait_for(lambda: server.logged("reload rejected") == 2)
        errors = [json.loads(line)["error"] for line in server.stderr if '"reload rejected"' in line]
        assert "tls: cert_file, key_file: not a PEM certificate chain and its unencrypted private key, or the key " \
               "does not belong to the certificate" in errors[0]
        assert "[tls]: turning TLS on or off needs a restart" in errors[1]
        assert handshakes(ca_two) == ["OK"] * 8
    finally:
        assert server.stop() == 0


def test_a_tls_key_that_is_not_the_certificates_is_refused_at_start(tmp_path):
    from pki import Authority

    ca = Authority(tmp_path, "ca")
    one, two = (ca.issue(name, dns=("localhost",), server=True) for name in ("one", "two"))
    config = tmp_path / "paysig.toml"
    config.write_text(trust_config('{ value = "%s" }' % KEY_V1) + f'\n[tls]\ncert_file = "{one.cert}"\n'
                                                                  f'key_file = "{two.key}"\n')
    result = subprocess.run([sys.executable, "-m", "paysig", "serve", "--config", str(config), "--listen",
                             "127.0.0.1:0", "--workers", "1"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "tls: cert_file, key_file: not a PEM certificate chain" in result.stderr
    assert two.key.read_text().splitlines()[1] not in result.stderr


def test_a_worker_that_cannot_apply_a_config_stops_rather_than_serve_the_old_one(tmp_path, monkeypatch):
    """A reload the supervisor accepted may revoke a caller: a worker whose
    apply fails must not keep serving the old config (nor stop listening to
    its supervisor). It logs the failure and drains; the supervisor then
    replaces it with a fork that starts on the accepted config."""
    import socket

    from paysig.server import load_config, process

    config = load_config(write_config(tmp_path, APPS))

    class Server:
        def reload(self, config, generation):
            raise RuntimeError("cannot apply")

        def reopen_logs(self):
            pass

    signals = []
    monkeypatch.setattr(process.os, "kill", lambda pid, signum: signals.append((pid, signum)))
    ours, theirs = socket.socketpair()
    with ours, theirs:
        follower = threading.Thread(target=process.follow_supervisor, args=(Server(), theirs, {"worker": 0}),
                                    daemon=True)
        follower.start()
        process.send_message(ours, ("config", 2, config))
        follower.join(30)
        assert not follower.is_alive()
    assert signals == [(os.getpid(), signal.SIGTERM)]
