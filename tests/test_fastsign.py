"""The compiled SignOrder path (_fastsign) against the reference path.

Both paths run in process over the conformance config; the reference is a
Pipeline built with fast=False. The fast path must answer exactly what the
reference answers (response, audit line, metrics) for every order it signs,
and decline every order the reference refuses. Its HMAC-SHA256 (OpenSSL's
libcrypto) is checked against hashlib and RFC 4231, and the published vectors
reach it through the conformance cases.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from pathlib import Path

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paysig.server import fastpath, load_config, order_spec
from paysig.server.access import ANONYMOUS
from paysig.server.audit import MAX_FIELD_CHARS, AuditLog, AuditSettings
from paysig.server.errors import PaysigError
from paysig.server.keys import Env
from paysig.server.ops.sign_order import sign_order
from paysig.server.pipeline import Pipeline
from paysig.server.ratelimit import RateLimiter
from paysig.server.servicer import SPECS
from paysig.server.state import ConfigHolder
from paysig.v1 import signer_pb2 as pb
from support import CASES, CONFORMANCE_CONFIG, FakeContext

COMPILED_KINDS = {v.kind.value for v in order_spec.VARIANTS if v.compiled}
SIGN_ORDER_CASES = [c for c in json.loads(CASES.read_text(encoding="utf-8"))["cases"] if c["rpc"] == "SignOrder"]


def test_the_extension_is_built():
    """make venv builds it; a missing build would silently leave only the slow path."""
    assert fastpath.AVAILABLE


class Side:
    """One path: a pipeline whose audit lines go to a file of its own."""

    def __init__(self, fast: bool, directory: str):
        config = load_config(CONFORMANCE_CONFIG)
        self.path = Path(directory) / ("fast.log" if fast else "reference.log")
        self.audit = AuditLog(AuditSettings(path=str(self.path)))
        self.pipeline = Pipeline(ConfigHolder(config), self.audit, RateLimiter(), fast=fast)

    def sign(self, request: pb.SignOrderRequest):
        """(response, None) or (None, error), and the audit line without its time."""
        before = self.path.stat().st_size if self.path.exists() else 0
        try:
            answer = self.pipeline.run(SPECS["SignOrder"], request, FakeContext(), "rid")
            result = (pb.SignOrderResponse.FromString(answer), None)
        except PaysigError as error:
            result = (None, (error.code, error.reason, sorted((v.field, v.rule) for v in error.violations)))
        with self.path.open("rb") as f:
            f.seek(before)
            lines = f.read().decode().split("\n")[:-1]  # not splitlines: U+2028 may be in a line
        assert len(lines) == 1
        line = json.loads(lines[0])
        assert line.pop("ts")
        return result, line

    def batch(self, requests: list[pb.SignOrderRequest]) -> pb.BatchSignOrdersResponse:
        return pb.BatchSignOrdersResponse.FromString(self.pipeline.run_batch(
            SPECS["BatchSignOrders"], pb.BatchSignOrdersRequest(requests=requests), FakeContext(), "rid"))


@pytest.fixture(scope="module")
def sides():
    with tempfile.TemporaryDirectory() as directory:
        yield Side(True, directory), Side(False, directory)


ORDERS = fastpath.FastOrders(load_config(CONFORMANCE_CONFIG)) if fastpath.AVAILABLE else None


def fast_signs(request: pb.SignOrderRequest) -> bool:
    """Whether the compiled path signs the request (rather than declining it)."""
    results, _, _ = ORDERS.sign((request,), ANONYMOUS, '{"rpc":"SignOrder"', False)
    return results[0] is not None


@pytest.mark.parametrize("case", SIGN_ORDER_CASES, ids=[c["name"] for c in SIGN_ORDER_CASES])
def test_conformance_case_same_answer_and_audit_line(sides, case):
    fast, reference = sides
    request = json_format.ParseDict(case["request"], pb.SignOrderRequest())
    assert fast.sign(request) == reference.sign(request)


def test_the_fast_path_signs_the_valid_minigame_and_miniprogram_cases_and_declines_the_rest():
    signed = {c["name"] for c in SIGN_ORDER_CASES
              if fast_signs(json_format.ParseDict(c["request"], pb.SignOrderRequest()))}
    kinds = {app.app_id: app.kind.value for app in load_config(CONFORMANCE_CONFIG).apps.values()}
    valid = {c["name"] for c in SIGN_ORDER_CASES
             if "response" in c["expect"] and kinds[c["request"]["app_id"]] in COMPILED_KINDS}
    assert {"mg", "mp"} <= {c["request"]["app_id"] for c in SIGN_ORDER_CASES if c["name"] in valid}
    assert signed == valid


# Text that exercises JSON escaping, UTF-8 lengths and the control-character rule.
CHARS = ['a', 'Z', '0', '"', '\\', '/', ' ', 'é', '中', '😀', '\u2028', '\xa0', '_', '-', '|', '*', '@', '{', '}']
CONTROL = ['\x00', '\x1f', '\n', '\x7f', '\x85', '\x9f']
SAFE_TEXT = st.text(alphabet=st.sampled_from(CHARS), max_size=40)
ANY_TEXT = st.text(alphabet=st.sampled_from(CHARS + CONTROL), max_size=40)
ANY_INT = st.one_of(st.sampled_from([0, -1, 2**53, 2**63 - 1, -2**63]), st.integers(-10, 10**6))


def sometimes(valid, invalid):
    """Mostly a valid value, now and then anything: most orders are signable,
    each rule is broken alone or with others."""
    return st.sampled_from([valid] * 9 + [invalid]).flatmap(lambda strategy: strategy)


@st.composite
def orders(draw):
    app_id = draw(sometimes(st.sampled_from(["mg", "mg-prod-only", "mg-official", "mp"]),
                            st.sampled_from(["sa", "", "nope", "MG"])))
    vp = app_id == "mp"  # a miniprogram app: requestVirtualPayment
    mode = draw(sometimes(st.sampled_from([1, 2]) if vp else st.just(0), st.sampled_from([0, 1, 2, 5])))
    coin = vp and mode == 2
    goods_price = draw(sometimes(st.just(0) if coin else st.integers(1, 2**53 - 1), ANY_INT))
    order = pb.Order(
        product_id=draw(sometimes(st.just("") if coin else SAFE_TEXT.filter(bool),
                                  st.one_of(ANY_TEXT, st.just("x" * 129), st.just("é" * 128), st.just("é" * 129)))),
        goods_price=goods_price,
        buy_quantity=draw(sometimes(st.integers(1, 2**53 - 1), ANY_INT)),
        out_trade_no=draw(sometimes(
            st.from_regex(r"[0-9A-Za-z\-|*@][0-9A-Za-z_\-|*@]{%d,31}" % (7 if vp else 0), fullmatch=True),
            st.one_of(ANY_TEXT, st.from_regex(r"[0-9A-Za-z_]{0,40}", fullmatch=True)))),
        attach=draw(sometimes(SAFE_TEXT.filter(bool) if vp else SAFE_TEXT,
                              st.one_of(ANY_TEXT, st.just("é" * 512), st.just("é" * 513), st.just("a" * 1024),
                                        st.just("a" * 1025)))),
        currency_type=draw(sometimes(st.sampled_from(["", "CNY"]), st.sampled_from(["USD", "cny", "CNY "]))),
        platform=draw(sometimes(st.just("") if vp else st.sampled_from(["", "android"]),
                                st.sampled_from(["ios", "Android", "android"]))),
        zone_id=draw(sometimes(st.just("") if vp else st.one_of(st.just(""), st.text(
            alphabet=st.sampled_from(CHARS), max_size=16)), st.one_of(ANY_TEXT, st.just("z" * 64),
                                                                     st.just("z" * 65)))))
    if draw(st.integers(0, 3 if vp and not coin else 19)) == 0:
        order.activity_selling_price = draw(sometimes(st.integers(1, max(1, goods_price)), ANY_INT))
    request = pb.SignOrderRequest(
        app_id=app_id, mode=mode,
        env=draw(sometimes(st.sampled_from([1, 2]), st.sampled_from([0, 7]))),
        api=draw(sometimes(st.just(2 if vp else 1), st.sampled_from([0, 1 if vp else 2, 9]))),
        session_key=draw(sometimes(st.from_regex(r"[\x21-\x7e]{1,64}", fullmatch=True),
                                   st.one_of(ANY_TEXT, st.just("k" * 256), st.just("k" * 257)))))
    if draw(st.integers(0, 19)):
        request.order.CopyFrom(order)
    return request


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders())
def test_generated_orders_same_answer_and_audit_line(sides, request):
    fast, reference = sides
    assert fast.sign(request) == reference.sign(request)


@settings(max_examples=300, deadline=None)
@given(orders())
def test_declines_only_what_it_cannot_audit_unclipped(request):
    """Every order the reference signs for a minigame or miniprogram app is
    signed by the fast path too, except product ids longer than the audit
    line keeps whole."""
    config = load_config(CONFORMANCE_CONFIG)
    try:
        sign_order(config, request)
    except PaysigError:
        assert not fast_signs(request)
        return
    fast_kind = config.apps[request.app_id].kind.value in COMPILED_KINDS
    assert fast_signs(request) == (fast_kind and len(request.order.product_id) <= MAX_FIELD_CHARS)


VALID = pb.SignOrderRequest(app_id="mg", env=pb.ENV_SANDBOX, api=pb.PAYMENT_API_GAME_ITEM,
                            session_key="9hAb/NEYUlkaMBEsmFgzig==",
                            order=pb.Order(product_id="sword", goods_price=600, buy_quantity=1, out_trade_no="o-1",
                                           attach="a", zone_id="z"))


VALID_VP = pb.SignOrderRequest(app_id="mp", env=pb.ENV_PRODUCTION, api=pb.PAYMENT_API_VIRTUAL_PAYMENT,
                               mode=pb.VIRTUAL_PAYMENT_MODE_SHORT_SERIES_GOODS, session_key="9hAb/NEYUlkaMBEsmFgzig==",
                               order=pb.Order(product_id="gem", goods_price=600, activity_selling_price=500,
                                              buy_quantity=2, out_trade_no="order-0001", attach="a"))


@pytest.mark.parametrize("field", ["product_id", "attach", "zone_id", "out_trade_no"])
@pytest.mark.parametrize("char", [chr(c) for c in [*range(0x20), *range(0x7f, 0xa1)]] + ["\u2028", "\ufeff", "😀"])
@pytest.mark.parametrize("base", [VALID, VALID_VP], ids=["game-item", "virtual-payment"])
def test_each_character_in_each_text_field(sides, field, char, base):
    fast, reference = sides
    request = pb.SignOrderRequest()
    request.CopyFrom(base)
    setattr(request.order, field, f"a{char}b")
    assert fast.sign(request) == reference.sign(request)


@pytest.mark.parametrize("mode", [1, 2])
@pytest.mark.parametrize("activity", [None, 1, 599, 600, 601, 0, -1])
@pytest.mark.parametrize("goods_price", [0, 600])
def test_virtual_payment_modes_and_prices(sides, mode, activity, goods_price):
    fast, reference = sides
    request = pb.SignOrderRequest()
    request.CopyFrom(VALID_VP)
    request.mode = mode
    request.order.goods_price = goods_price
    request.order.ClearField("activity_selling_price")
    if activity is not None:
        request.order.activity_selling_price = activity
    if mode == 2:
        request.order.product_id = ""
    assert fast.sign(request) == reference.sign(request)


@pytest.mark.parametrize("field,sizes", [("product_id", (128, 129, 256, 257)), ("attach", (1024, 1025)),
                                         ("zone_id", (64, 65)), ("out_trade_no", (32, 33))])
@pytest.mark.parametrize("char", ["a", "é", "中", "😀"])
def test_length_limits_in_bytes_and_characters(sides, field, sizes, char):
    fast, reference = sides
    for size in sizes:
        request = pb.SignOrderRequest()
        request.CopyFrom(VALID)
        setattr(request.order, field, (char * size)[:size] if char == "a" else char * (size // len(char.encode())))
        assert fast.sign(request) == reference.sign(request)


def test_batch_mixes_both_paths_in_request_order(sides):
    fast, reference = sides
    cases = [json_format.ParseDict(c["request"], pb.SignOrderRequest()) for c in SIGN_ORDER_CASES]
    requests = cases + cases[::-1]
    before = fast.path.read_bytes().count(b"\n") if fast.path.exists() else 0
    got, want = fast.batch(requests), reference.batch(requests)
    assert got == want
    assert [r.WhichOneof("outcome") for r in got.results].count("response") > 2
    assert fast.path.read_bytes().count(b"\n") - before == len(requests)


@pytest.mark.parametrize("key", [b"", b"k", b"k" * 64, b"k" * 65, os.urandom(200)])
@pytest.mark.parametrize("size", [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000])
def test_hmac_matches_hashlib(key, size):
    """The module's HMAC-SHA256 (OpenSSL's EVP_MAC, the calls that sign) against hashlib's."""
    from paysig.server import _fastsign

    message = os.urandom(size)
    assert _fastsign.hmac_sha256_hex(key, message) == hmac.new(key, message, hashlib.sha256).hexdigest()


