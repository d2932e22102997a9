"""Secrets outside the normal channels: the environment, config errors,
readable config files, core dumps, query strings in audit lines (issue 12 item 6)."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from paysig.client import Client, PaysigError
from paysig.server import ConfigError, load_config
from paysig.server.grpc_server import UnauthenticatedNetworkError, check_listen
from paysig.v1 import signer_pb2 as pb

from support import NOBODY, REPO, ServerProcess, grant_nobody_search, running_server, write_config
from test_security import order

KEY = "Zq7-secret-appkey-0001"
ENV_APP = """
[[apps]]
app_id = "g1"
kind = "minigame"
offer_id = "1450000001"
[apps.keys]
production = { env = "PAYSIG_TEST_APPKEY" }
"""
INLINE_APP = ENV_APP.replace('{ env = "PAYSIG_TEST_APPKEY" }', f'{{ value = "{KEY}" }}')


def environ_of(pid: int) -> bytes:
    with open(f"/proc/{pid}/environ", "rb") as f:
        return f.read()


def core_limit(pid: int) -> str:
    with open(f"/proc/{pid}/limits") as f:
        return next(line for line in f if line.startswith("Max core file size")).split()[4:6]


def test_an_env_key_leaves_the_environment_of_supervisor_and_workers_and_reloads(tmp_path):
    config = write_config(tmp_path, ENV_APP)
    server = ServerProcess(config, "--workers", "2", env={**os.environ, "PAYSIG_TEST_APPKEY": KEY})
    try:
        serving = json.loads(server.stderr[0])
        pids = [server.proc.pid, *serving["pids"]]
        assert len(pids) == 3
        for pid in pids:
            block = environ_of(pid)
            assert KEY.encode() not in block and b"PAYSIG_TEST_APPKEY" not in block, pid
            assert b"PATH=" in block  # the rest of the environment is intact
            assert core_limit(pid) == ["0", "0"], pid
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for_log("config applied", 2)  # the supervisor re-reads the file, each worker applies it
        assert sum('"reloaded"' in line for line in server.stderr) == 1, server.stderr
        assert sum('"config applied"' in line for line in server.stderr) == 2, server.stderr
        assert not any('"reload rejected"' in line for line in server.stderr)
        with Client(server.address, connections=4) as c:
            assert c.sign_order(order()).key_version == 1
    finally:
        assert server.stop() == 0
    assert KEY not in "".join(server.stderr + server.stdout)


def test_the_environment_block_is_erased_in_a_non_root_process_that_is_not_dumpable():
    """As the Docker image runs: not root, core dumps disabled before the config is read."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):  # the machine `make test` runs on has both
        pytest.skip("starting a process as nobody needs root and setpriv (util-linux)")
    child = ("import sys; from paysig.server import hardening; hardening.disable_core_dumps(); "
             "hardening.erase_from_environment('PAYSIG_TEST_APPKEY'); assert not hardening.dumpable(); "
             "print('ready', flush=True); sys.stdin.read()")
    restore = grant_nobody_search()
    try:
        proc = subprocess.Popen([*NOBODY, sys.executable, "-c", child], env={**os.environ, "PAYSIG_TEST_APPKEY": KEY},
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd="/")
        try:
            assert proc.stdout.readline().strip() == "ready"
            block = environ_of(proc.pid)
            assert KEY.encode() not in block and b"PAYSIG_TEST_APPKEY" not in block and b"PATH=" in block
        finally:
            proc.stdin.close()
            assert proc.wait(30) == 0
    finally:
        restore()


def test_reading_an_env_key_unsets_it_and_a_second_load_finds_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PAYSIG_TEST_APPKEY", KEY)
    config = write_config(tmp_path, ENV_APP)
    first = load_config(config)
    assert "PAYSIG_TEST_APPKEY" not in os.environ
    probe = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('PAYSIG_TEST_APPKEY'))"],
                           capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "None"  # unset for libc too: children do not inherit it
    again = load_config(config)
    for c in (first, again):
        assert c.apps["g1"].keys[next(iter(c.apps["g1"].keys))].primary.secret.reveal() == KEY.encode()


def test_core_dumps_are_off_unless_allowed(tmp_path):
    config = write_config(tmp_path, INLINE_APP)
    server = ServerProcess(config, "--workers", "1")
    allowed = ServerProcess(config, "--workers", "1", "--allow-core-dumps")
    try:
        assert core_limit(server.proc.pid) == ["0", "0"]
        assert core_limit(allowed.proc.pid) != ["0", "0"] or core_limit(os.getpid()) == ["0", "0"]
    finally:
        assert server.stop() == 0 and allowed.stop() == 0
    probe = ("from paysig.server import hardening; assert hardening.dumpable(); hardening.disable_core_dumps(); "
             "import resource; print(hardening.dumpable(), resource.getrlimit(resource.RLIMIT_CORE))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False (0, 0)"


def test_config_errors_never_show_a_value_that_could_be_a_key(tmp_path):
    for text in (ENV_APP.replace('env = "PAYSIG_TEST_APPKEY"', f'env = "{KEY}="'),
                 ENV_APP.replace('env = "PAYSIG_TEST_APPKEY"', f'file = "{KEY}"')):
        with pytest.raises(ConfigError) as info:
            load_config(write_config(tmp_path, text), environ={})
        assert KEY not in str(info.value) and "keys.production" in str(info.value)
        assert "not shown" in str(info.value)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_inline_keys_in_a_readable_config_are_refused(tmp_path, mode):
    config = write_config(tmp_path, INLINE_APP)
    config.chmod(mode)
    with pytest.raises(ConfigError) as info:
        load_config(config)
    message = str(info.value)
    assert message.startswith(f"{config}: apps[0] (g1): keys.production: value: an inline key") and KEY not in message
    assert f"(mode {mode:04o}); run: chmod 600 {config}" in message
    config.chmod(0o600)
    assert not load_config(config).demo


def test_a_demo_config_may_be_readable_but_serves_on_loopback_only(tmp_path):
    config = write_config(tmp_path, "demo = true\n" + INLINE_APP)
    config.chmod(0o644)
    loaded = load_config(config)
    assert loaded.demo
    check_listen("127.0.0.1:0", loaded, False)
    with pytest.raises(UnauthenticatedNetworkError, match="demo config"):
        check_listen("0.0.0.0:50051", loaded, True)
    example = load_config(REPO / "examples" / "paysig.toml")  # `make run`
    assert example.demo and os.stat(REPO / "examples" / "paysig.toml").st_mode & 0o044


def test_a_query_string_never_reaches_the_audit_line(tmp_path):
    audit = tmp_path / "audit.log"
    config = write_config(tmp_path, INLINE_APP + f'[audit]\npath = "{audit}"\n')
    token = "ACCESS-TOKEN-abcdef0123456789"
    with running_server(config) as (_, port), Client(f"127.0.0.1:{port}", connections=1) as c:
        for uri in (f"/xpay/query_order?access_token={token}", f"/xpay/query_order#{token}",
                    f"/xpay/query_order?x=1#access_token={token}"):
            with pytest.raises(PaysigError) as info:
                c.sign_api_call(pb.SignApiCallRequest(app_id="g1", env=pb.ENV_PRODUCTION, uri=uri, body="{}"))
            assert info.value.code.name == "INVALID_ARGUMENT"
    text = audit.read_text()
    assert token not in text and "access_token" not in text
    assert [json.loads(line)["uri"] for line in text.splitlines()] == ["/xpay/query_order"] * 3
