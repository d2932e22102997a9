"""Every language's runner against one server: each client's round trip of
the signed order cases and its decoding of every answer and error, then each
language verifies the orders every other one signed.

All runners ask the same server, so these tests check the clients (request
in, answer and rich error out, request id included), not independent
signing: the expected signatures come from cases.json (WeChat's vectors or
openssl). Runners write JSON lines on stdout (runner.py documents them)."""

import json
import subprocess
import sys

import pytest

from runner import CASES, CASES_PATH
from support import REPO

LANGUAGES = ["python", "go", "cpp"]
CPP_BUILD = REPO / "build" / "cpp"
SIGNED_CASES = [c for c in CASES if c["rpc"] == "SignOrder" and "response" in c["expect"]]
SIGNED_FIELDS = ("method", "sign_data", "pay_sig", "signature")


@pytest.fixture(scope="session")
def go_runner(tmp_path_factory):
    binary = tmp_path_factory.mktemp("go") / "paysig-conformance"
    subprocess.run(["go", "build", "-o", str(binary), "./cmd/paysig-conformance"], cwd=REPO / "clients" / "go",
                   check=True, timeout=600)
    return [str(binary)]


@pytest.fixture(scope="session")
def cpp_runner():
    """The C++ runner, built incrementally in the tree `make test-cpp` uses."""
    subprocess.run(["cmake", "-S", str(REPO / "clients" / "cpp"), "-B", str(CPP_BUILD), "-G", "Ninja",
                    "-DCMAKE_BUILD_TYPE=Debug"], check=True, timeout=600, capture_output=True)
    subprocess.run(["cmake", "--build", str(CPP_BUILD), "--target", "paysig-conformance"], check=True, timeout=900,
                   capture_output=True)
    return [str(CPP_BUILD / "paysig-conformance")]


@pytest.fixture(scope="session")
def runners(go_runner, cpp_runner):
    return {"python": [sys.executable, str(REPO / "tests" / "conformance" / "runner.py")], "go": go_runner,
            "cpp": cpp_runner}


@pytest.fixture(scope="session")
def address(conformance_port):
    return f"127.0.0.1:{conformance_port}"


def run(runner: list[str], *args) -> tuple[int, list[dict], str]:
    """(exit status, result lines, stderr) of a runner."""
    done = subprocess.run([*runner, *args], capture_output=True, text=True, timeout=300)
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line.strip()], done.stderr


@pytest.fixture(scope="session")
def signed(runners, address, tmp_path_factory):
    """{language: (result lines of its sign run, path of its output)}."""
    out = tmp_path_factory.mktemp("signed")
    results = {}
    for language, runner in runners.items():
        status, lines, stderr = run(runner, "sign", "-target", address, "-cases", str(CASES_PATH))
        assert status == 0, stderr or lines
        path = out / f"{language}.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        results[language] = (lines, path)
    return results


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_client_round_trips_every_signed_order(language, signed):
    lines, _ = signed[language]
    assert [line["name"] for line in lines] == [c["name"] for c in SIGNED_CASES]
    for line, case in zip(lines, SIGNED_CASES):
        assert line["ok"], line
        want = case["expect"]["response"]
        assert {f: line["signed"][f] for f in SIGNED_FIELDS} == {f: want[f] for f in SIGNED_FIELDS}, case["name"]
        assert (line["signed"]["app_id"], line["signed"]["session_key"]) == (
            case["request"]["app_id"], case["request"].get("session_key", ""))
    request_ids = [line["request_id"] for line in lines]
    assert all(request_ids) and len(set(request_ids)) == len(request_ids)


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_client_decodes_every_answer_and_error(language, runners, address):
    status, lines, stderr = run(runners[language], "cases", "-target", address, "-cases", str(CASES_PATH))
    assert [line["name"] for line in lines] == [c["name"] for c in CASES]
    assert [line for line in lines if not line["ok"]] == []
    assert status == 0, stderr
    # Every case reached the server, which names each call.
    assert all(line.get("request_id") for line in lines)


@pytest.mark.parametrize("signer", LANGUAGES)
@pytest.mark.parametrize("verifier", LANGUAGES)
def test_sign_in_one_language_verify_in_another(signer, verifier, signed, runners, address):
    lines, path = signed[signer]
    status, results, stderr = run(runners[verifier], "verify", "-target", address, "-signed", str(path))
    assert [r["name"] for r in results] == [line["name"] for line in lines]
    assert [r for r in results if not r["ok"]] == []
    assert status == 0, stderr


def test_a_runner_reports_a_failed_verification(signed, runners, address, tmp_path):
    """The verify command can fail: one flipped signature gives one failed line and exit 1."""
    lines, _ = signed["python"]
    tampered = json.loads(json.dumps(lines))
    sig = tampered[0]["signed"]["pay_sig"]
    tampered[0]["signed"]["pay_sig"] = ("1" if sig[0] == "0" else "0") + sig[1:]
    path = tmp_path / "tampered.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in tampered))
    for language, runner in runners.items():
        status, results, _ = run(runner, "verify", "-target", address, "-signed", str(path))
        assert status == 1, language
        assert [r["ok"] for r in results] == [False] + [True] * (len(lines) - 1), language
