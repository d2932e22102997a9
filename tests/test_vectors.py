"""WeChat's published HMAC vectors (a vendored copy under tests/vectors), checked on the primitive."""

import json

import pytest

from paysig.server.mac import compute_mac, verify_mac
from support import REPO

VENDORED = REPO / "tests" / "vectors" / "wechat-official.json"
VECTORS = json.loads(VENDORED.read_text())["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=[f"{v['kind']}-{i}" for i, v in enumerate(VECTORS)])
def test_primitive_matches_published_vector(vector):
    key = vector["key"].encode()
    message = vector["prefix"] + vector["payload"]
    assert compute_mac(key, message) == vector["hmac_sha256_hex"]
    assert verify_mac(key, message, vector["hmac_sha256_hex"])
    assert not verify_mac(key, message + " ", vector["hmac_sha256_hex"])