RFC_4231 = [  # (key, data, HMAC-SHA-256): test cases 1, 2, 3, 4, 6 and 7 of RFC 4231
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131, b"This is a test using a larger than block-size key and a larger than block-size data. The key "
     b"needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
]


@pytest.mark.parametrize("key,data,expected", RFC_4231)
def test_hmac_matches_rfc_4231(key, data, expected):
    from paysig.server import _fastsign

    assert _fastsign.hmac_sha256_hex(key, data) == expected


def test_each_app_key_and_session_key_signs_right_many_times_in_a_row():
    """The app keys' contexts are re-initialised per signature and the session
    context re-keyed per item: a batch of orders with distinct session keys,
    each checked with hashlib against its signData."""
    requests = []
    for i in range(50):
        request = pb.SignOrderRequest()
        request.CopyFrom(VALID if i % 2 else VALID_VP)
        request.session_key = f"session-{i}-" + "k" * (i * 3)
        request.order.out_trade_no = f"order-{i:04d}"
        requests.append(request)
    results, lines, counts = ORDERS.sign(requests, ANONYMOUS, '{"rpc":"BatchSignOrders"', False)
    config = load_config(CONFORMANCE_CONFIG)
    for request, raw in zip(requests, results):
        response = pb.SignOrderResponse.FromString(raw)
        app = config.apps[request.app_id]
        env = {pb.ENV_PRODUCTION: Env.PRODUCTION, pb.ENV_SANDBOX: Env.SANDBOX}[request.env]
        key = app.key_ring(env).primary.secret.reveal()
        data = response.sign_data.encode()
        assert response.pay_sig == hmac.new(key, response.method.encode() + b"&" + data, hashlib.sha256).hexdigest()
        assert response.signature == hmac.new(request.session_key.encode(), data, hashlib.sha256).hexdigest()
        assert f'"signature_fp":"{hashlib.sha256(response.pay_sig.encode()).hexdigest()[:16]}"'.encode() in lines
    assert sum(counts.values()) == len(requests)
    assert {env for _, env, _ in counts} == {"production", "sandbox"}  # metrics.ENV_LABELS' values


@settings(deadline=None)  # the machine may be loaded; speed is for make bench
@given(st.text(), st.text(), st.text(), st.sampled_from(["SignOrder", "BatchSignOrders"]))
def test_encoded_head_is_the_json_of_head(caller, peer, request_id, rpc):
    from unittest import mock

    from paysig.server import audit
    from paysig.server.access import Caller
    from paysig.server.signdata import COMPACT_JSON

    call = audit.CallAudit(rpc, peer, request_id, Caller(name=caller, apps=None, rpcs=frozenset()))
    with mock.patch.object(audit.time, "time", return_value=1795000000.123):
        assert call.encoded_head() + "}" == COMPACT_JSON.encode(call.head())


def test_app_keys_do_not_show_their_key():
    from paysig.server import _fastsign

    keys = _fastsign.AppKeys("minigame", "1450000001", {pb.ENV_PRODUCTION: (1, b"very-secret-app-key")})
    assert "secret" not in repr(keys) and not [a for a in dir(keys) if not a.startswith("__")]
