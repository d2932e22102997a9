"""Who may call: the [auth], [tls] and [[callers]] config sections,
authentication (bearer token or client certificate) and authorization (apps
and RPCs per caller).

    [auth]
    mode = "token"          # none | token | mtls
    [tls]                   # optional with none/token, required with mtls
    cert_file = "server.pem"
    key_file = "server.key" # must not be readable by group or others
    client_ca_file = "ca.pem"
    [[callers]]
    name = "game-a"
    token_sha256 = "<hex>"  # mode token: SHA-256 of the token, never the token
    # cert_common_name = "game-a" / cert_san = "game-a.internal"   (mode mtls: subject CN / a DNS SAN)
    apps = ["demo-minigame"]
    rpcs = ["SignOrder", "VerifySignature"]   # optional, default all
    rate_per_second = 200   # optional token bucket; burst defaults to it
    burst = 400
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from paysig.v1 import signer_pb2

from .address import parse_address
from .config_errors import ConfigError, read_secret_file, reject_unknown
from .errors import Code, PaysigError
from .keys import Secret

RPC_NAMES = frozenset(signer_pb2.DESCRIPTOR.services_by_name["SignerService"].methods_by_name)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_DNS_NAME = re.compile(r"(?:\*\.)?[A-Za-z0-9_](?:[A-Za-z0-9_\-.]{0,251}[A-Za-z0-9_])?")
CALLER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")  # the config and `paysig token` check names with it
CALLER_NAME_RULE = "1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit"


class CallContext(Protocol):
    """What authentication reads from a call (grpc.ServicerContext has it)."""

    def invocation_metadata(self) -> Sequence[tuple[str, Any]]: ...

    def auth_context(self) -> Mapping[str, Sequence[bytes]]: ...


class AuthMode(enum.Enum):
    NONE = "none"
    TOKEN = "token"
    MTLS = "mtls"


@dataclasses.dataclass(frozen=True)
class RateLimit:
    per_second: float
    burst: float


@dataclasses.dataclass(frozen=True)
class Caller:
    name: str
    apps: frozenset[str] | None  # None: every app (mode none only)
    rpcs: frozenset[str]
    token_sha256: bytes | None = dataclasses.field(default=None, repr=False)
    cert_common_name: str | None = None
    cert_san: str | None = None
    rate: RateLimit | None = None


ANONYMOUS = Caller(name="anonymous", apps=None, rpcs=RPC_NAMES)


@dataclasses.dataclass(frozen=True)
class TlsSettings:
    cert_chain: bytes
    private_key: Secret
    client_ca: bytes | None


@dataclasses.dataclass(frozen=True)
class AccessPolicy:
    mode: AuthMode
    callers: tuple[Caller, ...]
    tls: TlsSettings | None

    def authenticate(self, context: "CallContext") -> Caller:
        """The caller a request comes from, or PaysigError(UNAUTHENTICATED).
        Reads only what the mode needs from the call."""
        if self.mode is AuthMode.NONE:
            return ANONYMOUS
        if self.mode is AuthMode.MTLS:
            return self._by_certificate(context.auth_context())
        return self._by_token(context.invocation_metadata())

    def _by_token(self, metadata: Sequence[tuple[str, Any]]) -> Caller:
        values = [v for k, v in metadata if k == "authorization"]
        if not values:
            raise _unauthenticated("MISSING_CREDENTIALS", "authorization: a Bearer token is required")
        scheme, _, token = str(values[0]).partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthenticated("MISSING_CREDENTIALS", "authorization: must be 'Bearer <token>'")
        digest = hashlib.sha256(token.strip().encode("utf-8")).digest()
        found = None
        for caller in self.callers:  # every caller is compared, in constant time
            if caller.token_sha256 is not None and hmac.compare_digest(caller.token_sha256, digest):
                found = caller
        if found is None:
            raise _unauthenticated("INVALID_TOKEN", "authorization: the token is not valid")
        return found

    def _by_certificate(self, auth_context: Mapping[str, Sequence[bytes]]) -> Caller:
        """The one caller whose cert_common_name is the certificate's subject
        CN or whose cert_san is one of its DNS SANs (case-insensitive; email,
        URI and IP SANs are not matched). A certificate naming two callers is
        refused: parse_access refuses configs where one name serves two
        callers, but a certificate can carry the CN of one and a SAN of another."""
        common_names = {v.decode("utf-8", "replace") for v in auth_context.get("x509_common_name", ())}
        dns_names = {v.decode("utf-8", "replace").lower() for v in auth_context.get("peer_dns", ())}
        if not common_names and not auth_context.get("x509_subject_alternative_name"):
            raise _unauthenticated("MISSING_CREDENTIALS", "a client certificate is required")
        found = [c for c in self.callers if c.cert_common_name in common_names
                 or (c.cert_san is not None and c.cert_san.lower() in dns_names)]
        if not found:
            raise _unauthenticated("UNKNOWN_CLIENT_CERTIFICATE", "the client certificate names no configured caller")
        if len(found) > 1:
            raise _unauthenticated("AMBIGUOUS_CLIENT_CERTIFICATE",
                                   f"the client certificate names several callers ({', '.join(c.name for c in found)}) "
                                   "by its common name and DNS SANs; issue each caller a certificate naming only it")
        return found[0]

    @staticmethod
    def authorize_rpc(caller: Caller, rpc: str) -> None:
        """PaysigError(PERMISSION_DENIED) unless caller may call rpc."""
        if rpc not in caller.rpcs:
            raise PaysigError(Code.PERMISSION_DENIED, "RPC_NOT_ALLOWED",
                              f"caller {caller.name!r} may not call {rpc}")

    @staticmethod
    def authorize_app(caller: Caller, app_id: str) -> None:
        """PaysigError(PERMISSION_DENIED) unless caller may use app_id."""
        if caller.apps is not None and app_id not in caller.apps:
            raise PaysigError(Code.PERMISSION_DENIED, "APP_NOT_ALLOWED",
                              f"app_id: caller {caller.name!r} may not use this app")


def _unauthenticated(reason: str, message: str) -> PaysigError:
    return PaysigError(Code.UNAUTHENTICATED, reason, message)


def is_loopback(address: str) -> bool:
    """Whether HOST:PORT listens on loopback only (AddressError if it is not HOST:PORT)."""
    return parse_address(address).is_loopback


def parse_access(data: Mapping[str, Any], source: str, base_dir: Path, app_ids: set[str]) -> AccessPolicy:
    auth = data.get("auth", {})
    if not isinstance(auth, dict):
        raise ConfigError(f"{source}: auth: must be a table")
    reject_unknown(auth, {"mode"}, f"{source}: auth")
    try:
        mode = AuthMode(auth.get("mode", "none"))
    except ValueError:
        raise ConfigError(f"{source}: auth.mode: must be one of none, token, mtls") from None

    tls = _parse_tls(data.get("tls"), f"{source}: tls", base_dir)
    if mode is AuthMode.MTLS and (tls is None or tls.client_ca is None):
        raise ConfigError(f"{source}: tls.client_ca_file: required with auth.mode = \"mtls\"")

    raw_callers = data.get("callers", [])
    if not isinstance(raw_callers, list):
        raise ConfigError(f"{source}: callers: must be an array of [[callers]] tables")
    if mode is AuthMode.NONE and raw_callers:
        raise ConfigError(f"{source}: callers: only used with auth.mode = \"token\" or \"mtls\"")
    if mode is not AuthMode.NONE and not raw_callers:
        raise ConfigError(f"{source}: callers: at least one [[callers]] table is required with auth.mode = "
                          f"\"{mode.value}\"")
    callers = tuple(_parse_caller(raw, f"{source}: callers[{i}]", mode, app_ids) for i, raw in enumerate(raw_callers))
    names = [c.name for c in callers]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"{source}: callers[{i}] ({name}): name: duplicated")
    owners: dict[str, str] = {}
    for i, caller in enumerate(callers):
        for name in {n.lower() for n in (caller.cert_common_name, caller.cert_san) if n}:
            if owners.setdefault(name, caller.name) != caller.name:
                raise ConfigError(f"{source}: callers[{i}] ({caller.name}): cert_common_name, cert_san: "
                                  f"{name!r} also names caller {owners[name]!r}; one certificate could be "
                                  "either caller, so each name may select one caller only")
    hashes = [c.token_sha256 for c in callers if c.token_sha256]
    if len(set(hashes)) != len(hashes):
        raise ConfigError(f"{source}: callers: two callers share a token_sha256")
    return AccessPolicy(mode=mode, callers=callers, tls=tls)


def _parse_tls(raw: Any, where: str, base_dir: Path) -> TlsSettings | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    reject_unknown(raw, {"cert_file", "key_file", "client_ca_file"}, where)
    for field in ("cert_file", "key_file"):
        if not isinstance(raw.get(field), str) or not raw[field]:
            raise ConfigError(f"{where}: {field}: required, a file path")
    cert = _read_public(base_dir / raw["cert_file"], f"{where}: cert_file")
    key = read_secret_file(base_dir / raw["key_file"], f"{where}: key_file")
    ca = None
    if "client_ca_file" in raw:
        ca = _read_public(base_dir / str(raw["client_ca_file"]), f"{where}: client_ca_file")
    return TlsSettings(cert_chain=cert, private_key=Secret(key), client_ca=ca)


def _read_public(path: Path, where: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{where}: cannot read {path}: {e.strerror}") from None


def _parse_caller(raw: Any, where: str, mode: AuthMode, app_ids: set[str]) -> Caller:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    name = raw.get("name")
    if not isinstance(name, str) or not CALLER_NAME.fullmatch(name):
        raise ConfigError(f"{where}: name: required, {CALLER_NAME_RULE}")
    where = f"{where} ({name})"
    reject_unknown(raw, {"name", "token_sha256", "cert_common_name", "cert_san", "apps", "rpcs",
                         "rate_per_second", "burst"}, where)

    token_sha256 = None
    if mode is AuthMode.TOKEN:
        value = raw.get("token_sha256")
        if not isinstance(value, str) or not _SHA256_HEX.fullmatch(value):
            raise ConfigError(f"{where}: token_sha256: required, 64 lowercase hex characters "
                              "(`paysig token` prints it)")
        token_sha256 = bytes.fromhex(value)
    elif "token_sha256" in raw:
        raise ConfigError(f"{where}: token_sha256: only used with auth.mode = \"token\"")
    cn, san = raw.get("cert_common_name"), raw.get("cert_san")
    if mode is AuthMode.MTLS:
        if not (isinstance(cn, str) and cn) and not (isinstance(san, str) and san):
            raise ConfigError(f"{where}: cert_common_name or cert_san: one is required with auth.mode = \"mtls\"")
        if cn is not None and not (isinstance(cn, str) and cn):
            raise ConfigError(f"{where}: cert_common_name: a non-empty string")
        if san is not None and not (isinstance(san, str) and _DNS_NAME.fullmatch(san)):
            raise ConfigError(f"{where}: cert_san: a DNS name, matched against the certificate's DNS SANs "
                              "(email, URI and IP SANs are not matched)")
    elif cn is not None or san is not None:
        raise ConfigError(f"{where}: cert_common_name, cert_san: only used with auth.mode = \"mtls\"")

    apps = raw.get("apps")
    if not isinstance(apps, list) or not apps or not all(isinstance(a, str) for a in apps):
        raise ConfigError(f"{where}: apps: required, a non-empty array of app_id strings")
    unknown = sorted(set(apps) - app_ids)
    if unknown:
        raise ConfigError(f"{where}: apps: {unknown[0]!r} is not a configured app_id")
    rpcs = raw.get("rpcs", sorted(RPC_NAMES))
    if not isinstance(rpcs, list) or not rpcs or not set(rpcs) <= RPC_NAMES:
        raise ConfigError(f"{where}: rpcs: a non-empty array of {', '.join(sorted(RPC_NAMES))}")

    rate = None
    if "rate_per_second" in raw:
        per_second = raw["rate_per_second"]
        burst = raw.get("burst", per_second)
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in (per_second, burst)):
            raise ConfigError(f"{where}: rate_per_second, burst: positive numbers")
        rate = RateLimit(float(per_second), float(burst))
    elif "burst" in raw:
        raise ConfigError(f"{where}: burst: needs rate_per_second")
    return Caller(name=name, apps=frozenset(apps), rpcs=frozenset(rpcs), token_sha256=token_sha256,
                  cert_common_name=cn, cert_san=san, rate=rate)
