"""The TOML config: apps, their kind, offer id and AppKeys.

    [[apps]]
    app_id = "demo-minigame"     # the name callers use
    kind = "minigame"            # minigame | miniprogram | superapp
    offer_id = "1450000001"      # superapp: optional, needed for requestVirtualPayment
    # superapp only: sign_data_env = true (write "env":0 in game-item signData),
    # currencies = ["USD", "SGD"] (the host's; default any active ISO 4217 code)
    [apps.keys]
    production = { value = "..." }          # or { env = "VAR" } or { file = "path" }
    sandbox = [                             # several versions: newest signs
      { version = 2, file = "keys/sandbox-v2" },
      { version = 1, env = "DEMO_SANDBOX_V1" },
    ]

A key given as one table is version 1. Relative key file paths are relative to
the config file. Every problem is a ConfigError naming the file, the app and
the field; no message ever contains key material, nor a value that could be
a key typed into the wrong field.

A variable a key is read from is removed from the process environment (and
from /proc/PID/environ) once read; its value stays in this process's memory,
where the key is anyway, so a reload (and the forked workers) find it again.
Inline ``value`` keys are refused from a config file that group or others
can read, unless the file says ``demo = true`` (then the server listens on
loopback only).
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
from . import hardening
from .config_errors import ConfigError, exposure, read_secret_file, reject_unknown
from .keys import Env, KeyRing, KeyVersion, Secret
from .limits import Limits, parse_limits
from .push_config import PushConfig, parse_push
from .rules import ISO_4217

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
    # superapp only: write "env":0 in requestMidasPaymentGameItem signData (the seed page's shape)
    sign_data_env: bool = False
    # superapp only: the currencies the host accepts; None: any active ISO 4217 code
    currencies: tuple[str, ...] | None = None
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
    demo: bool = False  # `demo = true`: inline keys from a readable file, loopback only
    limits: Limits = dataclasses.field(default_factory=Limits)


_APP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_OFFER_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_APP_FIELDS = {"app_id", "kind", "offer_id", "keys", "sign_data_env", "currencies", "push"}
_KEY_SOURCES = ("value", "env", "file")
_TAKEN_FROM_ENVIRONMENT: dict[str, str] = {}


class _ProcessEnvironment(Mapping[str, str]):
    """The process environment as key sources read it: a variable read is
    erased from the environment and its value kept here."""

    def __getitem__(self, name: str) -> str:
        if name in os.environ:
            _TAKEN_FROM_ENVIRONMENT[name] = os.environ[name]
            hardening.erase_from_environment(name)
        return _TAKEN_FROM_ENVIRONMENT[name]

    def __contains__(self, name: object) -> bool:
        return name in os.environ or name in _TAKEN_FROM_ENVIRONMENT

    def __iter__(self):
        return iter(set(os.environ) | set(_TAKEN_FROM_ENVIRONMENT))

    def __len__(self) -> int:
        return len(set(os.environ) | set(_TAKEN_FROM_ENVIRONMENT))


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
    config = parse_config(data, source=str(path), base_dir=path.parent, environ=environ)
    inline = [(app, env) for app in config.apps.values() for env, ring in app.keys.items()
              if any(v.inline for v in ring.versions)]
    if inline and not config.demo:
        try:
            problem = exposure(os.stat(path))
        except OSError as e:
            raise ConfigError(f"{path}: cannot read config: {e.strerror}") from None
        if problem:
            app, env = inline[0]
            index = list(config.apps).index(app.app_id)
            raise ConfigError(f"{path}: apps[{index}] ({app.app_id}): keys.{env.config_name}: value: an inline key in a "
                              f"config file that {problem}; run: chmod 600 {path}, or give the key as "
                              f"{{ file = \"...\" }} or {{ env = \"...\" }} (a demo config may say demo = true)")
    return config


def parse_config(
    data: Mapping[str, Any],
    *,
    source: str,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
) -> Config:
    environ = _ProcessEnvironment() if environ is None else environ
    reject_unknown(data, {"apps", "auth", "tls", "callers", "audit", "limits", "demo"}, source)
    demo = data.get("demo", False)
    if not isinstance(demo, bool):
        raise ConfigError(f"{source}: demo: true or false")
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
    limits = parse_limits(data.get("limits"), f"{source}: limits")
    return Config(source=source, apps=apps, access=access, audit=audit, demo=demo, limits=limits)


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
    superapp = kind is AppKind.SUPERAPP
    if (offer_id is not None or not superapp) and (not isinstance(offer_id, str) or not _OFFER_ID.fullmatch(offer_id)):
        need = "optional for superapp (needed to sign requestVirtualPayment)" if superapp else f"required for {kind.value}"
        raise ConfigError(f"{where}: offer_id: {need}, a string of 1-64 characters A-Z a-z 0-9 _ -")
    sign_data_env = raw.get("sign_data_env", False)
    if not isinstance(sign_data_env, bool):
        raise ConfigError(f"{where}: sign_data_env: must be true or false")
    if sign_data_env and not superapp:
        raise ConfigError(f"{where}: sign_data_env: superapp only; {kind.value} signData always has env")
    currencies = _parse_currencies(raw.get("currencies"), where, kind)

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
    return App(app_id=app_id, kind=kind, offer_id=offer_id, keys=rings, sign_data_env=sign_data_env,
               currencies=currencies, push=push)


def _parse_currencies(raw: Any, where: str, kind: AppKind) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if kind is not AppKind.SUPERAPP:
        raise ConfigError(f"{where}: currencies: superapp only; {kind.value} apps pay in CNY only")
    if not isinstance(raw, list) or not raw or not all(isinstance(c, str) for c in raw):
        raise ConfigError(f"{where}: currencies: must be a non-empty array of ISO 4217 codes such as [\"USD\"]")
    for i, code in enumerate(raw):
        if code not in ISO_4217:
            raise ConfigError(f"{where}: currencies[{i}]: {code[:8]!r} is not an active ISO 4217 code")
        if code in raw[:i]:
            raise ConfigError(f"{where}: currencies[{i}]: {code} is listed twice")
    return tuple(raw)


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
            raise ConfigError(f"{where}: env: must name an environment variable (A-Z a-z 0-9 _, not starting with "
                              "a digit); the value is not shown: it may be a key typed into the wrong field")
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
    return KeyVersion(version=version, secret=Secret(key.encode("utf-8")), inline=source == "value")
