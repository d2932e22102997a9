"""The server and the Python client are two wheels that install side by side:
paysig-client alone owns the generated paysig.v1 stubs and paysig.client (with
py.typed), the server depends on it and ships neither."""

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser

import pytest

from support import REPO

IGNORE = shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info", "build")


def build_wheel(source, out) -> zipfile.ZipFile:
    """Builds a wheel of a copy of ``source`` (so the clone gets no build output)."""
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                             "--no-cache-dir", "--wheel-dir", str(out), str(source)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    root = tmp_path_factory.mktemp("src")
    server = root / "server-dist"
    server.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(REPO / name, server / name)
    shutil.copytree(REPO / "server", server / "server", ignore=IGNORE)
    client = root / "client-dist"
    shutil.copytree(REPO / "clients" / "python", client, ignore=IGNORE)
    return {"server": build_wheel(server, tmp_path_factory.mktemp("server-wheel")),
            "client": build_wheel(client, tmp_path_factory.mktemp("client-wheel"))}


def modules(wheel: zipfile.ZipFile) -> set[str]:
    return {n for n in wheel.namelist() if not n.split("/")[0].endswith(".dist-info")}


def metadata(wheel: zipfile.ZipFile):
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return Parser().parsestr(wheel.read(name).decode())


def test_no_file_is_in_both_wheels(wheels):
    assert modules(wheels["server"]) & modules(wheels["client"]) == set()


def test_the_client_wheel_owns_the_stubs_and_is_typed(wheels):
    client, server = modules(wheels["client"]), modules(wheels["server"])
    for name in ("paysig/v1/__init__.py", "paysig/v1/signer_pb2.py", "paysig/v1/signer_pb2.pyi",
                 "paysig/v1/signer_pb2_grpc.py", "paysig/v1/py.typed", "paysig/client/__init__.py",
                 "paysig/client/py.typed"):
        assert name in client, name
    assert not any(n.startswith(("paysig/v1/", "paysig/client/")) for n in server)
    assert "paysig/server/__init__.py" in server and "paysig/__main__.py" in server
    assert not any(n.startswith("paysig/server/") for n in client)
    # "paysig" is a namespace package: an __init__.py in either wheel would hide the other's half.
    assert "paysig/__init__.py" not in client | server


def test_the_server_requires_the_client_at_its_version(wheels):
    client, server = metadata(wheels["client"]), metadata(wheels["server"])
    assert client["Name"] == "paysig-client"
    assert f"paysig-client=={client['Version']}" in server.get_all("Requires-Dist")
