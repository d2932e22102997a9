"""The known ways a team's signature goes wrong, as a fixed set of variants.

A variant is a message (the bytes a team may have signed instead of the right
ones) labelled with the mistakes that produce it. Each variant makes exactly
one mistake in the method, the separator or the payload; DiagnoseSignature
tries every variant with every key of the app, so a key mistake combines with
any one message mistake. The set is fixed and small: at most
``MAX_VARIANTS`` messages per call.

Pure: no keys, no gRPC.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from typing import Any

from paysig.v1 import signer_pb2 as pb

from . import order_spec
from .config import AppKind
from .order_spec import CLIENT_METHODS

WECHAT_API_ORIGIN = "https://api.weixin.qq.com"
MAX_VARIANTS = 32

# Stable finding codes.
UPPERCASE_HEX = "UPPERCASE_HEX"
BASE64_SIGNATURE = "BASE64_SIGNATURE"
WRONG_ENV_KEY = "WRONG_ENV_KEY"
RETIRED_KEY_VERSION = "RETIRED_KEY_VERSION"
KEYS_SWAPPED = "KEYS_SWAPPED"
URI_MISSING_SLASH = "URI_MISSING_SLASH"
URI_WITH_QUERY = "URI_WITH_QUERY"
URI_WITH_HOST = "URI_WITH_HOST"
HTML_ESCAPED_AMPERSAND = "HTML_ESCAPED_AMPERSAND"
WRONG_METHOD = "WRONG_METHOD"
METHOD_IN_USER_SIGNATURE = "METHOD_IN_USER_SIGNATURE"
RESERIALIZED_PAYLOAD = "RESERIALIZED_PAYLOAD"
PAYLOAD_RULE = "PAYLOAD_RULE"
ENV_NOT_IN_PAYLOAD = "ENV_NOT_IN_PAYLOAD"
USER_SIGNATURE_REQUIRED = "USER_SIGNATURE_REQUIRED"
OTHER_SIGNATURE_REJECTED = "OTHER_SIGNATURE_REJECTED"
KEY_NOT_CONFIGURED = "KEY_NOT_CONFIGURED"


@dataclasses.dataclass(frozen=True)
class Mistake:
    """One finding a variant reproduces."""

    code: str
    message: str
    expected_method: str = ""
    expected_payload: str = ""


@dataclasses.dataclass(frozen=True)
class Variant:
    message: str
    mistakes: tuple[Mistake, ...]


# ---- the signature as given ------------------------------------------------------------------------------------

_HEX = re.compile(r"[0-9A-Fa-f]{64}")
_BASE64 = re.compile(r"[A-Za-z0-9+/\-_]{43}=?")


@dataclasses.dataclass(frozen=True)
class GivenSignature:
    """The 32-byte HMAC a signature stands for, as lowercase hex, and how it
    was written when that was wrong."""

    hex: str
    mistake: Mistake | None


def parse_signature(text: str) -> GivenSignature | None:
    """None when ``text`` is neither 64 hex characters nor the base64 of 32 bytes."""
    if _HEX.fullmatch(text):
        lower = text.lower()
        if lower == text:
            return GivenSignature(lower, None)
        return GivenSignature(lower, Mistake(
            UPPERCASE_HEX, "the signature is written in uppercase hex; WeChat accepts lowercase hex only "
            "(expected_signature: the same signature in lowercase)"))
    if _BASE64.fullmatch(text):
        padded = text.replace("-", "+").replace("_", "/").rstrip("=") + "="
        try:
            raw = base64.b64decode(padded, validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(raw) == 32:
            return GivenSignature(raw.hex(), Mistake(
                BASE64_SIGNATURE, "the signature is base64; WeChat wants the lowercase hex of the HMAC"))
    return None


# ---- methods -----------------------------------------------------------------------------------------------------

def client_method(raw: str) -> str | None:
    """The client method ``raw`` names, however decorated ("wx.", "/xpay/", "/", case)."""
    name = raw.strip()
    for prefix in (WECHAT_API_ORIGIN, "wx.", "/"):
        name = name.removeprefix(prefix)
    name = name.removeprefix("xpay/").removeprefix("/")
    for method in CLIENT_METHODS:
        if name.lower() == method.lower():
            return method
    return None


def uri_path(raw: str) -> str:
    """The URI path a team's URI stands for: no scheme, host, query or fragment; a leading "/"."""
    path = raw.strip()
    if "://" in path:
        rest = path.split("://", 1)[1]
        path = rest[rest.find("/"):] if "/" in rest else "/"
    path = path.split("#", 1)[0].split("?", 1)[0]
    return path if path.startswith("/") else "/" + path


