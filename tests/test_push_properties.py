"""Property-based tests of the push parser and VerifyNotification (in
process): any bytes are parsed or refused as Malformed, never anything else;
a random body or Encrypt is never accepted in safe mode; any authentic push
built by the test (hmac, pyca/cryptography) is accepted with its fields."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pushes
from paysig.server.config import parse_config
from paysig.server.errors import PaysigError
from paysig.server.ops.verify_notification import verify_notification
from paysig.server.push_parse import Malformed, parse_message
from paysig.v1 import signer_pb2 as pb

TOKEN, AES, APPID, KEY = "propToken1", "PropertyKeyPropertyKeyPropertyKeyProperty12", "wx0000111122223333", "prop-key"
CONFIG = parse_config({"apps": [
    {"app_id": "safe", "kind": "minigame", "offer_id": "1", "keys": {"production": {"value": KEY}},
     "push": {"token": {"value": TOKEN}, "encoding_aes_key": {"value": AES}, "wechat_appid": APPID}},
    {"app_id": "plain", "kind": "miniprogram", "offer_id": "1", "keys": {"production": {"value": KEY}},
     "push": {"token": {"value": TOKEN}, "mode": "plain"}},
]}, source="test", base_dir=Path("."))
PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True).filter(lambda n: n.lower() != "xml")
XML_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)
SEEDS = [b"{", b"<xml>", b'{"a":', b"<xml><a>", b"<!DOCTYPE", b"&", b"]]>", b"\xef\xbb\xbf", b"<?xml?>",
         rb'"\ud800"', rb'"\udc00\ud800"', rb'"\ud83d\ude00"']
RAW = st.one_of(st.binary(max_size=300), st.lists(st.sampled_from(SEEDS + [b"}", b"</a>", b"</xml>", b"1", b'"']),
                                                  max_size=40).map(b"".join))


@PROPS
@given(data=RAW)
def test_any_bytes_parse_or_are_malformed(data):
    try:
        fmt, tree = parse_message(data)
    except Malformed:
        return
    assert isinstance(tree, dict)
    json.dumps(tree, ensure_ascii=False).encode("utf-8")  # every string is valid Unicode (no lone surrogate)


@PROPS
@given(fields=st.dictionaries(NAME, XML_TEXT, max_size=8))
def test_xml_and_json_round_trip(fields):
    xml = "<xml>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items()) + "</xml>"
    assert parse_message(xml.encode())[1] == fields
    assert parse_message(json.dumps(fields).encode())[1] == fields


def _verify(app_id: str, query: str, body: bytes):
    try:
        return verify_notification(CONFIG, pb.VerifyNotificationRequest(app_id=app_id, http_method="POST",
                                                                         query=query, body=body))
    except PaysigError:
        return None


@PROPS
@given(body=RAW, encrypt=st.one_of(st.text(max_size=200), st.binary(min_size=1, max_size=200).map(
    lambda b: base64.b64encode(b).decode())))
def test_random_bodies_and_ciphertexts_are_never_accepted_in_safe_mode(body, encrypt):
    assert _verify("safe", pushes.plain_query(TOKEN), body).result == pb.NOTIFICATION_RESULT_REJECTED
    query, envelope = pushes.safe_envelope(TOKEN, encrypt)  # msg_signature right: decryption is reached
    assert _verify("safe", query, envelope).result == pb.NOTIFICATION_RESULT_REJECTED


@PROPS
@given(body=RAW, query=st.text(max_size=200))
def test_plain_mode_answers_any_input(body, query):
    response = _verify("plain", query, body)
    if response is not None and response.result == pb.NOTIFICATION_RESULT_ACCEPTED:
        assert response.notification.message.encode() == body and not response.notification.body_authenticated


TRADE = st.from_regex(r"[0-9A-Za-z_\-|*@]{1,32}", fullmatch=True)


@settings(max_examples=100, deadline=None)
@given(out_trade_no=TRADE, quantity=st.integers(1, 2**53), attach=st.text(max_size=60), xml=st.booleans(),
       env=st.sampled_from([0, 1]))
def test_authentic_pushes_are_accepted(out_trade_no, quantity, attach, xml, env):
    payload = pushes.goods_payload(out_trade_no, 0, Quantity=quantity, Attach=attach)
    event = "minigame_game_pay_goods_deliver_notify"
    sig = hmac.new(KEY.encode(), f"{event}&{payload}".encode(), hashlib.sha256).hexdigest()
    if xml and "]]>" in payload:
        return  # a CDATA section cannot hold "]]>"
    message = pushes.minigame_message(event, payload, None, xml=xml, sig=sig)
    response = _verify("safe", *pushes.safe_push(TOKEN, AES, APPID, message, xml=xml))
    assert response.result == pb.NOTIFICATION_RESULT_ACCEPTED, response.reject_reason
    n = response.notification
    assert (n.out_trade_no, n.goods.quantity, n.goods.attach, n.payload) == (out_trade_no, quantity, attach, payload)
