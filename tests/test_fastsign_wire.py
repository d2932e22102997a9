"""The fast path reads SignOrder requests as their bytes (the protobuf wire
format) when they are of the simple form (_fastsign.scan_orders). Whatever
it accepts, protobuf must parse, and signing the bytes must give exactly
what signing protobuf's message gives: the same results, audit lines and
counts. Everything else it must leave to protobuf (scan_orders: None)."""

from __future__ import annotations

import random

import pytest
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st

from paysig.server import fastpath, load_config
from paysig.server.access import ANONYMOUS
from paysig.v1 import signer_pb2 as pb
from support import CONFORMANCE_CONFIG
from test_fastsign import VALID, VALID_VP, orders

pytestmark = pytest.mark.skipif(not fastpath.AVAILABLE, reason="test_the_extension_is_built fails instead")
ORDERS = fastpath.FastOrders(load_config(CONFORMANCE_CONFIG)) if fastpath.AVAILABLE else None
HEAD = '{"ts":"2026-01-01T00:00:00.000Z","pid":1,"request_id":"r","caller":"","peer":"p","rpc":"SignOrder"'


def scan(data: bytes, batch: bool = False):
    return fastpath._fastsign.scan_orders(data, batch)


def same_as_protobuf(data: bytes) -> bool:
    """Whether scan_orders accepts ``data``; when it does, protobuf parses it
    and the bytes sign exactly as the parsed message does."""
    items = scan(data)
    if items is None:
        return False
    assert items == (data,)
    message = pb.SignOrderRequest.FromString(data)  # raises when the fast path accepted what protobuf refuses
    assert ORDERS.sign(items, ANONYMOUS, HEAD, False) == ORDERS.sign((message,), ANONYMOUS, HEAD, False)
    return True


@settings(max_examples=400, deadline=None)
@given(orders())
def test_every_serialized_request_is_read_as_protobuf_reads_it(request):
    assert same_as_protobuf(request.SerializeToString())


def mutations(data: bytes, rng: random.Random):
    for _ in range(40):
        b = bytearray(data)
        what = rng.randrange(6)
        if what == 0 and b:
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        elif what == 1 and b:
            del b[rng.randrange(len(b)):][:rng.randrange(1, 4)]
        elif what == 2:
            b[rng.randrange(len(b) + 1):0] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4)))
        elif what == 3 and b:
            b[rng.randrange(len(b))] = rng.choice([0x00, 0x80, 0xff, 0x0a, 0x2a, 0x12, 0x08, 0x7f])
        elif what == 4:
            start = rng.randrange(len(b) + 1)
            b += b[start:start + rng.randrange(1, 12)]
        else:
            b = b[:rng.randrange(len(b) + 1)]
        yield bytes(b)


@settings(max_examples=150, deadline=None)
@given(orders(), st.integers(0, 2**32))
def test_mutated_bytes_are_read_as_protobuf_reads_them_or_left_to_it(request, seed):
    rng = random.Random(seed)
    for data in mutations(request.SerializeToString(), rng):
        try:
            pb.SignOrderRequest.FromString(data)
        except DecodeError:
            assert scan(data) is None
            continue
        same_as_protobuf(data)


def field(number: int, wire_type: int, payload: bytes) -> bytes:
    return bytes([number << 3 | wire_type]) + payload


def varint(n: int) -> bytes:
    n &= 2**64 - 1
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes(out + bytes([n]))


def string(number: int, text: bytes) -> bytes:
    return field(number, 2, varint(len(text)) + text)


@pytest.mark.parametrize("name,data", [
    ("a repeated scalar (protobuf keeps the last)", VALID.SerializeToString() + field(2, 0, varint(1))),
    ("a repeated order (protobuf merges them)", VALID.SerializeToString() + string(5, string(4, b"o-2"))),
    ("an unknown field", VALID.SerializeToString() + field(15, 0, varint(1))),
    ("a known field of another wire type", VALID.SerializeToString() + field(15, 5, b"\0\0\0\0")),
    ("app_id as a varint", field(1, 0, varint(3))),
    ("an enum beyond 32 bits", field(2, 0, varint(2**32 + 1))),
    ("an 11-byte varint", field(2, 0, b"\x81" * 10 + b"\x00")),
    ("field number 0", field(0, 0, varint(1))),
    ("a group", field(7, 3, b"") + field(7, 4, b"")),
    ("a truncated string", field(1, 2, varint(10) + b"mg")),
    ("a string past the order's end", string(5, field(4, 2, varint(30) + b"o-1")) + b"x" * 30),
])
def test_anything_but_the_simple_form_is_left_to_protobuf(name, data):
    assert scan(data) is None, name