def uri_mistakes(raw: str, path: str) -> tuple[Mistake, ...]:
    """What is wrong with ``raw`` as the signed URI, whose right form is ``path``."""
    found = []
    if "://" in raw:
        found.append(Mistake(URI_WITH_HOST, f"the URI was signed with its scheme and host; sign the path {path} only",
                             expected_method=path))
    elif not raw.startswith("/"):
        found.append(Mistake(URI_MISSING_SLASH, f"the URI was signed without its leading '/'; sign {path}",
                             expected_method=path))
    if "?" in raw:
        found.append(Mistake(URI_WITH_QUERY, f"the URI was signed with its query string; sign the path {path} only "
                             "(pay_sig and signature go in the query string, they are not signed)",
                             expected_method=path))
    return tuple(found)


def wrong_method(used: str, right: str, why: str = "") -> Mistake:
    return Mistake(WRONG_METHOD, f"the method signed was {used!r}; {why or 'it must be'} {right!r}",
                   expected_method=right)


def pay_sig_methods(raw: str, right: str, is_client: bool) -> list[tuple[str, tuple[Mistake, ...]]]:
    """The methods tried for a paySig: the right one first, then the mistaken ones."""
    methods: list[tuple[str, tuple[Mistake, ...]]] = [(right, ())]
    if is_client:
        if raw != right:
            methods.append((raw, (wrong_method(raw, right, "this app's client call is"),)))
        other = next(m for m in CLIENT_METHODS if m != right)
        methods += [(other, (wrong_method(other, right, "this app's client call is"),)),
                    ("/xpay/" + right, (wrong_method("/xpay/" + right, right, "a client call is signed with its name,"),)),
                    ("wx." + right, (wrong_method("wx." + right, right, "sign the method name without 'wx.':"),))]
    else:
        if raw != right:
            methods.append((raw, uri_mistakes(raw, right)))
        methods += [(right[1:], uri_mistakes(right[1:], right)),
                    (WECHAT_API_ORIGIN + right, uri_mistakes(WECHAT_API_ORIGIN + right, right))]
    return methods


# ---- payloads ------------------------------------------------------------------------------------------------------

def _documented_order() -> dict[str, tuple[str, ...]]:
    """WeChat's documented signData field orders: the keys of order_spec's
    WeChat variants (the virtual payment's goods mode has every key)."""
    def keys(kind: AppKind, api: int, mode: int) -> tuple[str, ...]:
        return tuple(key.name for key in order_spec.find(kind, api, mode, False).sign_data)

    return {CLIENT_METHODS[0]: keys(AppKind.MINIGAME, pb.PAYMENT_API_GAME_ITEM, order_spec.UNSPECIFIED),
            CLIENT_METHODS[1]: keys(AppKind.MINIPROGRAM, pb.PAYMENT_API_VIRTUAL_PAYMENT, order_spec.GOODS)}


DOCUMENTED_ORDER = _documented_order()
_GO_HTML = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _dumps(obj: Any, *, ascii_: bool = False, spaced: bool = False, indent: int | None = None,
           sort: bool = False) -> str:
    separators = (",", ": ") if indent else ((", ", ": ") if spaced else (",", ":"))
    return json.dumps(obj, ensure_ascii=ascii_, separators=separators, indent=indent, sort_keys=sort)


