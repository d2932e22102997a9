"""The TOML config: apps, their kind, offer id and AppKeys.

    [[apps]]
    app_id = "demo-minigame"     # the name callers use
    kind = "minigame"            # minigame | miniprogram | superapp
    offer_id = "1450000001"
    [apps.keys]
    production = { value = "..." }          # or { env = "VAR" } or { file = "path" }
    sandbox = [                             # several versions: newest signs
      { version = 2, file = "keys/sandbox-v2" },
      { version = 1, env = "DEMO_SANDBOX_V1" },
    ]

A key given as one table is version 1. Relative key file paths are relative to
the config file. Every problem is a ConfigError naming the file, the app and
the field; no message ever contains key material.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .access import AccessPolicy, AuthMode, parse_access
from .audit import AuditSettings, parse_audit
from .config_errors import ConfigError, read_secret_file, reject_unknown
from .keys import Env, KeyRing, KeyVersion, Secret
from .push_config import PushConfig, parse_push

__all__ = ["App", "AppKind", "Config", "ConfigError", "load_config", "parse_config"]


class AppKind(enum.Enum):
    MINIGAME = "minigame"
    MINIPROGRAM = "miniprogram"
    SUPERAPP = "superapp"


@dataclasses.dataclass(frozen=True)
class App:
    app_id: str
    kind: AppKind
    offer_id: str | None
    keys: Mapping[Env, KeyRing]
    push: PushConfig | None = None  # [apps.push], see push_config.py

    def key_ring(self, env: Env) -> KeyRing | None:
        return self.keys.get(env)


@dataclasses.dataclass(frozen=True)
class Config:
    """One immutable, validated generation of the configuration."""

    source: str
    apps: Mapping[str, App]
    access: AccessPolicy = dataclasses.field(default_factory=lambda: AccessPolicy(AuthMode.NONE, (), None))
    audit: AuditSettings = dataclasses.field(default_factory=AuditSettings)

    def per_worker(self, workers: int) -> "Config":
        """The config one of ``workers`` processes serves with: each holds its
        own rate-limit buckets, so each gets 1/workers of every rate."""
        if workers == 1:
            return self
        return dataclasses.replace(self, access=self.access.scaled_rates(1 / workers))


_APP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_OFFER_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_APP_FIELDS = {"app_id", "kind", "offer_id", "keys", "push"}
_KEY_SOURCES = ("value", "env", "file")


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    """Reads and validates the config file at ``path``."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return parse_config(data, source=str(path), base_dir=path.parent, environ=environ)


def parse_config(
    data: Mapping[str, Any],
    *,
    source: str,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
) -> Config:
    environ = os.environ if environ is None else environ
    reject_unknown(data, {"apps", "auth", "tls", "callers", "audit"}, source)
    raw_apps = data.get("apps")
    if not isinstance(raw_apps, list) or not raw_apps:
        raise ConfigError(f"{source}: apps: at least one [[apps]] table is required")
    apps: dict[str, App] = {}
    for index, raw in enumerate(raw_apps):
        app = _parse_app(raw, f"{source}: apps[{index}]", base_dir, environ)
        if app.app_id in apps:
            raise ConfigError(f"{source}: apps[{index}] ({app.app_id}): app_id: duplicated")
        apps[app.app_id] = app
    access = parse_access(data, source, base_dir, set(apps))
    audit = parse_audit(data.get("audit"), f"{source}: audit", base_dir)
    return Config(source=source, apps=apps, access=access, audit=audit)


