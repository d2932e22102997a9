"""Writes _fastsign_spec.h, the compiled path's copy of SignOrder's rules:
`python -m paysig.server.order_spec_gen OUT` (`make generate`; `make
checkgenerate` fails when the committed header differs).

Everything in the header comes from order_spec.py (the variants marked
``compiled``), rules.py (limits and character sets), audit.py (the audit
line's fields), metrics.py (env labels) and the proto descriptors (field
numbers and types). It refuses what _fastsign.c cannot do: a check, a field
type or a request field it has no code for, rather than emit a header that
would sign without it.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

from paysig.v1 import signer_pb2 as pb

from . import audit, metrics, order_spec, rules
from .keys import Env
from .ops.common import ENV_TO_PROTO
from .signdata import ENV, OFFER_ID, Const

HEADER = Path(__file__).with_name("_fastsign_spec.h")
ORDER = pb.Order.DESCRIPTOR
REQUEST = pb.SignOrderRequest.DESCRIPTOR
RESPONSE = pb.SignOrderResponse.DESCRIPTOR
# The SignOrderRequest fields _fastsign.c reads (besides `order`, read field by field from ORDER).
C_REQUEST_FIELDS = ("app_id", "env", "api", "mode", "session_key")
# response value (order_spec.RESPONSE_FIELDS) -> _fastsign.c's source
C_RESPONSE_SOURCES = {"sign_data": "OUT_SIGN_DATA", "pay_sig": "OUT_PAY_SIG", "signature": "OUT_SIGNATURE",
                      "method": "OUT_METHOD", "key_version": "OUT_KEY_VERSION", "env": "OUT_ENV",
                      "client_args": "OUT_CLIENT_ARGS"}
# audit.response_fields()' keys for SignOrder -> _fastsign.c's source
C_SIGNED_SOURCES = {"key_version": "AUDIT_KEY_VERSION", "key_env": "AUDIT_KEY_ENV",
                    "signature_fp": "AUDIT_SIGNATURE_FP"}


class SpecError(Exception):
    pass


def c_string(text: str) -> str:
    """A C string literal of the UTF-8 bytes of ``text``."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F and ch != "?":
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def c_text(text: str) -> str:
    """A C string literal and its length in bytes."""
    return f"{c_string(text)}, {len(text.encode('utf-8'))}"


def identifier(name: str) -> str:
    """``name``, which _fastsign.c writes in JSON without escaping."""
    if not re.fullmatch(r"[A-Za-z0-9_&]+", name):
        raise SpecError(f"{name!r}: _fastsign.c writes it unescaped")
    return name


def byte_table(name: str, size: int, member) -> list[str]:
    flags = ["1" if member(b) else "0" for b in range(size)]
    rows = [", ".join(flags[i:i + 32]) for i in range(0, size, 32)]
    return [f"static const unsigned char {name}[{size}] = {{", *[f"    {row}," for row in rows], "};"]


def field_type(field) -> str:
    if field.type == field.TYPE_STRING:
        return "SPEC_STR"
    if field.type in (field.TYPE_INT64, field.TYPE_INT32, field.TYPE_ENUM):
        return "SPEC_INT"
    raise SpecError(f"{field.full_name}: _fastsign.c reads strings and integers only")


def spec_field(field, has_presence: bool = False) -> str:
    """A SpecField row: name, type, presence, field number, and whether its
    varint is 32 bits (int32 and enum) rather than 64 (int64)."""
    if field.is_repeated:
        raise SpecError(f"{field.full_name}: _fastsign.c reads singular fields only")
    is32 = field.type in (field.TYPE_INT32, field.TYPE_ENUM)
    return f"{{{c_string(field.name)}, {field_type(field)}, {int(has_presence)}, {field.number}, {int(is32)}}}"


def enum_names(enum) -> str:
    names = {v.number: v.name for v in enum.values}
    if sorted(names) != list(range(len(names))):
        raise SpecError(f"{enum.full_name}: numbers are not 0..n-1")
    return "{" + ", ".join(c_string(identifier(names[i])) for i in range(len(names))) + "}"


