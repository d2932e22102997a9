"""WeChat's published vectors, checked on the primitive and kept in sync with shared/."""

import json

import pytest

from paysig.server.mac import compute_mac, verify_mac
from support import REPO

VENDORED = REPO / "tests" / "vectors" / "wechat-official.json"
SHARED = REPO.parent / "shared" / "vectors" / "wechat-official.json"
VECTORS = json.loads(VENDORED.read_text())["vectors"]


def test_vendored_copy_matches_shared():
    if not SHARED.exists():
        pytest.fail(f"{SHARED} is missing: the shared/ folder must sit beside the repository")
    assert json.loads(SHARED.read_text()) == json.loads(VENDORED.read_text())


@pytest.mark.parametrize("vector", VECTORS, ids=[f"{v['kind']}-{i}" for i, v in enumerate(VECTORS)])
def test_primitive_matches_published_vector(vector):
    key = vector["key"].encode()
    message = vector["prefix"] + vector["payload"]
    assert compute_mac(key, message) == vector["hmac_sha256_hex"]
    assert verify_mac(key, message, vector["hmac_sha256_hex"])
    assert not verify_mac(key, message + " ", vector["hmac_sha256_hex"])