def _parse_app(raw: Any, where: str, base_dir: Path, environ: Mapping[str, str]) -> App:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    app_id = raw.get("app_id")
    if not isinstance(app_id, str) or not _APP_ID.fullmatch(app_id):
        raise ConfigError(
            f"{where}: app_id: required, 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit"
        )
    where = f"{where} ({app_id})"
    reject_unknown(raw, _APP_FIELDS, where)

    kinds = ", ".join(k.value for k in AppKind)
    try:
        kind = AppKind(raw.get("kind"))
    except ValueError:
        raise ConfigError(f"{where}: kind: required, one of {kinds}") from None

    offer_id = raw.get("offer_id")
    if kind is AppKind.SUPERAPP:
        if offer_id is not None:
            raise ConfigError(f"{where}: offer_id: superapp signData carries no offerId; remove it")
    elif not isinstance(offer_id, str) or not _OFFER_ID.fullmatch(offer_id):
        raise ConfigError(
            f"{where}: offer_id: required for {kind.value}, a string of 1-64 characters A-Z a-z 0-9 _ -"
        )

    raw_keys = raw.get("keys")
    if not isinstance(raw_keys, dict) or not raw_keys:
        raise ConfigError(f"{where}: keys: required, a table with production and/or sandbox")
    allowed_envs = (Env.PRODUCTION,) if kind is AppKind.SUPERAPP else tuple(Env)
    if kind is AppKind.SUPERAPP and "sandbox" in raw_keys:
        raise ConfigError(f"{where}: keys.sandbox: superapp apps have a single key; configure it as production")
    reject_unknown(raw_keys, {e.config_name for e in allowed_envs}, f"{where}: keys")
    rings = {
        env: _parse_ring(raw_keys[env.config_name], f"{where}: keys.{env.config_name}", base_dir, environ)
        for env in allowed_envs
        if env.config_name in raw_keys
    }
    push = parse_push(raw.get("push"), superapp=kind is AppKind.SUPERAPP, where=f"{where}: push",
                      parse_ring=lambda r, w: _parse_ring(r, w, base_dir, environ))
    return App(app_id=app_id, kind=kind, offer_id=offer_id, keys=rings, push=push)


def _parse_ring(raw: Any, where: str, base_dir: Path, environ: Mapping[str, str]) -> KeyRing:
    if isinstance(raw, dict):
        entries = [(where, raw, 1)]
    elif isinstance(raw, list) and raw:
        entries = [(f"{where}[{i}]", item, None) for i, item in enumerate(raw)]
    else:
        raise ConfigError(f"{where}: must be a key table or a non-empty array of key tables")
    versions = [_parse_key(item, w, default_version, base_dir, environ) for w, item, default_version in entries]
    seen: set[int] = set()
    for (w, _, _), kv in zip(entries, versions):
        if kv.version in seen:
            raise ConfigError(f"{w}: version: {kv.version} is used twice")
        seen.add(kv.version)
    return KeyRing(tuple(versions))


def _parse_key(
    raw: Any, where: str, default_version: int | None, base_dir: Path, environ: Mapping[str, str]
) -> KeyVersion:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table such as {{ value = \"...\" }}")
    reject_unknown(raw, {"version", *_KEY_SOURCES}, where)
    version = raw.get("version", default_version)
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 2**31 - 1:
        need = "required in a key array" if default_version is None else "optional, default 1"
        raise ConfigError(f"{where}: version: {need}, a whole number from 1 to 2147483647")
    sources = [s for s in _KEY_SOURCES if s in raw]
    if len(sources) != 1:
        raise ConfigError(f"{where}: exactly one of value, env, file is required")
    source = sources[0]
    ref = raw[source]
    if not isinstance(ref, str) or not ref:
        raise ConfigError(f"{where}: {source}: must be a non-empty string")
    if source == "value":
        key = ref
    elif source == "env":
        if not _ENV_VAR.fullmatch(ref):
            raise ConfigError(f"{where}: env: {ref!r} is not an environment variable name")
        if ref not in environ:
            raise ConfigError(f"{where}: env: environment variable {ref} is not set")
        key = environ[ref]
    else:
        key_path = base_dir / ref
        try:
            key = read_secret_file(key_path, f"{where}: file").decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{where}: file: {key_path} is not UTF-8 text") from None
        key = key.removesuffix("\n").removesuffix("\r")
    if not key:
        raise ConfigError(f"{where}: {source}: the key is empty")
    if key != key.strip() or any(not c.isprintable() for c in key):
        raise ConfigError(f"{where}: {source}: the key has surrounding white space or control characters")
    return KeyVersion(version=version, secret=Secret(key.encode("utf-8")))
