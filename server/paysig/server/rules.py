"""Field rules shared by the operations. Each check adds violations, never raises.

Limits the WeChat docs leave open, chosen here and documented in the proto:
attach at most 1024 bytes, product_id 256 bytes, zone_id 64 bytes, API body
and verified payloads 64 KiB (JSON nested at most 64 deep, numbers at most 64
characters), session_key and uri 256 characters.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import Rule, Violations
from .keys import Env

MAX_SAFE_INTEGER = 2**53 - 1  # signData is parsed by JavaScript on the client
MAX_ATTACH_BYTES = 1024
MAX_PRODUCT_ID_BYTES = 256
MAX_ZONE_ID_BYTES = 64
MAX_OUT_TRADE_NO_CHARS = 32
MAX_JSON_BYTES = 64 * 1024
MAX_SESSION_KEY_CHARS = 256
MAX_URI_CHARS = 256
MAX_JSON_DEPTH = 64  # nested arrays and objects
MAX_JSON_NUMBER_CHARS = 64

OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*@]+")
OUT_TRADE_NO_NOT_FIRST = "_"
OUT_TRADE_NO_RULE = (f"must be {{lo}}-{MAX_OUT_TRADE_NO_CHARS} characters of 0-9 A-Z a-z _ - | * @ "
                     f"and not start with '{OUT_TRADE_NO_NOT_FIRST}'")
SESSION_KEY = re.compile(r"[\x21-\x7e]+")
SIGNATURE_HEX = re.compile(r"[0-9a-f]{64}")
URI_PATH = re.compile(r"/[\x21-\x7e]*")
EVENT_NAME = re.compile(r"[A-Za-z0-9_]{1,128}")

# Active ISO 4217 currencies, without fund, precious-metal and test codes.
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL
    BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD
    EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS
    INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD
    LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK
    NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK
    SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """.split()
)


CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc, exactly


def has_control_chars(value: str) -> bool:
    return CONTROL_CHARS.search(value) is not None


def check_text(v: Violations, field: str, value: str, *, max_bytes: int, required: bool) -> bool:
    """Checks a free-text field; returns whether it is present and valid."""
    if not value:
        if required:
            v.add(field, Rule.REQUIRED, "required")
        return False
    if len(value.encode("utf-8")) > max_bytes:
        v.add(field, Rule.TOO_LONG, f"must be at most {max_bytes} bytes of UTF-8")
        return False
    if has_control_chars(value):
        v.add(field, Rule.FORMAT, "must not contain control characters")
        return False
    return True


def check_unset(v: Violations, field: str, is_set: bool, why: str) -> None:
    if is_set:
        v.add(field, Rule.NOT_ALLOWED, f"must be unset: {why}")


def check_positive(v: Violations, field: str, value: int, *, required: bool = True) -> None:
    if value == 0 and required:
        v.add(field, Rule.REQUIRED, "required, a positive whole number")
    elif not 1 <= value <= MAX_SAFE_INTEGER:
        v.add(field, Rule.OUT_OF_RANGE, f"must be from 1 to {MAX_SAFE_INTEGER}")


def check_enum(v: Violations, field: str, value: int, names: str) -> None:
    """A proto enum outside the values the rule accepts: unset is REQUIRED, an
    unknown number FORMAT."""
    if value == 0:
        v.add(field, Rule.REQUIRED, f"required: {names}")
    else:
        v.add(field, Rule.FORMAT, f"must be {names}: the number given names no value")


def check_out_trade_no(v: Violations, field: str, value: str, *, min_length: int) -> None:
    rule = OUT_TRADE_NO_RULE.format(lo=min_length)
    if not value:
        v.add(field, Rule.REQUIRED, f"required; {rule}")
    elif (not min_length <= len(value) <= MAX_OUT_TRADE_NO_CHARS or not OUT_TRADE_NO.fullmatch(value)
          or value[0] == OUT_TRADE_NO_NOT_FIRST):
        v.add(field, Rule.FORMAT, rule)


def check_session_key(v: Violations, field: str, value: str, *, required: bool) -> bool:
    if not value:
        if required:
            v.add(field, Rule.REQUIRED, "required: the user's session_key from code2session")
        return False
    if len(value) > MAX_SESSION_KEY_CHARS:
        v.add(field, Rule.TOO_LONG, f"must be at most {MAX_SESSION_KEY_CHARS} characters")
        return False
    if not SESSION_KEY.fullmatch(value):
        v.add(field, Rule.FORMAT, f"must be 1-{MAX_SESSION_KEY_CHARS} printable ASCII characters without spaces")
        return False
    return True


