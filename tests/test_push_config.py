"""[apps.push]: parsed like AppKeys, validated at start-up, never shown."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from paysig.server.config import ConfigError, parse_config
from paysig.server.push_config import PushMode

AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
AES_OLD = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
TOKEN = "pushToken42"


def load(push: dict | None, kind: str = "minigame", environ: dict | None = None, base_dir: Path = Path(".")):
    app = {"app_id": "g", "kind": kind, "keys": {"production": {"value": "k"}}}
    if kind != "superapp":
        app["offer_id"] = "1"
    if push is not None:
        app["push"] = push
    return parse_config({"apps": [app]}, source="t.toml", base_dir=base_dir, environ=environ or {}).apps["g"]


def full(**over) -> dict:
    return {"token": {"value": TOKEN}, "encoding_aes_key": {"value": AES}, "wechat_appid": "wx0123456789abcdef",
            **over}


def test_defaults_and_sources(tmp_path):
    assert load(None).push is None
    push = load(full()).push
    assert push.mode is PushMode.SAFE and push.wechat_appid == "wx0123456789abcdef"
    assert push.token.reveal() == TOKEN.encode()
    assert [(k.version, k.key.reveal()) for k in push.aes_keys] == [(1, base64.b64decode(AES + "="))]
    key_file = tmp_path / "aes"
    key_file.write_text(AES_OLD + "\n")
    key_file.chmod(0o600)
    push = load(full(token={"env": "PUSH_TOKEN"},
                     encoding_aes_key=[{"version": 2, "value": AES}, {"version": 1, "file": "aes"}]),
                environ={"PUSH_TOKEN": TOKEN}, base_dir=tmp_path).push
    assert push.token.reveal() == TOKEN.encode()
    assert [k.version for k in push.aes_keys] == [2, 1]
    assert push.aes_keys[1].key.reveal() == base64.b64decode(AES_OLD + "=")


def test_modes():
    assert load(full(mode="compatible")).push.mode is PushMode.COMPATIBLE
    plain = load({"token": {"value": TOKEN}, "mode": "plain"}).push
    assert plain.mode is PushMode.PLAIN and plain.aes_keys == () and plain.wechat_appid is None
    superapp = load({}, kind="superapp").push
    assert superapp.mode is PushMode.PLAIN and superapp.token is None


@pytest.mark.parametrize("push, message", [
    ("x", "push: must be a table"),
    (full(mode="secure"), "mode: one of safe, compatible, plain"),
    (full(colour="red"), "unknown field 'colour'"),
    ({"encoding_aes_key": {"value": AES}, "wechat_appid": "wx0123456789abcdef"}, "token: required"),
    (full(token={"value": "ab"}), "token: must be 3-32 letters and digits"),
    (full(token={"value": "has space"}), "token: must be 3-32 letters and digits"),
    (full(token=[{"version": 1, "value": TOKEN}, {"version": 2, "value": TOKEN + "x"}]), "token: a single table"),
    (full(encoding_aes_key={"value": AES[:-1]}), "exactly 43 characters"),
    (full(encoding_aes_key={"value": AES[:-1] + "+"}), "exactly 43 characters"),
    (full(encoding_aes_key={"value": AES + "H"}), "exactly 43 characters"),
    (full(encoding_aes_key=[{"version": 1, "value": AES}, {"version": 1, "value": AES_OLD}]), "used twice"),
    (full(encoding_aes_key={"env": "MISSING"}), "environment variable MISSING is not set"),
    (full(wechat_appid="gh_123"), "wechat_appid: must be"),
    (full(wechat_appid=None) | {"wechat_appid": 5}, "wechat_appid: must be"),
    ({"token": {"value": TOKEN}, "encoding_aes_key": {"value": AES}}, "wechat_appid: required"),
    ({"token": {"value": TOKEN}}, "encoding_aes_key: required for mode 'safe'"),
    ({"token": {"value": TOKEN}, "mode": "compatible"}, "encoding_aes_key: required for mode 'compatible'"),
])
def test_invalid(push, message):
    with pytest.raises(ConfigError) as e:
        load(push)
    assert message in str(e.value)
    assert "apps[0] (g): push" in str(e.value)
    for secret in (AES, AES_OLD, TOKEN, AES[:-1]):
        assert secret not in str(e.value)


def test_superapp_rules():
    with pytest.raises(ConfigError, match="superapp pushes are not encrypted"):
        load({"encoding_aes_key": {"value": AES}, "wechat_appid": "wx0123456789abcdef"}, kind="superapp")
    with pytest.raises(ConfigError, match="use \"plain\""):
        load({"mode": "safe"}, kind="superapp")
    assert load({"token": {"value": TOKEN}}, kind="superapp").push.token.reveal() == TOKEN.encode()


def test_reprs_show_no_secret():
    push = load(full())
    for text in (repr(push), str(push), repr(push.push)):
        assert AES not in text and TOKEN not in text
