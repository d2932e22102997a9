"""SignOrder's rules live in one table (order_spec.py) that both paths read.

- every field of Order, SignOrderRequest and SignOrderResponse is covered by
  it (a new proto field fails here until the table states its rule);
- the committed _fastsign_spec.h is what the table generates, and the built
  extension was compiled from it;
- for every rule of every compiled variant, an order breaking just that rule
  is refused by the reference path (a violation on that field) and declined
  by the compiled path, and the valid order is signed by both with the same
  bytes: a rule the C code ignored, or read differently, fails here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac

import pytest

from paysig.server import fastpath, load_config, order_spec, rules
from paysig.server.access import ANONYMOUS
from paysig.server.errors import PaysigError
from paysig.server.keys import Env
from paysig.server.order_spec_gen import HEADER, generate
from paysig.server.ops.sign_order import sign_order
from paysig.v1 import signer_pb2 as pb
from support import CONFORMANCE_CONFIG

CONFIG = load_config(CONFORMANCE_CONFIG)
COMPILED = [v for v in order_spec.VARIANTS if v.compiled]


def test_every_order_field_has_a_rule_in_every_variant():
    for variant in order_spec.VARIANTS:
        assert set(variant.order) == {f.name for f in pb.Order.DESCRIPTOR.fields}, variant.name


def test_every_request_and_response_field_is_covered():
    assert set(order_spec.REQUEST_FIELDS) == {f.name for f in pb.SignOrderRequest.DESCRIPTOR.fields}
    assert set(order_spec.RESPONSE_FIELDS) == {f.name for f in pb.SignOrderResponse.DESCRIPTOR.fields}


def test_every_variant_is_reachable_and_known_to_the_proto():
    for variant in order_spec.VARIANTS:
        assert variant.api in order_spec.METHODS
        assert variant.mode in (order_spec.UNSPECIFIED, *order_spec.MODE_NAMES)
        envs = (False, True) if variant.sign_data_env is None else (variant.sign_data_env,)
        assert all(order_spec.find(variant.kind, variant.api, variant.mode, env) is variant for env in envs)


def test_the_committed_header_is_generated_from_the_table():
    assert HEADER.read_text(encoding="utf-8") == generate(), "run make generate"


@pytest.mark.skipif(not fastpath.AVAILABLE, reason="checked by test_fastsign.test_the_extension_is_built")
def test_the_built_extension_was_compiled_from_that_header():
    from paysig.server import _fastsign

    body, digest_line = generate().rsplit("#define SPEC_DIGEST", 1)
    assert _fastsign.SPEC_DIGEST == hashlib.sha256(body.encode()).hexdigest() in digest_line, "run make venv"
    assert set(_fastsign.KINDS) == {v.kind.value for v in COMPILED}


def test_a_changed_limit_reaches_the_generated_header():
    """The generator reads the table's objects, the same the reference path checks with."""
    variant = COMPILED[0]
    zone = variant.order["zone_id"]
    changed = dataclasses.replace(variant, order={**variant.order, "zone_id": dataclasses.replace(
        zone, check=order_spec.Text(rules.MAX_ZONE_ID_BYTES + 7))})
    before = generate()
    with pytest.MonkeyPatch.context() as m:
        m.setattr(order_spec, "VARIANTS", (changed, *order_spec.VARIANTS[1:]))
        after = generate()
    assert f"{{ORDER_ZONE_ID, CHECK_TEXT, 1, {rules.MAX_ZONE_ID_BYTES + 7}, " in after
    assert f"{{ORDER_ZONE_ID, CHECK_TEXT, 1, {rules.MAX_ZONE_ID_BYTES}, " in before


def app_of(variant: order_spec.Variant) -> str:
    return next(a.app_id for a in CONFIG.apps.values()
                if a.kind is variant.kind and a.key_ring(Env.PRODUCTION) is not None and a.offer_id)


