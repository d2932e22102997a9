"""SignOrder: check the order against its variant's rules (order_spec.py),
build signData from them, then sign it."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from paysig.v1 import signer_pb2 as pb

from .. import order_spec as spec
from .. import rules
from ..config import App, AppKind, Config
from ..errors import Code, PaysigError, Rule, Violations, key_not_configured
from ..keys import Env
from ..mac import compute_mac
from ..signdata import COMPACT_JSON, compile_sign_data
from .common import ENV_TO_PROTO, lookup_app, request_env, require_ring

REQUEST = "SignOrderRequest"
API_NAMES = " or ".join(pb.PaymentApi.Name(api) for api in spec.METHODS)
MODE_ENUM_NAMES = " or ".join(pb.VirtualPaymentMode.Name(mode) for mode in spec.MODE_NAMES)


def sign_order(config: Config, req: pb.SignOrderRequest) -> pb.SignOrderResponse:
    app = lookup_app(config, req.app_id, REQUEST)
    v = Violations()
    api_known = req.api in spec.METHODS
    kind_apis = spec.APIS_OF_KIND[app.kind]
    if not api_known:
        rules.check_enum(v, "api", req.api, API_NAMES)
    elif req.api not in kind_apis:
        raise PaysigError(
            Code.FAILED_PRECONDITION,
            "API_NOT_SUPPORTED_FOR_APP_KIND",
            f"api: {pb.PaymentApi.Name(req.api)} does not fit app {app.app_id!r} of kind {app.kind.value}; "
            f"use {' or '.join(pb.PaymentApi.Name(api) for api in kind_apis)}",
        )
    elif not app.offer_id and (app.kind, req.api) in spec.NEEDS_OFFER_ID:
        raise PaysigError(
            Code.FAILED_PRECONDITION,
            "OFFER_ID_NOT_CONFIGURED",
            f"api: app {app.app_id!r} has no offer_id configured; {spec.METHODS[req.api]} signData needs one",
        )

    env = _order_env(v, app, req.env)
    rules.check_session_key(v, "session_key", req.session_key, required=True)
    if not req.HasField("order"):
        v.add("order", Rule.REQUIRED, "required")
        v.raise_if_any(REQUEST)
    variant = _variant(v, app, req) if api_known else None
    if variant is None:  # the api or mode is unusable: every rule that holds whatever it meant
        of_kind = [x for x in spec.VARIANTS if x.kind is app.kind and (not api_known or x.api == req.api)]
        check_order(v, app, compile_rules(spec.common_rules(of_kind, None if api_known else spec.VARIANTS)),
                    req.order)
        v.raise_if_any(REQUEST)
        raise AssertionError(f"order_spec: no variant of {app.kind.value} for api {req.api}, mode {req.mode}")
    values = check_order(v, app, RULES[variant.name], req.order)
    v.raise_if_any(REQUEST)

    if env is None:  # superapp: one key; env in signData only for the variants that have it
        env = Env.PRODUCTION
    key = require_ring(app, env).primary
    method = spec.METHODS[req.api]
    sign_data = SIGN_DATA[variant.name](app.offer_id, env, values)
    out = {"sign_data": sign_data, "pay_sig": compute_mac(key.secret.reveal(), f"{method}&{sign_data}"),
           "signature": compute_mac(req.session_key.encode("utf-8"), sign_data), "method": method,
           "key_version": key.version, "env": ENV_TO_PROTO[env]}
    args = dict(zip(CLIENT_ARG_KEYS, CLIENT_ARG_VALUES(out)))
    if variant.mode in spec.MODE_NAMES:
        args[spec.CLIENT_ARGS_MODE] = spec.MODE_NAMES[variant.mode]
    out["client_args"] = COMPACT_JSON.encode(args)
    return pb.SignOrderResponse(**dict(zip(RESPONSE_KEYS, RESPONSE_VALUES(out))))


def build_sign_data(v: Violations, app: App, env: Env | None, req: pb.SignOrderRequest) -> str:
    """The signData of ``req`` (whose api fits the app), or "" with the broken
    rules added to ``v``. DiagnoseSignature checks a team's signData with it."""
    variant = _variant(v, app, req)
    if variant is None:
        return ""
    values = check_order(v, app, RULES[variant.name], req.order)
    if v:
        return ""
    return SIGN_DATA[variant.name](app.offer_id, Env.PRODUCTION if env is None else env, values)


CLIENT_ARG_KEYS = tuple(name for name, _ in spec.CLIENT_ARGS)
CLIENT_ARG_VALUES = operator.itemgetter(*(source for _, source in spec.CLIENT_ARGS))
RESPONSE_KEYS = tuple(spec.RESPONSE_FIELDS)
RESPONSE_VALUES = operator.itemgetter(*spec.RESPONSE_FIELDS.values())


