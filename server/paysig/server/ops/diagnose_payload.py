"""PAYLOAD_RULE findings of DiagnoseSignature: the rules a team's signData or
API body breaks, checked with the rules SignOrder and SignApiCall enforce
(ops/sign_order.build_sign_data, rules.py) after the JSON types are checked
here (SignOrder gets typed fields, a team's signData may have "env":"1")."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from paysig.v1 import signer_pb2 as pb

from .. import order_spec, rules
from ..config import App, AppKind
from ..diagnosis import CLIENT_METHODS
from ..errors import PaysigError, Rule, Violations
from ..keys import Env
from ..signdata import ENV, OFFER_ID, Const
from .common import check_signed_api
from .sign_order import build_sign_data

STRING, NUMBER = "string", "number"
_NUMBER_TYPES = frozenset({FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32,
                           FieldDescriptor.TYPE_UINT64})


def _json_types(kind: AppKind, api: int, mode: int, sign_data_env: bool) -> dict[str, str]:
    """signData's keys and their JSON types for one of order_spec's variants:
    a constant or the offerId is a string, env a number, an Order field a
    number when the proto says it is an integer."""
    types = {}
    for key in order_spec.find(kind, api, mode, sign_data_env).sign_data:
        if key.source == ENV:
            types[key.name] = NUMBER
        elif isinstance(key.source, Const) or key.source == OFFER_ID:
            types[key.name] = STRING
        else:
            types[key.name] = NUMBER if pb.Order.DESCRIPTOR.fields_by_name[key.source].type in _NUMBER_TYPES else STRING
    return types


# signData fields and their JSON types, per client call and app kind (spec sections 2, 3 and 4).
_GAME_ITEM = _json_types(AppKind.MINIGAME, pb.PAYMENT_API_GAME_ITEM, order_spec.UNSPECIFIED, False)
_SUPERAPP_GAME_ITEM = _json_types(AppKind.SUPERAPP, pb.PAYMENT_API_GAME_ITEM, order_spec.UNSPECIFIED, True)
_VIRTUAL_PAYMENT = _json_types(AppKind.MINIPROGRAM, pb.PAYMENT_API_VIRTUAL_PAYMENT, order_spec.GOODS, False)
# Order fields of SignOrderRequest, by signData field.
_ORDER_FIELDS = {key.name: key.source for variant in order_spec.VARIANTS for key in variant.sign_data
                 if isinstance(key.source, str) and key.source in pb.Order.DESCRIPTOR.fields_by_name}
_SIGN_DATA_FIELD = {f"order.{order}": name for name, order in _ORDER_FIELDS.items()}
_INT64_MAX = 2**63 - 1


@dataclasses.dataclass(frozen=True)
class RuleFinding:
    field: str
    message: str
    expected_payload: str = ""


def check_payload(app: App, method: str, payload: str, obj: dict[str, Any] | None) -> list[RuleFinding]:
    """The rules ``payload`` (parsed: ``obj``) breaks as the payload of ``method``."""
    if method in CLIENT_METHODS:
        return _sign_data(app, method, payload, obj)
    if method.startswith("/"):
        return _api_body(method, obj)
    return []


def _api_body(uri: str, obj: dict[str, Any] | None) -> list[RuleFinding]:
    if obj is None:
        return [RuleFinding("", "an API body must be a JSON object without repeated keys, at most 64 KiB")]
    v = Violations()
    check_signed_api(v, "uri", uri)
    rules.payload_env(v, "body", obj, "env")
    return _findings(v, {"body.env": "env"})


def _sign_data(app: App, method: str, payload: str, obj: dict[str, Any] | None) -> list[RuleFinding]:
    if obj is None:
        try:
            inner = json.loads(payload)
        except (ValueError, RecursionError):
            inner = None
        if isinstance(inner, str):
            return [RuleFinding("", "signData is JSON-encoded twice: it must be the JSON object's text itself",
                                expected_payload=inner)]
        return [RuleFinding("", "signData must be the text of a JSON object without repeated keys, at most 64 KiB")]
    if method == CLIENT_METHODS[1]:
        types = _VIRTUAL_PAYMENT
    else:
        types = _SUPERAPP_GAME_ITEM if app.kind is AppKind.SUPERAPP else _GAME_ITEM
    call = f"the signData of {method} for a {app.kind.value} app"
    found: list[RuleFinding] = []
    fixed = dict(obj)
    fixable = set()
    for name, value in obj.items():
        want = types.get(name)
        if want is None:
            found.append(RuleFinding(name, f"{name} is not a field of {call}"))
            del fixed[name]
            fixable.add(name)
        elif want is NUMBER and not _is_number(value):
            number = _as_number(value)
            found.append(RuleFinding(name, f"{name} must be a JSON number, not {_json_type(value)}"))
            if number is None:
                del fixed[name]
            else:
                fixed[name] = number
                fixable.add(name)
        elif want is STRING and not isinstance(value, str):
            found.append(RuleFinding(name, f"{name} must be a JSON string, not {_json_type(value)} "
                                           "(even when it looks numeric)"))
            if isinstance(value, int) and not isinstance(value, bool):
                fixed[name] = str(value)
                fixable.add(name)
            else:
                del fixed[name]
    if app.offer_id is not None and "offerId" in types and isinstance(fixed.get("offerId"), str) \
            and fixed["offerId"] != app.offer_id:
        found.append(RuleFinding("offerId", f"offerId is not the offer id configured for this app ({app.offer_id})"))
        fixed["offerId"] = app.offer_id
        fixable.add("offerId")
    if fixable:
        corrected = json.dumps(fixed, ensure_ascii=False, separators=(",", ":"))
        found = [dataclasses.replace(f, expected_payload=corrected) if f.field in fixable else f for f in found]
    found += _typed_rules(app, method, fixed)
    return found


def _typed_rules(app: App, method: str, fields: dict[str, Any]) -> list[RuleFinding]:
    """The rules SignOrder checks, on the fields whose JSON type is right."""
    v = Violations()
    superapp = app.kind is AppKind.SUPERAPP
    env = None
    raw_env = fields.get("env", 0)
    if raw_env in (0, 1) and type(raw_env) is int:
        env = Env(raw_env)
        if superapp and env is Env.SANDBOX:
            v.add("env", Rule.UNSUPPORTED, "must be 0: a superapp app has a single key and no sandbox")
    elif "env" in fields:
        v.add("env", Rule.FORMAT, "must be the JSON number 0 (production) or 1 (sandbox)")
    order = pb.Order()
    for name, order_field in _ORDER_FIELDS.items():
        value = fields.get(name)
        if isinstance(value, str) and isinstance(getattr(order, order_field), str):
            setattr(order, order_field, value)
        elif isinstance(value, int) and not isinstance(value, bool) and order_field != "attach":
            if -_INT64_MAX <= value <= _INT64_MAX:
                setattr(order, order_field, value)
            else:
                v.add(f"order.{order_field}", Rule.OUT_OF_RANGE, f"must be from 1 to {rules.MAX_SAFE_INTEGER}")
        elif isinstance(value, float):
            v.add(f"order.{order_field}", Rule.FORMAT, "must be a whole number")
    if method == CLIENT_METHODS[0]:
        if fields.get("mode") != "goods":
            v.add("mode", Rule.REQUIRED, 'required: "goods"')
        request = pb.SignOrderRequest(api=pb.PAYMENT_API_GAME_ITEM, order=order)
    else:
        goods = "productId" in fields or "goodsPrice" in fields
        request = pb.SignOrderRequest(
            api=pb.PAYMENT_API_VIRTUAL_PAYMENT, order=order,
            mode=pb.VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS if goods else pb.VIRTUAL_PAYMENT_MODE_SHORT_SERIES_COIN)
    if app.offer_id is not None and "offerId" not in fields and not superapp:
        v.add("offerId", Rule.REQUIRED, f"required: the app's offer id ({app.offer_id})")
    if "currencyType" not in fields:
        v.add("currencyType", Rule.REQUIRED, "required" + (": CNY" if not superapp else ": an ISO 4217 code"))
    build_sign_data(v, app, None if superapp else env, request)
    return _findings(v, _SIGN_DATA_FIELD)


def _findings(v: Violations, names: dict[str, str]) -> list[RuleFinding]:
    try:
        v.raise_if_any("payload")
    except PaysigError as error:
        violations = error.violations
    else:
        violations = ()
    out = []
    for violation in violations:
        field = names.get(violation.field, violation.field)
        out.append(RuleFinding(field, f"{field}: {violation.description}"))
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_number(value: Any) -> int | None:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
        return int(value)
    return None


def _json_type(value: Any) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "a number"
    return "an array" if isinstance(value, list) else "an object"
