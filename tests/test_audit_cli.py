"""`paysig audit` on damaged files and in pipes, `paysig token` names (issues 12 and 15)."""

import subprocess
import sys

import pytest

from paysig.server.access import CALLER_NAME

LINE = b'{"ts":"2026-01-01T00:00:00.000Z","pid":7,"request_id":"ab","caller":"game-a","peer":"p",' \
       b'"rpc":"SignOrder","app_id":"g1","product_id":"\xe5\x89\x91","out_trade_no":"X-1","code":"OK"}\n'


def paysig(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "paysig", *args], capture_output=True, timeout=60, **kw)


def test_audit_skips_and_counts_damaged_lines_and_prints_matches_as_written(tmp_path):
    audit = tmp_path / "audit.log"
    torn = LINE[:40]
    audit.write_bytes(LINE + torn + b"\n" + b"[1]\n" + b"\xff\xfe\n" + b"[" * 100_000 + b"\n" + b"\n"
                      + b'"just a string"\n' + LINE.replace(b"X-1", b"X-2") + LINE.rstrip(b"\n"))
    result = paysig("audit", "--file", str(audit), "--out-trade-no", "X-1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == LINE + LINE  # byte for byte, non-ASCII unescaped, key order kept
    assert b"Traceback" not in result.stderr
    assert b"skipped 5 line(s)" in result.stderr and b"line 2, 3, 4, 5, 7" in result.stderr


def test_audit_into_head_exits_quietly(tmp_path):
    audit = tmp_path / "audit.log"
    audit.write_bytes(LINE * 200_000)
    command = f"{sys.executable} -m paysig audit --file {audit} --out-trade-no X-1 | head -n 1"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, timeout=120)
    assert result.stdout == LINE
    assert result.stderr == b"", result.stderr
    assert result.returncode == 0


def test_audit_of_a_missing_file(tmp_path):
    result = paysig("audit", "--file", str(tmp_path / "none.log"), "--out-trade-no", "X")
    assert result.returncode == 2 and b"cannot read" in result.stderr and b"Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["bad name!", "_leading-underscore", "x" * 65, "a\nb", "é"])
def test_token_refuses_a_name_the_config_would_refuse(tmp_path, name):
    assert not CALLER_NAME.fullmatch(name)
    result = paysig("token", f"--name={name}", "--app", "g1")
    assert result.returncode == 2 and result.stdout == b""
    assert b"--name: 1-64 characters" in result.stderr


def test_token_accepts_what_the_config_accepts(tmp_path):
    from paysig.server import load_config

    result = paysig("token", "--name", "game.c_1-x", "--app", "g1", text=True, check=True)
    entry = result.stdout.split("config:\n", 1)[1]
    config = tmp_path / "paysig.toml"
    config.write_text('[[apps]]\napp_id = "g1"\nkind = "minigame"\noffer_id = "1"\n[apps.keys]\n'
                      'production = { value = "k" }\n[auth]\nmode = "token"\n'
                      + "\n".join(line.strip() for line in entry.splitlines()) + "\n")
    config.chmod(0o600)
    assert load_config(config).access.callers[0].name == "game.c_1-x"


def test_audit_exit_1_when_no_line_matches_and_app_id_narrows(tmp_path):
    """README Security: `paysig audit ... [--app-id A]` exits 1 when no line matches."""
    audit = tmp_path / "audit.log"
    other_app = LINE.replace(b'"app_id":"g1"', b'"app_id":"g2"')
    audit.write_bytes(LINE + other_app)
    none = paysig("audit", "--file", str(audit), "--out-trade-no", "X-404")
    assert none.returncode == 1 and none.stdout == b"" and none.stderr == b""
    both = paysig("audit", "--file", str(audit), "--out-trade-no", "X-1")
    assert both.returncode == 0 and both.stdout == LINE + other_app
    narrowed = paysig("audit", "--file", str(audit), "--out-trade-no", "X-1", "--app-id", "g2")
    assert narrowed.returncode == 0 and narrowed.stdout == other_app
    missing_app = paysig("audit", "--file", str(audit), "--out-trade-no", "X-1", "--app-id", "g3")
    assert missing_app.returncode == 1 and missing_app.stdout == b""
