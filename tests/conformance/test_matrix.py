"""Sign in one language, verify in every other; every language signs alike."""

import json
import subprocess

import pytest

from paysig.client import Client
from runner import CASES_PATH, sign_all, verify_all
from support import REPO

LANGUAGES = ["python", "go", "cpp"]
CPP_BUILD = REPO / "build" / "cpp"


@pytest.fixture(scope="session")
def go_runner(tmp_path_factory):
    binary = tmp_path_factory.mktemp("go") / "paysig-conformance"
    subprocess.run(["go", "build", "-o", str(binary), "./cmd/paysig-conformance"], cwd=REPO / "clients" / "go",
                   check=True, timeout=600)
    return binary


@pytest.fixture(scope="session")
def cpp_runner():
    """The C++ runner, built incrementally in the tree `make test-cpp` uses."""
    subprocess.run(["cmake", "-S", str(REPO / "clients" / "cpp"), "-B", str(CPP_BUILD), "-G", "Ninja",
                    "-DCMAKE_BUILD_TYPE=Debug"], check=True, timeout=600, capture_output=True)
    subprocess.run(["cmake", "--build", str(CPP_BUILD), "--target", "paysig-conformance"], check=True, timeout=900,
                   capture_output=True)
    return CPP_BUILD / "paysig-conformance"


@pytest.fixture(scope="session")
def runners(go_runner, cpp_runner):
    return {"go": go_runner, "cpp": cpp_runner}


@pytest.fixture(scope="session")
def address(conformance_port):
    return f"127.0.0.1:{conformance_port}"


def run(runner, *args):
    return subprocess.run([str(runner), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def signed(runners, address, tmp_path_factory):
    """{language: path of its signed.json}."""
    out = tmp_path_factory.mktemp("signed")
    with Client(address) as client:
        (out / "python.json").write_text(json.dumps(sign_all(client)))
    for language, runner in runners.items():
        result = run(runner, "sign", "-target", address, "-cases", str(CASES_PATH))
        assert result.returncode == 0, result.stderr
        (out / f"{language}.json").write_text(result.stdout)
    return {lang: out / f"{lang}.json" for lang in LANGUAGES}


def test_every_language_signs_the_same_bytes(signed):
    by_language = {lang: json.loads(path.read_text()) for lang, path in signed.items()}
    assert len(by_language["python"]) >= 9
    for language in LANGUAGES:
        assert by_language[language] == by_language["python"], language


@pytest.mark.parametrize("signer", LANGUAGES)
@pytest.mark.parametrize("verifier", LANGUAGES)
def test_sign_in_one_language_verify_in_another(signer, verifier, signed, runners, address):
    entries = json.loads(signed[signer].read_text())
    if verifier == "python":
        with Client(address) as client:
            assert verify_all(client, entries) == []
    else:
        result = run(runners[verifier], "verify", "-target", address, "-signed", str(signed[signer]))
        assert result.returncode == 0, result.stderr
        assert result.stderr.strip().endswith(f"{len(entries)} passed, 0 failed")


@pytest.mark.parametrize("language", ["go", "cpp"])
def test_runner_passes_every_case(language, runners, address):
    result = run(runners[language], "cases", "-target", address, "-cases", str(CASES_PATH))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith(" 0 failed")