def audit_fields() -> list[str]:
    """SPEC_AUDIT's rows: the keys audit.CallAudit.record() writes for a
    signed order after its head()'s, in order. A key from audit.request_fields() names a
    SignOrderRequest or Order field (strings clipped there, enums by name); one
    from audit.response_fields() must be one _fastsign.c knows."""
    request, response = pb.SignOrderRequest(), pb.SignOrderResponse()
    call = audit.CallAudit("SignOrder", "", "")
    head = call.head()
    keys = [k for k in call.record("SignOrder", request, response) if k not in head]
    from_request = audit.request_fields("SignOrder", request)
    from_response = audit.response_fields("SignOrder", response)
    rows = []
    for name in keys:
        prefix = "," + json.dumps(name) + ":"
        if name in from_request:
            in_request, in_order = name in REQUEST.fields_by_name, name in ORDER.fields_by_name
            if in_request == in_order:
                raise SpecError(f"audit field {name}: not exactly one SignOrderRequest or Order field")
            f = (ORDER if in_order else REQUEST).fields_by_name[name]
            if not in_order and name not in C_REQUEST_FIELDS:
                raise SpecError(f"audit field {name}: _fastsign.c does not read it")
            kind = ("AUDIT_STR" if f.type == f.TYPE_STRING else
                    "AUDIT_ENV" if f.type == f.TYPE_ENUM and f.enum_type is pb.Env.DESCRIPTOR else
                    "AUDIT_API" if f.type == f.TYPE_ENUM and f.enum_type is pb.PaymentApi.DESCRIPTOR else
                    "AUDIT_INT" if f.type == f.TYPE_INT64 else None)
            if kind is None:
                raise SpecError(f"audit field {name}: _fastsign.c has no code for its type")
            ref = f"{'ORDER' if in_order else 'REQ'}_{name.upper()}"
            rows.append(f"    {{{c_text(prefix)}, {kind}, {int(in_order)}, {ref}}},")
        elif name == "code":
            rows.append(f"    {{{c_text(prefix + json.dumps('OK'))}, AUDIT_CONST, 0, -1}},")
        elif name in from_response and name in C_SIGNED_SOURCES:
            rows.append(f"    {{{c_text(prefix)}, {C_SIGNED_SOURCES[name]}, 0, -1}},")
        else:
            raise SpecError(f"audit field {name}: _fastsign.c has no code for it")
    return rows


def fingerprint_bytes() -> int:
    """How many leading bytes of SHA-256(signature) audit.fingerprint writes, in hex."""
    sample = "0" * 64
    n = len(audit.fingerprint(sample)) // 2
    if audit.fingerprint(sample) != hashlib.sha256(sample.encode()).hexdigest()[:2 * n]:
        raise SpecError("audit.fingerprint is no longer a hex prefix of SHA-256: _fastsign.c has no code for it")
    return n


