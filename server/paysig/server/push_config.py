"""An app's `[apps.push]` table: the secrets and mode of WeChat's message push.

    [apps.push]
    token = { env = "DEMO_PUSH_TOKEN" }      # value / env / file, like an AppKey
    encoding_aes_key = [                     # several versions: all decrypt
      { version = 2, file = "keys/push-aes-v2" },
      { version = 1, env = "DEMO_PUSH_AES_V1" },
    ]
    wechat_appid = "wx0123456789abcdef"      # the appid decrypted messages end with
    mode = "safe"                            # safe (default) | compatible | plain

The token is the console's "Token" (3-32 letters and digits), the
EncodingAESKey exactly 43 characters of a-z A-Z 0-9. safe and compatible
need encoding_aes_key and wechat_appid; plain accepts unencrypted pushes and
decrypts encrypted ones when a key is given. A superapp app's host signs its
pushes with pay_event_sig: its mode is "plain", token optional, no AES key.
No message ever shows a secret.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import re
from collections.abc import Callable
from typing import Any

from .config_errors import ConfigError, reject_unknown
from .keys import KeyRing, Secret

__all__ = ["AesKey", "PushConfig", "PushMode", "parse_push"]

TOKEN = re.compile(r"[A-Za-z0-9]{3,32}")
ENCODING_AES_KEY = re.compile(r"[A-Za-z0-9]{43}")
WECHAT_APPID = re.compile(r"wx[A-Za-z0-9]{16}")
_FIELDS = {"token", "encoding_aes_key", "wechat_appid", "mode"}


class PushMode(enum.Enum):
    SAFE = "safe"
    COMPATIBLE = "compatible"
    PLAIN = "plain"


@dataclasses.dataclass(frozen=True)
class AesKey:
    """One EncodingAESKey version, decoded: the 32-byte AES-256 key."""

    version: int
    key: Secret


@dataclasses.dataclass(frozen=True)
class PushConfig:
    mode: PushMode
    token: Secret | None
    aes_keys: tuple[AesKey, ...]  # newest first
    wechat_appid: str | None


def parse_push(raw: Any, *, superapp: bool, where: str, parse_ring: Callable[[Any, str], KeyRing]) -> PushConfig | None:
    """The app's push settings, None when the table is absent. ``parse_ring``
    reads a key table or array exactly as for AppKeys."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    reject_unknown(raw, _FIELDS, where)
    modes = ", ".join(m.value for m in PushMode)
    try:
        mode = PushMode(raw.get("mode", "plain" if superapp else "safe"))
    except ValueError:
        raise ConfigError(f"{where}: mode: one of {modes}") from None

    token = None
    if "token" in raw:
        ring = parse_ring(raw["token"], f"{where}: token")
        if len(ring.versions) != 1:
            raise ConfigError(f"{where}: token: a single table; the console has one token")
        token = ring.primary.secret
        if not TOKEN.fullmatch(token.reveal().decode("utf-8", "replace")):
            raise ConfigError(f"{where}: token: must be 3-32 letters and digits, as the console allows")
    elif not superapp:
        raise ConfigError(f"{where}: token: required, the console's message-push Token")

    aes_keys: tuple[AesKey, ...] = ()
    if "encoding_aes_key" in raw:
        if superapp:
            raise ConfigError(f"{where}: encoding_aes_key: superapp pushes are not encrypted; remove it")
        ring = parse_ring(raw["encoding_aes_key"], f"{where}: encoding_aes_key")
        aes_keys = tuple(_aes_key(kv.version, kv.secret, f"{where}: encoding_aes_key") for kv in ring.versions)

    appid = raw.get("wechat_appid")
    if appid is not None and (not isinstance(appid, str) or not WECHAT_APPID.fullmatch(appid)):
        raise ConfigError(f"{where}: wechat_appid: must be the app's WeChat appid, \"wx\" and 16 letters or digits")

    if superapp and mode is not PushMode.PLAIN:
        raise ConfigError(f"{where}: mode: superapp pushes are not encrypted; use \"plain\" (the default)")
    if mode is not PushMode.PLAIN and not aes_keys:
        raise ConfigError(f"{where}: encoding_aes_key: required for mode {mode.value!r}")
    if aes_keys and appid is None:
        raise ConfigError(f"{where}: wechat_appid: required with encoding_aes_key (decrypted messages end with it)")
    return PushConfig(mode=mode, token=token, aes_keys=aes_keys, wechat_appid=appid)


def _aes_key(version: int, secret: Secret, where: str) -> AesKey:
    text = secret.reveal().decode("utf-8", "replace")
    if not ENCODING_AES_KEY.fullmatch(text):
        raise ConfigError(f"{where}: version {version}: must be exactly 43 characters of a-z A-Z 0-9")
    return AesKey(version=version, key=Secret(base64.b64decode(text + "=")))