def _variant(v: Violations, app: App, req: pb.SignOrderRequest) -> spec.Variant | None:
    """The request's variant, or None (with the violations saying why) when its mode picks none."""
    if req.api == pb.PAYMENT_API_GAME_ITEM:
        rules.check_unset(v, "mode", req.mode != spec.UNSPECIFIED, "mode belongs to requestVirtualPayment")
    elif req.mode not in spec.MODE_NAMES:
        rules.check_enum(v, "mode", req.mode, MODE_ENUM_NAMES)
        return None
    variant = spec.find(app.kind, req.api, req.mode, app.sign_data_env)
    if variant is not None and variant.refused:
        v.add("mode", Rule.UNSUPPORTED, variant.refused)
        return None
    return variant


def _order_env(v: Violations, app: App, value: int) -> Env | None:
    env = request_env(v, value)
    if app.kind is AppKind.SUPERAPP:
        if env is Env.SANDBOX:
            raise key_not_configured(app.app_id, "sandbox")
        return None
    if env is None and value == pb.ENV_UNSPECIFIED:
        v.add("env", Rule.REQUIRED, "required: ENV_PRODUCTION or ENV_SANDBOX picks the AppKey and signData's env")
    return env


HAS_PRESENCE = frozenset(f.name for f in pb.Order.DESCRIPTOR.fields if f.has_presence)
Checker = Callable[[Violations, App, pb.Order, dict[str, Any]], None]


def compile_rules(fields: Mapping[str, spec.Field]) -> list[Checker]:
    """One function per field of ``fields``, which checks it in an Order and
    stores the value signData takes (default applied, None when unset)."""
    return [_checker(name, field) for name, field in fields.items()]


def _checker(name: str, field: spec.Field) -> Checker:
    path, check, default, required = f"order.{name}", field.check, field.default, field.required
    presence = name in HAS_PRESENCE

    if isinstance(check, spec.Unset):
        def unset(v, app, o, values):
            rules.check_unset(v, path, o.HasField(name) if presence else bool(getattr(o, name)), check.why)
            values[name] = None
        return unset
    if isinstance(check, spec.Positive):
        def positive(v, app, o, values):
            if presence and not o.HasField(name):
                values[name] = None
                return
            value = values[name] = getattr(o, name)
            if required or value or presence:
                rules.check_positive(v, path, value, required=required)
                if check.not_above and value > getattr(o, check.not_above) > 0:
                    v.add(path, Rule.OUT_OF_RANGE, f"must not be above {check.not_above}")
        return positive
    if isinstance(check, spec.Text):
        max_bytes = check.max_bytes

        def text(v, app, o, values):
            value = values[name] = getattr(o, name) or default or ""
            rules.check_text(v, path, value, max_bytes=max_bytes, required=required)
        return text
    if isinstance(check, spec.OutTradeNo):
        def out_trade_no(v, app, o, values):
            value = values[name] = getattr(o, name)
            rules.check_out_trade_no(v, path, value, min_length=check.min_length)
        return out_trade_no
    if isinstance(check, spec.OneOf):
        def one_of(v, app, o, values):
            value = values[name] = getattr(o, name) or default or ""
            if value not in check.values:
                v.add(path, Rule.UNSUPPORTED, check.why)
        return one_of
    if isinstance(check, spec.HostCurrency):
        def host_currency(v, app, o, values):
            value = values[name] = getattr(o, name) or default or ""
            _host_currency(v, app, value)
        return host_currency
    raise TypeError(f"order_spec: {name}: no check {check!r}")


def check_order(v: Violations, app: App, checkers: list[Checker], o: pb.Order) -> dict[str, Any]:
    """Runs ``checkers`` (compile_rules) on ``o``; returns the values signData takes."""
    values: dict[str, Any] = {}
    for check in checkers:
        check(v, app, o, values)
    return values


RULES = {variant.name: compile_rules(variant.order) for variant in spec.VARIANTS}
SIGN_DATA = {variant.name: compile_sign_data(variant.sign_data) for variant in spec.VARIANTS}


def _host_currency(v: Violations, app: App, currency: str) -> None:
    """A superapp's currency: one of the app's configured currencies, or any
    active ISO 4217 code when it lists none."""
    if app.currencies is not None:
        if currency not in app.currencies:
            v.add("order.currency_type", Rule.UNSUPPORTED,
                  f"must be one of app {app.app_id!r}'s currencies: {', '.join(app.currencies)}")
    elif currency not in rules.ISO_4217:
        v.add("order.currency_type", Rule.UNSUPPORTED, "must be an active ISO 4217 code such as USD")