def generate() -> str:
    out = ["/* Generated by `make generate` (python -m paysig.server.order_spec_gen) from order_spec.py,",
           " * rules.py, audit.py, metrics.py and signer.proto: SignOrder's rules for _fastsign.c.",
           " * Do not edit; `make checkgenerate` fails when it is stale. */", "",
           "/* ---- limits and character sets (rules.py, audit.py) */",
           f"#define SPEC_MAX_SAFE_INTEGER {rules.MAX_SAFE_INTEGER}LL",
           f"#define SPEC_MAX_SESSION_KEY_CHARS {rules.MAX_SESSION_KEY_CHARS}",
           f"#define SPEC_MAX_OUT_TRADE_NO_CHARS {rules.MAX_OUT_TRADE_NO_CHARS}",
           f"#define SPEC_OUT_TRADE_NO_NOT_FIRST {ord(rules.OUT_TRADE_NO_NOT_FIRST)}",
           f"#define SPEC_MAX_AUDIT_CHARS {audit.MAX_FIELD_CHARS} /* longer values would be clipped in the line */",
           f"#define SPEC_FINGERPRINT_BYTES {fingerprint_bytes()} /* audit.fingerprint: hex of these SHA-256 bytes */",
           "/* ASCII bytes rules.OUT_TRADE_NO and rules.SESSION_KEY accept (they accept no other character) */"]
    for name, pattern in (("SPEC_OUT_TRADE_NO_CHAR", rules.OUT_TRADE_NO), ("SPEC_SESSION_KEY_CHAR", rules.SESSION_KEY)):
        if pattern.fullmatch("\x80") or pattern.fullmatch("\u00e9") or pattern.fullmatch("\u4e2d"):
            raise SpecError(f"rules.{name}: _fastsign.c assumes ASCII only")
        out += byte_table(name, 128, lambda b, p=pattern: p.fullmatch(chr(b)) is not None)
    if any(rules.has_control_chars(chr(c)) for c in range(0x100, 0x3000)):
        raise SpecError("rules.CONTROL_CHARS: _fastsign.c assumes control characters below U+0100")
    out.append("/* code points below U+0100 that rules.CONTROL_CHARS matches */")
    out += byte_table("SPEC_CONTROL_CHAR", 256, lambda c: rules.has_control_chars(chr(c)))

    out += ["", "/* ---- SignOrderRequest's fields _fastsign.c reads, and Order's (all of them) */"]
    if set(order_spec.REQUEST_FIELDS) != set(C_REQUEST_FIELDS) | {"order"}:
        raise SpecError(f"SignOrderRequest fields {sorted(set(order_spec.REQUEST_FIELDS) ^ set(C_REQUEST_FIELDS))}: "
                        "_fastsign.c has no code for them")
    out.append("enum { " + ", ".join(f"REQ_{n.upper()}" for n in C_REQUEST_FIELDS) + ", REQ_COUNT };")
    out.append("static const SpecField SPEC_REQUEST_FIELDS[REQ_COUNT] = {" + ", ".join(
        spec_field(REQUEST.fields_by_name[n]) for n in C_REQUEST_FIELDS) + "};")
    order_field = REQUEST.fields_by_name["order"]
    if order_field.message_type is not ORDER or order_field.is_repeated:
        raise SpecError("SignOrderRequest.order: _fastsign.c reads one Order message")
    out.append(f"#define SPEC_REQUEST_ORDER_NUMBER {order_field.number} /* SignOrderRequest.order */")
    requests = pb.BatchSignOrdersRequest.DESCRIPTOR.fields_by_name["requests"]
    if len(pb.BatchSignOrdersRequest.DESCRIPTOR.fields) != 1 or requests.message_type is not REQUEST:
        raise SpecError("BatchSignOrdersRequest: _fastsign.c reads its repeated requests only")
    out.append(f"#define SPEC_BATCH_REQUESTS_NUMBER {requests.number} /* BatchSignOrdersRequest.requests */")
    order_fields = list(order_spec.ORDER_FIELDS)
    out.append("enum { " + ", ".join(f"ORDER_{n.upper()}" for n in order_fields) + ", ORDER_COUNT };")
    out.append("static const SpecField SPEC_ORDER_FIELDS[ORDER_COUNT] = {")
    for n in order_fields:
        f = ORDER.fields_by_name[n]
        out.append(f"    {spec_field(f, f.has_presence)},")
    out.append("};")

    out += ["", "/* ---- envs, by paysig.v1.Env number: signData's env (-1: none), audit name, metrics label */"]
    n_envs = len(REQUEST.fields_by_name["env"].enum_type.values)
    signed = {ENV_TO_PROTO[env]: env for env in Env}
    out.append(f"#define SPEC_N_ENVS {n_envs}")
    out.append("static const int SPEC_ENV_SIGN_DATA[SPEC_N_ENVS] = {" + ", ".join(
        str(signed[i].value) if i in signed else "-1" for i in range(n_envs)) + "};")
    out.append(f"static const char *const SPEC_ENV_NAME[SPEC_N_ENVS] = "
               f"{enum_names(REQUEST.fields_by_name['env'].enum_type)};")
    labels = [metrics.ENV_LABELS.get(pb.Env.Name(i)) for i in range(n_envs)]
    out.append("static const char *const SPEC_ENV_LABEL[SPEC_N_ENVS] = {" + ", ".join(
        "NULL" if label is None else c_string(label) for label in labels) + "};")

    out += ["", "/* ---- the compiled variants (order_spec.VARIANTS with compiled=True) */"]
    compiled = [v for v in order_spec.VARIANTS if v.compiled]
    kinds = list(dict.fromkeys(v.kind for v in compiled))
    out.append("enum { " + ", ".join(f"KIND_{k.name}" for k in kinds) + ", KIND_COUNT };")
    out.append("static const char *const SPEC_KIND_NAMES[KIND_COUNT] = {" + ", ".join(
        c_string(k.value) for k in kinds) + "};")
    api_names = {v.number: v.name for v in pb.PaymentApi.DESCRIPTOR.values}
    for i, v in enumerate(compiled):
        if v.refused or v.sign_data_env is not None:
            raise SpecError(f"variant {v.name!r}: _fastsign.c has no code for refused or sign_data_env variants")
        rules_c = []
        for name, field in v.order.items():
            check, default = field.check, field.default
            ref = f"ORDER_{name.upper()}"
            values, limit, not_above = "NULL", 0, "-1"
            if isinstance(check, order_spec.Text):
                kind, limit = "CHECK_TEXT", check.max_bytes
            elif isinstance(check, order_spec.Positive):
                kind = "CHECK_POSITIVE"
                if check.not_above:
                    not_above = f"ORDER_{check.not_above.upper()}"
            elif isinstance(check, order_spec.OutTradeNo):
                kind, limit = "CHECK_OUT_TRADE_NO", check.min_length
            elif isinstance(check, order_spec.OneOf):
                kind, limit = "CHECK_ONE_OF", len(check.values)
                out.append(f"static const char *const SPEC_V{i}_{name.upper()}[] = {{"
                           + ", ".join(c_string(x) for x in check.values) + "};")
                values = f"SPEC_V{i}_{name.upper()}"
            elif isinstance(check, order_spec.Unset):
                kind = "CHECK_UNSET"
            else:
                raise SpecError(f"variant {v.name!r}: {name}: _fastsign.c has no code for {check!r}")
            if default is not None and ORDER.fields_by_name[name].type != ORDER.fields_by_name[name].TYPE_STRING:
                raise SpecError(f"variant {v.name!r}: {name}: defaults are strings")
            rules_c.append(f"    {{{ref}, {kind}, {int(field.required)}, {limit}, "
                           f"{'NULL, 0' if default is None else c_text(default)}, {values}, {not_above}}},")
        out.append(f"static const SpecRule SPEC_V{i}_RULES[] = {{")
        out += rules_c
        out.append("};")
        keys_c = []
        for key in v.sign_data:
            prefix = json.dumps(key.name, ensure_ascii=False) + ":"
            if isinstance(key.source, Const):
                keys_c.append(f"    {{{c_text(prefix + json.dumps(key.source.value, ensure_ascii=False))}, "
                              f"SRC_CONST, -1, 0}},")
            elif key.source == OFFER_ID:
                keys_c.append(f"    {{{c_text(prefix)}, SRC_OFFER_ID, -1, {int(key.omit_empty)}}},")
            elif key.source == ENV:
                keys_c.append(f"    {{{c_text(prefix)}, SRC_ENV, -1, {int(key.omit_empty)}}},")
            else:
                if ORDER.fields_by_name[key.source].has_presence and not key.omit_empty:
                    raise SpecError(f"variant {v.name!r}: signData {key.name}: an optional field needs omit_empty")
                keys_c.append(f"    {{{c_text(prefix)}, SRC_ORDER, ORDER_{key.source.upper()}, "
                              f"{int(key.omit_empty)}}},")
        out.append(f"static const SpecKey SPEC_V{i}_SIGN_DATA[] = {{")
        out += keys_c
        out.append("};")
    out.append(f"#define SPEC_N_VARIANTS {len(compiled)}")
    out.append("static const SpecVariant SPEC_VARIANTS[SPEC_N_VARIANTS] = {")
    for i, v in enumerate(compiled):
        method = order_spec.METHODS[v.api]
        mode = order_spec.MODE_NAMES.get(v.mode)
        out.append(f"    {{/* {v.name} */ KIND_{v.kind.name}, {v.api}, {v.mode}, {c_text(identifier(method))}, "
                   f"{c_text(method + '&')}, {c_text(identifier(api_names[v.api]))}, "
                   f"{'NULL, 0' if mode is None else c_text(identifier(mode))}, SPEC_V{i}_RULES, "
                   f"sizeof SPEC_V{i}_RULES / sizeof SPEC_V{i}_RULES[0], SPEC_V{i}_SIGN_DATA, "
                   f"sizeof SPEC_V{i}_SIGN_DATA / sizeof SPEC_V{i}_SIGN_DATA[0]}},")
    out.append("};")

    out += ["", "/* ---- SignOrderResponse, in field number order (order_spec.RESPONSE_FIELDS): tag, value */"]
    if set(order_spec.RESPONSE_FIELDS) != set(RESPONSE.fields_by_name):
        raise SpecError("order_spec.RESPONSE_FIELDS does not name every SignOrderResponse field")
    out.append("static const SpecOut SPEC_RESPONSE[] = {")
    for f in sorted(RESPONSE.fields, key=lambda f: f.number):
        wire = 2 if f.type == f.TYPE_STRING else 0 if f.type in (f.TYPE_UINT32, f.TYPE_ENUM) else None
        source = C_RESPONSE_SOURCES.get(order_spec.RESPONSE_FIELDS[f.name])
        if wire is None or source is None or f.number >= 16:
            raise SpecError(f"SignOrderResponse.{f.name}: _fastsign.c has no code for it")
        if (wire == 2) != (source not in ("OUT_KEY_VERSION", "OUT_ENV")):
            raise SpecError(f"SignOrderResponse.{f.name}: type does not fit {source}")
        out.append(f"    {{{f.number << 3 | wire:#04x}, {source}}}, /* {f.name} = {f.number} */")
    out.append("};")
    results = pb.BatchSignOrdersResponse.DESCRIPTOR.fields_by_name["results"]
    response = pb.SignOrderResult.DESCRIPTOR.fields_by_name["response"]
    out.append(f"#define SPEC_BATCH_RESULTS_TAG {results.number << 3 | 2:#04x} /* BatchSignOrdersResponse.results */")
    out.append(f"#define SPEC_RESULT_RESPONSE_TAG {response.number << 3 | 2:#04x} /* SignOrderResult.response */")
    out.append("/* client_args_json: these keys, then the mode for variants that have one */")
    out.append("static const SpecArg SPEC_CLIENT_ARGS[] = {" + ", ".join(
        f"{{{c_text(json.dumps(k) + ':')}, {C_RESPONSE_SOURCES[src]}}}" for k, src in order_spec.CLIENT_ARGS)
        + "};")
    out.append(f"#define SPEC_CLIENT_ARGS_MODE {c_string(json.dumps(order_spec.CLIENT_ARGS_MODE) + ':')}")

    out += ["", "/* ---- the audit line of a signed order after CallAudit.head(), as audit.CallAudit.record() writes it */",
            "static const SpecAudit SPEC_AUDIT[] = {"]
    for line in audit_fields():
        out.append(line)
    out.append("};")
    body = "\n".join(out) + "\n"
    return body + f'#define SPEC_DIGEST "{hashlib.sha256(body.encode()).hexdigest()}" /* of the text above */\n'


def main(argv: list[str]) -> int:
    target = Path(argv[1]) if len(argv) > 1 else HEADER
    try:
        text = generate()
    except SpecError as e:
        print(f"order_spec_gen: {e}", file=sys.stderr)
        return 1
    target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