def reserializations(payload: str, obj: dict[str, Any] | None, method: str) -> list[tuple[str, str]]:
    """(text, how it differs) for each other serialisation of the payload's
    JSON object, or of its line ending, that a library may have signed."""
    found: list[tuple[str, str]] = []
    if payload.endswith("\n"):
        found.append((payload.rstrip("\r\n"), "the payload without its trailing newline"))
    else:
        found.append((payload + "\n", "the payload with a trailing newline (Go's json.Encoder adds one)"))
    if obj is None:
        return found
    try:
        compact = _dumps(obj)
        found += [
            (compact, "compact JSON (no spaces)"),
            (_dumps(obj, spaced=True), "JSON with spaces after ',' and ':'"),
            (_dumps(obj, spaced=True, ascii_=True), "Python's json.dumps defaults: spaces after separators and "
                                                    "non-ASCII escaped as \\uXXXX"),
            (_dumps(obj, ascii_=True), "non-ASCII escaped as \\uXXXX"),
            (compact.replace("/", "\\/"), "'/' escaped as '\\/'"),
            (_dumps(obj, ascii_=True).replace("/", "\\/"), "PHP's json_encode defaults: '/' escaped as '\\/' and "
                                                          "non-ASCII as \\uXXXX"),
            (compact.translate(_GO_HTML), "Go's json.Marshal: <, > and & escaped as \\u003c, \\u003e, \\u0026"),
            (compact.translate(_GO_HTML) + "\n", "Go's json.Encoder: HTML escapes and a trailing newline"),
            (_dumps(obj, sort=True), "the fields in another order (sorted keys, as Go maps and many libraries "
                                     "write them)"),
            (_dumps(obj, indent=2), "indented JSON (2 spaces)"),
            (_dumps(obj, indent=4), "indented JSON (4 spaces)"),
        ]
        order = DOCUMENTED_ORDER.get(method)
        if order:
            ordered = {k: obj[k] for k in order if k in obj} | {k: v for k, v in obj.items() if k not in order}
            found.append((_dumps(ordered), "the fields in WeChat's documented order"))
    except (ValueError, RecursionError):
        pass
    return found


def _is_text(text: str) -> bool:
    """False for a string with a lone surrogate (a parsed "\\ud800" written
    raw): no library could have sent or signed it as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def payload_variants(payload: str, obj: dict[str, Any] | None, method: str) -> list[tuple[str, Mistake]]:
    out = []
    for text, how in reserializations(payload, obj, method):
        if not _is_text(text):
            continue
        out.append((text, Mistake(
            RESERIALIZED_PAYLOAD,
            f"the signature is over another serialisation of the same JSON ({how}): the bytes sent are not the "
            "bytes signed. Send expected_payload exactly, or sign the bytes you send",
            expected_payload=text)))
    return out


def dedupe(variants: list[Variant], right: str) -> list[Variant]:
    """Drops variants whose message is the right one or repeats an earlier one; keeps at most MAX_VARIANTS."""
    seen = {right}
    out = []
    for variant in variants:
        if variant.message in seen:
            continue
        seen.add(variant.message)
        out.append(variant)
    return out[:MAX_VARIANTS]


def message_variants(method: str | None, payload: str, methods: list[tuple[str, tuple[Mistake, ...]]],
                     payloads: list[tuple[str, Mistake]]) -> tuple[str, list[Variant]]:
    """(the right message, the mistaken ones) of a signature over
    METHOD + "&" + payload (``method`` given) or over payload alone."""
    if method is None:
        right = payload
        return right, dedupe([Variant(text, (mistake,)) for text, mistake in payloads], right)
    right = f"{method}&{payload}"
    variants = [Variant(f"{m}&{payload}", mistakes) for m, mistakes in methods[1:]]
    variants.append(Variant(f"{method}&amp;{payload}", (Mistake(
        HTML_ESCAPED_AMPERSAND, "the separator was written '&amp;' (an HTML-escaped copy of the docs); "
        "it is a literal '&'"),)))
    variants += [Variant(f"{method}&{text}", (mistake,)) for text, mistake in payloads]
    return right, dedupe(variants, right)