@pytest.mark.parametrize("text", [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"a\xe4\xb8", b"\x80"])
def test_strings_that_are_not_utf8_are_left_to_protobuf_which_refuses_them(text):
    for data in (string(1, text), string(5, string(1, text)), string(6, text)):
        assert scan(data) is None
        with pytest.raises(DecodeError):
            pb.SignOrderRequest.FromString(data)


@pytest.mark.parametrize("data", [
    b"",
    field(2, 0, varint(-1)),  # a negative enum: ten bytes, within 32 bits
    field(2, 0, b"\x82\x00"),  # a varint with a needless continuation byte
    string(5, b""),  # an empty order
    string(1, b"mg") + field(2, 0, varint(0)),  # a field sent with its default value
    string(1, "中😀".encode()) + string(5, string(1, b"\x00")),
])
def test_unusual_but_simple_requests_read_as_protobuf_reads_them(data):
    assert same_as_protobuf(data)


def test_field_order_does_not_matter():
    parts = [string(5, VALID.order.SerializeToString()), string(1, b"mg"), field(2, 0, varint(2)),
             field(3, 0, varint(1)), string(6, VALID.session_key.encode())]
    for seed in range(5):
        random.Random(seed).shuffle(parts)
        data = b"".join(parts)
        assert same_as_protobuf(data)
        assert ORDERS.sign(scan(data), ANONYMOUS, HEAD, False)[0][0] is not None


def test_a_batch_is_split_into_its_requests_or_left_to_protobuf():
    items = [VALID.SerializeToString(), VALID_VP.SerializeToString(), b""]
    batch = pb.BatchSignOrdersRequest(requests=[pb.SignOrderRequest.FromString(i) for i in items])
    data = batch.SerializeToString()
    assert scan(data, True) == tuple(items)
    assert scan(b"", True) == ()
    assert ORDERS.sign(scan(data, True), ANONYMOUS, HEAD, True) == ORDERS.sign(batch.requests, ANONYMOUS, HEAD, True)
    assert scan(data + field(2, 0, varint(1)), True) is None  # an unknown batch field
    assert scan(data + string(1, field(2, 0, varint(1)) * 2), True) is None  # one item not simple
    assert scan(data[:-1], True) is None  # truncated


def test_the_servicer_keeps_the_bytes_of_what_the_fast_path_reads_and_parses_the_rest():
    from paysig.server.servicer import SPECS, Undecodable, fast_deserializer

    unary, batch = fast_deserializer(SPECS["SignOrder"]), fast_deserializer(SPECS["BatchSignOrders"])
    assert isinstance(unary(VALID.SerializeToString()), fastpath.RawOrders)
    assert unary(VALID.SerializeToString()).message() == VALID
    with_unknown = unary(VALID.SerializeToString() + field(15, 0, varint(1)))
    assert isinstance(with_unknown, pb.SignOrderRequest) and with_unknown.app_id == VALID.app_id
    assert isinstance(unary(string(1, b"\xff")), Undecodable)
    raw = batch(pb.BatchSignOrdersRequest(requests=[VALID, VALID_VP]).SerializeToString())
    assert isinstance(raw, fastpath.RawOrders) and [raw.item(0), raw.item(1)] == [VALID, VALID_VP]
    assert isinstance(batch(string(1, string(1, b"\xff"))), Undecodable)


def overlong(n: int, size: int) -> bytes:
    """n as a varint of ``size`` bytes (needless continuation bytes)."""
    out = bytearray(varint(n))
    while len(out) < size:
        out[-1] |= 0x80
        out.append(0)
    return bytes(out)


@pytest.mark.parametrize("size", range(1, 11))
def test_tags_and_lengths_of_more_than_five_bytes_are_left_to_protobuf_which_refuses_them(size):
    """upb reads a tag or a length of at most 5 bytes, even when a longer one
    has a small value; it reads any value varint of up to 10 bytes."""
    cases = {
        "app_id's tag": overlong(1 << 3 | 2, size) + varint(2) + b"mg",
        "app_id's length": field(1, 2, overlong(2, size) + b"mg"),
        "order's tag": overlong(5 << 3 | 2, size) + varint(0),
        "order's length": field(5, 2, overlong(3, size) + string(1, b"a")),
        "a tag in the order": string(5, overlong(1 << 3 | 2, size) + varint(1) + b"a"),
    }
    for name, data in cases.items():
        try:
            pb.SignOrderRequest.FromString(data)
            parses = True
        except DecodeError:
            parses = False
        assert parses == (size <= 5), name
        assert (scan(data) is not None) == parses, name
        if parses:
            assert same_as_protobuf(data)
        batch = overlong(1 << 3 | 2, size) + varint(len(VALID.SerializeToString())) + VALID.SerializeToString()
        assert (scan(batch, True) is not None) == (size <= 5)
        batch = field(1, 2, overlong(0, size))
        assert (scan(batch, True) is not None) == (size <= 5)
    assert same_as_protobuf(field(2, 0, overlong(2, size)))  # a value: up to 10 bytes