def valid_value(field: order_spec.Field) -> object:
    """A value the field's rule accepts (None: leave it unset)."""
    check = field.check
    if isinstance(check, order_spec.Text):
        return "t-é" if field.required else None
    if isinstance(check, order_spec.Positive):
        return 5 if field.required else None
    if isinstance(check, order_spec.OutTradeNo):
        return "o" * max(check.min_length, 8)
    if isinstance(check, order_spec.OneOf):
        return check.values[-1]
    return None


def breaking_values(name: str, field: order_spec.Field) -> list[object]:
    """Values of the field that break its rule (with the other fields valid)."""
    check = field.check
    string = pb.Order.DESCRIPTOR.fields_by_name[name].type == pb.Order.DESCRIPTOR.fields_by_name[name].TYPE_STRING
    if isinstance(check, order_spec.Unset):
        return ["x"] if string else [1]
    if isinstance(check, order_spec.Text):
        too_long = ["z" * (check.max_bytes + 1), "é" * (check.max_bytes // 2 + 1)]
        return too_long + ["a\x00b", "a\u0085b"] + ([""] if field.required and not field.default else [])
    if isinstance(check, order_spec.Positive):
        optional = pb.Order.DESCRIPTOR.fields_by_name[name].has_presence
        out = [rules.MAX_SAFE_INTEGER + 1, -1] + ([0] if field.required or optional else [])
        if check.not_above:
            out.append(6)  # above the valid 5 of the field it may not exceed
        return out
    if isinstance(check, order_spec.OutTradeNo):
        return ["", "_" + "o" * 8, "o" * (rules.MAX_OUT_TRADE_NO_CHARS + 1), "o" * 7 + "#"] + (
            ["o" * (check.min_length - 1)] if check.min_length > 1 else [])
    if isinstance(check, order_spec.OneOf):
        return [check.values[0] + "x", check.values[0].upper() if check.values[0].islower() else "x"]
    raise AssertionError(f"no breaking values for {check!r}")


def request_of(variant: order_spec.Variant, **override) -> pb.SignOrderRequest:
    order = pb.Order()
    for name, field in variant.order.items():
        value = override[name] if name in override else valid_value(field)
        if value is not None:
            setattr(order, name, value)
    return pb.SignOrderRequest(app_id=app_of(variant), env=pb.ENV_PRODUCTION, api=variant.api, mode=variant.mode,
                               session_key="9hAb/NEYUlkaMBEsmFgzig==", order=order)


def fast(request: pb.SignOrderRequest) -> bytes | None:
    results, _, _ = fastpath.FastOrders(CONFIG).sign((request,), ANONYMOUS, '{"rpc":"SignOrder"', False)
    return results[0]


needs_fast = pytest.mark.skipif(not fastpath.AVAILABLE, reason="checked by test_fastsign.test_the_extension_is_built")


@needs_fast
@pytest.mark.parametrize("variant", COMPILED, ids=[v.name for v in COMPILED])
def test_the_valid_order_of_each_compiled_variant_signs_the_same_on_both_paths(variant):
    request = request_of(variant)
    response = sign_order(CONFIG, request)
    assert fast(request) == response.SerializeToString()
    key = CONFIG.apps[request.app_id].key_ring(Env.PRODUCTION).primary.secret.reveal()
    assert response.pay_sig == hmac.new(key, f"{order_spec.METHODS[variant.api]}&{response.sign_data}".encode(),
                                        hashlib.sha256).hexdigest()


CASES = [(v, name, value) for v in COMPILED for name, field in v.order.items()
         for value in breaking_values(name, field)]


@needs_fast
@pytest.mark.parametrize("variant, name, value", CASES,
                         ids=[f"{v.name}-{n}-{value!r}"[:90] for v, n, value in CASES])
def test_each_rule_is_enforced_by_both_paths(variant, name, value):
    request = request_of(variant, **{name: value})
    check = variant.order[name].check
    if isinstance(check, order_spec.Positive) and check.not_above and value == 6:
        setattr(request.order, check.not_above, 5)
    with pytest.raises(PaysigError) as info:
        sign_order(CONFIG, request)
    assert f"order.{name}" in {v.field for v in info.value.violations}
    assert fast(request) is None
