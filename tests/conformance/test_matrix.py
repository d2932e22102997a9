"""Sign in one language, verify in every other; every language signs alike."""

import json
import subprocess

import pytest

from paysig.client import Client
from runner import CASES_PATH, sign_all, verify_all
from support import REPO

LANGUAGES = ["python", "go"]


@pytest.fixture(scope="session")
def go_runner(tmp_path_factory):
    binary = tmp_path_factory.mktemp("go") / "paysig-conformance"
    subprocess.run(["go", "build", "-o", str(binary), "./cmd/paysig-conformance"], cwd=REPO / "clients" / "go",
                   check=True, timeout=600)
    return binary


@pytest.fixture(scope="session")
def address(conformance_port):
    return f"127.0.0.1:{conformance_port}"


def run_go(go_runner, *args):
    return subprocess.run([str(go_runner), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def signed(go_runner, address, tmp_path_factory):
    """{language: path of its signed.json}."""
    out = tmp_path_factory.mktemp("signed")
    with Client(address) as client:
        (out / "python.json").write_text(json.dumps(sign_all(client)))
    result = run_go(go_runner, "sign", "-target", address, "-cases", str(CASES_PATH))
    assert result.returncode == 0, result.stderr
    (out / "go.json").write_text(result.stdout)
    return {lang: out / f"{lang}.json" for lang in LANGUAGES}


def test_every_language_signs_the_same_bytes(signed):
    by_language = {lang: json.loads(path.read_text()) for lang, path in signed.items()}
    assert len(by_language["python"]) >= 9
    assert by_language["go"] == by_language["python"]


@pytest.mark.parametrize("signer", LANGUAGES)
@pytest.mark.parametrize("verifier", LANGUAGES)
def test_sign_in_one_language_verify_in_another(signer, verifier, signed, go_runner, address):
    if verifier == "python":
        with Client(address) as client:
            assert verify_all(client, json.loads(signed[signer].read_text())) == []
    else:
        result = run_go(go_runner, "verify", "-target", address, "-signed", str(signed[signer]))
        assert result.returncode == 0, result.stderr
        assert " 0 failed" in result.stderr


def test_go_runner_passes_every_case(go_runner, address):
    result = run_go(go_runner, "cases", "-target", address, "-cases", str(CASES_PATH))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith(" 0 failed")