def check_signature_hex(v: Violations, field: str, value: str) -> bool:
    if not value:
        v.add(field, Rule.REQUIRED, "required: 64 lowercase hex characters")
        return False
    if not SIGNATURE_HEX.fullmatch(value):
        v.add(field, Rule.FORMAT, "must be 64 lowercase hex characters (HMAC-SHA256)")
        return False
    return True


def check_uri(v: Violations, field: str, value: str) -> bool:
    """A server API's URI path: leading '/', no host, query or fragment."""
    if not value:
        v.add(field, Rule.REQUIRED, "required: the API path, e.g. /xpay/query_user_balance")
    elif len(value) > MAX_URI_CHARS:
        v.add(field, Rule.TOO_LONG, f"must be at most {MAX_URI_CHARS} characters")
    elif not URI_PATH.fullmatch(value):
        v.add(field, Rule.FORMAT, f"must be a path starting with '/' of at most {MAX_URI_CHARS} printable ASCII characters")
    elif value.startswith("//") or "://" in value:
        v.add(field, Rule.FORMAT, "must be the path only, without scheme or host")
    elif "?" in value or "#" in value:
        v.add(field, Rule.FORMAT, "must not contain a query string or fragment: sign the path only")
    else:
        return True
    return False


class _DuplicateKey(ValueError):
    pass


class _LongNumber(ValueError):
    pass


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateKey
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _bounded(convert):
    def parse(text: str) -> Any:
        if len(text) > MAX_JSON_NUMBER_CHARS:
            raise _LongNumber
        return convert(text)
    return parse


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_NESTING = re.compile(r"[\[\]{}]")
_PARSE_INT, _PARSE_FLOAT = _bounded(int), _bounded(float)


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text nests arrays and objects deeper than ``limit``
    (strings skipped); cheap when it holds fewer brackets than the limit."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for bracket in _JSON_NESTING.finditer(_JSON_STRING.sub("", text)):
        depth += 1 if bracket.group() in "[{" else -1
        if depth > limit:
            return True
    return False


def parse_json_object(v: Violations, field: str, text: str) -> dict[str, Any] | None:
    """Parses a JSON object strictly (no duplicated keys, no NaN) within the
    size, depth and number-length limits."""
    if not text:
        v.add(field, Rule.REQUIRED, "required: a JSON object")
        return None
    if len(text.encode("utf-8")) > MAX_JSON_BYTES:
        v.add(field, Rule.TOO_LONG, f"must be at most {MAX_JSON_BYTES} bytes")
        return None
    if json_depth_exceeds(text):
        v.add(field, Rule.TOO_LONG, f"must nest arrays and objects at most {MAX_JSON_DEPTH} deep")
        return None
    try:
        value = json.loads(text, object_pairs_hook=_unique_object, parse_constant=_reject_constant,
                           parse_int=_PARSE_INT, parse_float=_PARSE_FLOAT)
    except _DuplicateKey:
        v.add(field, Rule.FORMAT, "must not repeat a key in any JSON object")
        return None
    except _LongNumber:
        v.add(field, Rule.TOO_LONG, f"must hold JSON numbers of at most {MAX_JSON_NUMBER_CHARS} characters")
        return None
    except (ValueError, RecursionError):
        v.add(field, Rule.FORMAT, "must be valid JSON")
        return None
    if not isinstance(value, dict):
        v.add(field, Rule.FORMAT, "must be a JSON object")
        return None
    return value


def payload_env(v: Violations, field: str, obj: dict[str, Any] | None, key: str, *,
                string_form: bool = False) -> Env | None:
    """The env a JSON payload names in ``key`` ("env" or "Env"), if any;
    ``string_form`` also accepts "0" and "1" as JSON strings (super-app pushes)."""
    if obj is None or key not in obj:
        return None
    value = obj[key]
    if type(value) is int and value in (0, 1):
        return Env(value)
    if string_form and value in ("0", "1"):
        return Env(int(value))
    if string_form:
        v.add(f"{field}.{key}", Rule.FORMAT, 'must be "0" (live) or "1", as the super-app sends it, or the number 0 or 1')
    else:
        v.add(f"{field}.{key}", Rule.FORMAT, "must be the JSON number 0 (production) or 1 (sandbox)")
    return None
