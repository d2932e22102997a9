"""VerifyNotification through the real server: the published push vectors,
pushes built independently (tests/pushes.py: hashlib, pyca/cryptography,
openssl), forgeries, malformed bodies and malformed calls."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import grpc
import pytest

import pushes
from paysig.server import metrics
from paysig.server.config import parse_config
from paysig.server.ops.verify_notification import verify_notification
from paysig.v1 import signer_pb2 as pb
from support import REPO, error_details, running_server, signer_stub

VECTORS = json.loads((REPO / "tests" / "vectors" / "wechat-push.json").read_text())

TOKEN = "mgToken2024"
AES_CURRENT = "CurrentKeyCurrentKeyCurrentKeyCurrentKey123"
AES_PREVIOUS = "PreviousKeyPreviousKeyPreviousKeyPreviousK1"
AES_UNKNOWN = "UnknownKeyUnknownKeyUnknownKeyUnknownKey123"
APPID = "wx1111222233334444"
PROD_V2, PROD_V1, SANDBOX = "mg-production-key-v2", "mg-production-key-v1", "mg-sandbox-key-v1"
SUPERAPP_KEY = "superapp-key-1"
GOODS = "minigame_game_pay_goods_deliver_notify"
SECRETS = (TOKEN, AES_CURRENT, AES_PREVIOUS, PROD_V2, PROD_V1, SANDBOX, SUPERAPP_KEY)

ACCEPTED, REJECTED = pb.NOTIFICATION_RESULT_ACCEPTED, pb.NOTIFICATION_RESULT_REJECTED


def _push(mode: str, aes: bool = True, token: str = TOKEN) -> dict:
    push = {"token": {"value": token}, "mode": mode}
    if aes:
        push["encoding_aes_key"] = [{"version": 2, "value": AES_CURRENT}, {"version": 1, "value": AES_PREVIOUS}]
        push["wechat_appid"] = APPID
    return push


MG_KEYS = {"production": [{"version": 2, "value": PROD_V2}, {"version": 1, "value": PROD_V1}],
           "sandbox": {"value": SANDBOX}}


def _vector_app(app_id: str, v: dict) -> dict:
    return {"app_id": app_id, "kind": "miniprogram", "offer_id": "1", "keys": {"production": {"value": "k"}},
            "push": {"token": {"value": v["token"]}, "encoding_aes_key": {"value": v["encoding_aes_key"]},
                     "wechat_appid": v["appid"]}}


def config_dict(audit_path: Path) -> dict:
    apps = [_vector_app(f"dec-{i}", v) for i, v in enumerate(VECTORS["decrypt"])]
    apps += [_vector_app(f"enc-{i}", v) for i, v in enumerate(VECTORS["encrypt"])]
    apps += [
        {"app_id": "plain-aaaaa", "kind": "miniprogram", "offer_id": "1", "keys": {"production": {"value": "k"}},
         "push": {"token": {"value": "AAAAA"}, "mode": "plain"}},
        {"app_id": "mg", "kind": "minigame", "offer_id": "1", "keys": MG_KEYS, "push": _push("safe")},
        {"app_id": "mg-compat", "kind": "minigame", "offer_id": "1", "keys": MG_KEYS, "push": _push("compatible")},
        {"app_id": "mg-plain", "kind": "minigame", "offer_id": "1", "keys": {"production": {"value": PROD_V2}},
         "push": _push("plain", aes=False)},
        {"app_id": "mp", "kind": "miniprogram", "offer_id": "1", "keys": {"production": {"value": "k"}},
         "push": _push("safe")},
        {"app_id": "mp-plain", "kind": "miniprogram", "offer_id": "1", "keys": {"production": {"value": "k"}},
         "push": _push("plain", aes=False)},
        {"app_id": "sa", "kind": "superapp", "keys": {"production": {"value": SUPERAPP_KEY}}, "push": {}},
        {"app_id": "nopush", "kind": "miniprogram", "offer_id": "1", "keys": {"production": {"value": "k"}}},
    ]
    return {"apps": apps, "audit": {"path": str(audit_path)}}


@pytest.fixture(scope="module")
def audit_path(tmp_path_factory):
    return tmp_path_factory.mktemp("audit") / "audit.log"


@pytest.fixture(scope="module")
def config(audit_path):
    return parse_config(config_dict(audit_path), source="test", base_dir=Path("."))


@pytest.fixture(scope="module")
def stub(config):
    with running_server(config) as (_, port), signer_stub(port) as s:
        yield s


def call(stub, app_id: str, query: str, body: bytes = b"", method: str = "POST") -> pb.VerifyNotificationResponse:
    return stub.VerifyNotification(pb.VerifyNotificationRequest(app_id=app_id, http_method=method, query=query,
                                                                body=body), timeout=30)


def rejected(response, reason: str) -> bool:
    return (response.result == REJECTED and response.reject_reason == reason and not response.HasField("ack")
            and not response.HasField("notification") and response.nack.status >= 400)


# ---- the published vectors --------------------------------------------------------


def test_url_verification_vector(stub):
    v = VECTORS["url_signatures"][0]
    assert pushes.sha1_sorted(v["token"], v["timestamp"], v["nonce"]) == v["signature"]
    query = f"signature={v['signature']}&timestamp={v['timestamp']}&nonce={v['nonce']}&echostr={v['echostr']}"
    r = call(stub, "dec-0", query, method="GET")
    assert r.result == pb.NOTIFICATION_RESULT_URL_VERIFICATION and not r.reject_reason
    assert (r.ack.status, r.ack.body) == (200, v["echostr"].encode())
    assert r.ack.content_type.startswith("text/plain")
    forged = query.replace(v["signature"], v["signature"][:-1] + "0")
    assert rejected(call(stub, "dec-0", forged, method="GET"), "TRANSPORT_SIGNATURE_MISMATCH")
    assert rejected(call(stub, "mg", query, method="GET"), "TRANSPORT_SIGNATURE_MISMATCH")  # another token


def test_plain_post_vector(stub):
    v = VECTORS["url_signatures"][1]
    assert pushes.sha1_sorted(v["token"], v["timestamp"], v["nonce"]) == v["signature"]
    query = f"signature={v['signature']}&timestamp={v['timestamp']}&nonce={v['nonce']}&openid=o9AgO5Kd5ggOC"
    body = b'{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC","CreateTime":1714037059,' \
           b'"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}'
    r = call(stub, "plain-aaaaa", query, body)
    assert r.result == ACCEPTED
    n = r.notification
    assert (n.event, n.msg_type, n.create_time, n.encrypted, n.body_authenticated) == (
        "debug_demo", "event", 1714037059, False, False)
    assert n.message == body.decode() and n.kind == pb.NOTIFICATION_KIND_OTHER
    assert (r.ack.status, r.ack.body) == (200, b"success")
    # the same plain push to an app in safe mode (same token)
    assert rejected(call(stub, "dec-0", query, body), "UNENCRYPTED_NOT_ALLOWED")


@pytest.mark.parametrize("index", range(len(VECTORS["decrypt"])))
def test_decrypt_vectors(stub, index):
    v = VECTORS["decrypt"][index]
    assert pushes.sha1_sorted(v["token"], v["timestamp"], v["nonce"], v["encrypt"]) == v["msg_signature"]
    signature = pushes.sha1_sorted(v["token"], v["timestamp"], v["nonce"])
    if "signature" in v:
        assert signature == v["signature"]
    query = v.get("query") or (f"signature={signature}&timestamp={v['timestamp']}&nonce={v['nonce']}"
                               f"&encrypt_type=aes&msg_signature={v['msg_signature']}")
    xml = v["plaintext"].startswith("<")
    if xml:
        body = f"<xml><ToUserName><![CDATA[gh]]></ToUserName><Encrypt><![CDATA[{v['encrypt']}]]></Encrypt></xml>"
    else:
        body = json.dumps({"ToUserName": "gh_97417a04a28d", "Encrypt": v["encrypt"]})
    r = call(stub, f"dec-{index}", query, body.encode())
    assert r.result == ACCEPTED, r.reject_reason
    n = r.notification
    assert n.message == v["plaintext"]
    assert (n.encrypted, n.body_authenticated, n.aes_key_version) == (True, True, 1)
    assert n.format == (pb.NOTIFICATION_FORMAT_XML if xml else pb.NOTIFICATION_FORMAT_JSON)
    assert n.to_user_name.startswith("gh_") and n.from_user_name
    # another app's key and appid: no decryption
    other = (index + 1) % len(VECTORS["decrypt"])
    if VECTORS["decrypt"][other]["token"] == v["token"]:
        assert call(stub, f"dec-{other}", query, body.encode()).result == REJECTED


@pytest.mark.parametrize("index", range(len(VECTORS["encrypt"])))
def test_encrypt_vectors(stub, index):
    """The test's encryption reproduces WeChat's, then pushes the vector."""
    v = VECTORS["encrypt"][index]
    random16 = v["random"].encode()
    built = pushes.wechat_encrypt(v["encoding_aes_key"], v["appid"], v["plaintext"].encode(), random16)
    assert built == v["encrypt"]
    assert pushes.wechat_decrypt(v["encoding_aes_key"], v["encrypt"]) == (v["plaintext"].encode(), v["appid"].encode())
    timestamp, nonce = v.get("timestamp", "1409735669"), v.get("nonce", "1320562132")
    if "msg_signature" in v:
        assert pushes.sha1_sorted(v["token"], timestamp, nonce, v["encrypt"]) == v["msg_signature"]
    query, body = pushes.safe_envelope(v["token"], v["encrypt"], timestamp=timestamp, nonce=nonce)
    r = call(stub, f"enc-{index}", query, body)
    if v["plaintext"][:1] in "{<":
        assert r.result == ACCEPTED and r.notification.message == v["plaintext"]
    else:
        # decrypted with the right appid, but not a message: the last check refuses it
        assert rejected(r, "MALFORMED_BODY")


# ---- mini-game payment events ---------------------------------------------------------


def goods_push(out_trade_no: str, *, env: int = 0, key: str = PROD_V2, xml: bool = False, is_mock: bool = False,
               aes: str = AES_CURRENT, appid: str = APPID, sig: str | None = None) -> tuple[str, bytes, str]:
    payload = pushes.goods_payload(out_trade_no, env)
    message = pushes.minigame_message(GOODS, payload, key, is_mock=is_mock, xml=xml, sig=sig)
    query, body = pushes.safe_push(TOKEN, aes, appid, message, xml=xml)
    return query, body, payload


@pytest.mark.parametrize("xml", [False, True])
def test_minigame_goods_safe_mode(stub, xml):
    query, body, payload = goods_push("ORDER0001", xml=xml)
    r = call(stub, "mg", query, body)
    assert r.result == ACCEPTED, r.reject_reason
    n = r.notification
    assert (n.event, n.kind, n.env, n.out_trade_no, n.openid) == (
        GOODS, pb.NOTIFICATION_KIND_GOODS_DELIVER, pb.ENV_PRODUCTION, "ORDER0001", "o9AgO5Kd5ggOC-bXrbNODIiE3bGY")
    assert (n.payload, n.key_version, n.aes_key_version, n.is_mock) == (payload, 2, 2, False)
    assert n.body_authenticated and n.encrypted
    g = n.goods
    assert (g.product_id, g.quantity, g.zone_id, g.orig_price, g.actual_price, g.attach, g.order_source) == (
        "sword", 2, "1", 100, 180, "player-7", "1")
    assert (n.wechat_pay.mch_order_no, n.wechat_pay.transaction_id) == ("MORDER0001", "TORDER0001")
    if xml:
        assert r.ack.body == b"<xml><ErrCode>0</ErrCode><ErrMsg>Success</ErrMsg></xml>"
        assert b"<ErrCode>99999</ErrCode>" in r.nack.body
    else:
        assert json.loads(r.ack.body) == {"ErrCode": 0, "ErrMsg": "Success"}
        assert r.ack.content_type == "application/json"
        assert json.loads(r.nack.body)["ErrCode"] != 0
    assert r.ack.status == r.nack.status == 200


def test_sandbox_env_uses_sandbox_key(stub):
    query, body, _ = goods_push("ORDER0002", env=1, key=SANDBOX)
    r = call(stub, "mg", query, body)
    assert r.result == ACCEPTED and r.notification.env == pb.ENV_SANDBOX and r.notification.key_version == 1
    # the production key over "Env":1: the most common mistake, and a forgery here
    query, body, _ = goods_push("ORDER0003", env=1, key=PROD_V2)
    assert rejected(call(stub, "mg", query, body), "PAY_EVENT_SIG_MISMATCH")


def test_previous_app_key_and_previous_aes_key(stub):
    query, body, _ = goods_push("ORDER0004", key=PROD_V1, aes=AES_PREVIOUS)
    r = call(stub, "mg", query, body)
    assert r.result == ACCEPTED
    assert (r.notification.key_version, r.notification.aes_key_version) == (1, 1)


def test_unknown_aes_key_and_wrong_appid(stub):
    query, body, _ = goods_push("ORDER0005", aes=AES_UNKNOWN)
    assert rejected(call(stub, "mg", query, body), "DECRYPT_FAILED")
    query, body, _ = goods_push("ORDER0006", appid="wx9999888877776666")
    r = call(stub, "mg", query, body)
    assert rejected(r, "APPID_MISMATCH") and r.nack.status == 403 and b"APPID" not in r.nack.body


def test_pay_event_sig_forgeries(stub):
    query, body, _ = goods_push("ORDER0007", key="not-the-app-key")
    assert rejected(call(stub, "mg", query, body), "PAY_EVENT_SIG_MISMATCH")
    query, body, _ = goods_push("ORDER0008", sig=pushes.openssl_hmac(PROD_V2, "x").upper())
    assert rejected(call(stub, "mg", query, body), "PAY_EVENT_SIG_MISMATCH")
    query, body, _ = goods_push("ORDER0009", sig="")
    assert rejected(call(stub, "mg", query, body), "PAY_EVENT_SIG_MISSING")
    # a PayEventSig over another event name
    payload = pushes.goods_payload("ORDER0010")
    message = pushes.minigame_message(GOODS, payload, None, sig=pushes.openssl_hmac(PROD_V2, f"other&{payload}"))
    query, body = pushes.safe_push(TOKEN, AES_CURRENT, APPID, message)
    assert rejected(call(stub, "mg", query, body), "PAY_EVENT_SIG_MISMATCH")
    # a payment event without its MiniGame part
    message = json.dumps({"MsgType": "event", "Event": GOODS, "OutTradeNo": "ORDER0011"}).encode()
    query, body = pushes.safe_push(TOKEN, AES_CURRENT, APPID, message)
    assert rejected(call(stub, "mg", query, body), "PAY_EVENT_SIG_MISSING")


def test_a_plain_push_takes_the_openid_only_from_its_signed_payload(stub):
    """Unencrypted, only the Payload is covered (by PayEventSig): the
    envelope's FromUserName is anyone's, so it never becomes the openid of
    an authenticated notification. A refund's Payload names no OpenId."""
    refund = json.dumps({"RefundId": "R9", "RefundAmount": 180, "RefundSource": 1, "Env": 0,
                         "OutTradeNo": "ORDER0099"})
    message = json.loads(pushes.minigame_message("minigame_pay_refund_succ_notify", refund, PROD_V2))
    message["FromUserName"] = "o-someone-else"
    r = call(stub, "mg-plain", pushes.plain_query(TOKEN), json.dumps(message).encode())
    assert r.result == ACCEPTED and r.notification.body_authenticated, r.reject_reason
    assert (r.notification.openid, r.notification.from_user_name) == ("", "o-someone-else")
    goods = json.loads(pushes.minigame_message(GOODS, pushes.goods_payload("ORDER0098"), PROD_V2))
    goods["FromUserName"] = "o-someone-else"
    r = call(stub, "mg-plain", pushes.plain_query(TOKEN), json.dumps(goods).encode())
    assert r.result == ACCEPTED and r.notification.openid == json.loads(pushes.goods_payload("ORDER0098"))["OpenId"]
    # encrypted, the whole message is proven: FromUserName stands in for a missing OpenId
    encrypted = pushes.minigame_message("minigame_pay_refund_succ_notify", refund, PROD_V2)
    r = call(stub, "mg", *pushes.safe_push(TOKEN, AES_CURRENT, APPID, encrypted))
    assert r.result == ACCEPTED and r.notification.openid == "o9AgO5Kd5ggOC-bXrbNODIiE3bGY"


def test_mock_push(stub):
    query, body, _ = goods_push("ORDER0012", is_mock=True)
    r = call(stub, "mg", query, body)
    assert r.result == ACCEPTED and r.notification.is_mock


def test_coin_and_refund_events(stub):
    coin = json.dumps({"OpenId": "o1", "OutTradeNo": "COIN0001", "Env": 0,
                       "CoinInfo": {"ZoneId": "2", "TotalPrice": 600, "BuyQuantity": 60, "OrigPrice": 600},
                       "WeChatPayInfo": {"MchOrderNo": "m", "TransactionId": "t"}})
    message = pushes.minigame_message("minigame_coin_deliver_completed", coin, PROD_V2)
    r = call(stub, "mg", *pushes.safe_push(TOKEN, AES_CURRENT, APPID, message))
    assert r.result == ACCEPTED and r.notification.kind == pb.NOTIFICATION_KIND_COIN_DELIVER
    c = r.notification.coin
    assert (c.quantity, c.zone_id, c.actual_price, c.orig_price) == (60, "2", 600, 600)
    refund = json.dumps({"RefundId": "R1", "RefundAmount": 180, "RefundSource": 2, "Env": 1,
                         "OutTradeNo": "ORDER0001", "WeChatPayInfo": {"MchOrderNo": "m", "TransactionId": "t"}})
    message = pushes.minigame_message("minigame_pay_refund_succ_notify", refund, SANDBOX)
    r = call(stub, "mg", *pushes.safe_push(TOKEN, AES_CURRENT, APPID, message))
    assert r.result == ACCEPTED and r.notification.kind == pb.NOTIFICATION_KIND_REFUND
    f = r.notification.refund
    assert (f.refund_id, f.refund_amount, f.refund_source, r.notification.env) == ("R1", 180, 2, pb.ENV_SANDBOX)
    # a field of the wrong type inside a signed payload
    bad = json.dumps({"OutTradeNo": "X1234567", "Env": 0, "CoinInfo": {"BuyQuantity": 1.5}})
    message = pushes.minigame_message("minigame_coin_deliver_completed", bad, PROD_V2)
    assert rejected(call(stub, "mg", *pushes.safe_push(TOKEN, AES_CURRENT, APPID, message)), "MALFORMED_PAYLOAD")
    lone = '{"OutTradeNo":"X1234567","Env":0,"GoodsInfo":{"Attach":"\\udc00"}}'  # an unpaired surrogate
    message = pushes.minigame_message(GOODS, lone, PROD_V2)
    assert rejected(call(stub, "mg", *pushes.safe_push(TOKEN, AES_CURRENT, APPID, message)), "MALFORMED_PAYLOAD")
    message = json.dumps({"MsgType": "event", "Event": GOODS, "MiniGame": {"Payload": "\ud800", "PayEventSig": "0"}})
    assert rejected(call(stub, "mg", *pushes.safe_push(TOKEN, AES_CURRENT, APPID, message.encode())),
                    "MALFORMED_BODY")
    bad = json.dumps({"OutTradeNo": "X1234567", "Env": 2})
    message = pushes.minigame_message(GOODS, bad, PROD_V2)
    assert rejected(call(stub, "mg", *pushes.safe_push(TOKEN, AES_CURRENT, APPID, message)), "MALFORMED_PAYLOAD")


# ---- mini-program xpay_* and super-app pushes --------------------------------------------


@pytest.mark.parametrize("xml", [False, True])
def test_xpay_goods_safe_mode(stub, xml):
    message = pushes.xpay_goods_message("XPAY00001", xml=xml)
    r = call(stub, "mp", *pushes.safe_push(TOKEN, AES_CURRENT, APPID, message, xml=xml))
    assert r.result == ACCEPTED, r.reject_reason
    n = r.notification
    assert (n.kind, n.out_trade_no, n.env, n.body_authenticated, n.payload, n.key_version) == (
        pb.NOTIFICATION_KIND_GOODS_DELIVER, "XPAY00001", pb.ENV_PRODUCTION, True, "", 0)
    assert (n.goods.product_id, n.goods.quantity, n.goods.actual_price, n.wechat_pay.paid_time) == ("gem", 3, 30,
                                                                                                   1714112440)
    if xml:
        assert r.ack.body == b"<xml><ErrCode>0</ErrCode><ErrMsg>success</ErrMsg></xml>"
    else:
        assert json.loads(r.ack.body) == {"ErrCode": 0, "ErrMsg": "success"}


def test_plain_mode_replayed_query_carries_any_body(stub):
    """The plain-mode signature does not cover the body: a replayed query
    with another body is accepted, and says body_authenticated = false."""
    query = pushes.plain_query(TOKEN)
    first = call(stub, "mp-plain", query, pushes.xpay_goods_message("XPAY00002"))
    replay = call(stub, "mp-plain", query, pushes.xpay_goods_message("FORGED0001"))
    for r in (first, replay):
        assert r.result == ACCEPTED and not r.notification.body_authenticated and not r.notification.encrypted
    assert replay.notification.out_trade_no == "FORGED0001"
    # on a mini game, PayEventSig still covers the content
    payload = pushes.goods_payload("ORDER0013")
    message = pushes.minigame_message(GOODS, payload, PROD_V2)
    r = call(stub, "mg-plain", query, message)
    assert r.result == ACCEPTED and r.notification.body_authenticated
    tampered = message.replace(b'\\"Quantity\\":2', b'\\"Quantity\\":200')
    assert tampered != message
    assert rejected(call(stub, "mg-plain", query, tampered), "PAY_EVENT_SIG_MISMATCH")
    # the safe app refuses the same plain push
    assert rejected(call(stub, "mg", query, message), "UNENCRYPTED_NOT_ALLOWED")


def test_compatible_mode_takes_both(stub):
    payload = pushes.goods_payload("ORDER0014")
    message = pushes.minigame_message(GOODS, payload, PROD_V2)
    r = call(stub, "mg-compat", pushes.plain_query(TOKEN), message)
    assert r.result == ACCEPTED and not r.notification.encrypted and r.notification.body_authenticated
    r = call(stub, "mg-compat", *pushes.safe_push(TOKEN, AES_CURRENT, APPID, message))
    assert r.result == ACCEPTED and r.notification.encrypted


def test_encrypted_push_without_aes_key_or_app_key(stub):
    message = pushes.minigame_message(GOODS, pushes.goods_payload("ORDER0015"), PROD_V2)
    assert rejected(call(stub, "mg-plain", *pushes.safe_push(TOKEN, AES_CURRENT, APPID, message)),
                    "ENCRYPTION_NOT_CONFIGURED")
    message = pushes.minigame_message(GOODS, pushes.goods_payload("ORDER0016", env=1), SANDBOX)
    r = call(stub, "mg-plain", pushes.plain_query(TOKEN), message)
    assert rejected(r, "KEY_NOT_CONFIGURED") and r.nack.status == 500


def test_superapp_push(stub):
    payload = json.dumps({"OpenId": "u1", "Env": "0", "OutTradeNo": "SA000001",
                          "GoodsInfo": {"ProductId": "testproductId", "Quantity": 1, "ActualPrice": 10}})
    sig = pushes.openssl_hmac(SUPERAPP_KEY, f"{GOODS}&{payload}")
    body = json.dumps({"EventType": "event", "Event": GOODS, "PayModel": "goods", "Payload": payload,
                       "PayEventSig": sig}).encode()
    r = call(stub, "sa", "", body)
    assert r.result == ACCEPTED, r.reject_reason
    n = r.notification
    assert (n.env, n.out_trade_no, n.pay_model, n.msg_type, n.body_authenticated) == (
        pb.ENV_PRODUCTION, "SA000001", "goods", "event", True)
    ack = json.loads(r.ack.body)
    assert ack["returnCode"] == "0" and ack["data"] == "ok"
    assert json.loads(r.nack.body)["returnCode"] != "0"
    forged = body.replace(b"SA000001", b"SA000002")
    assert rejected(call(stub, "sa", "", forged), "PAY_EVENT_SIG_MISMATCH")
    unsigned = json.dumps({"EventType": "event", "Event": GOODS, "Payload": payload}).encode()
    assert rejected(call(stub, "sa", "", unsigned), "PAY_EVENT_SIG_MISSING")


@pytest.mark.parametrize("body", [
    {"Event": "xpay_goods_deliver_notify", "OutTradeNo": "FORGED01", "OpenId": "u1",
     "GoodsInfo": {"ProductId": "p", "Quantity": 1000, "ActualPrice": 1}},
    {"EventType": "event", "Event": "xpay_refund_notify", "OutTradeNo": "FORGED02"},
    {"EventType": "event", "Event": "some_other_event"},
])
def test_superapp_push_without_any_signature_is_rejected(stub, body):
    """Without the transport query, only pay_event_sig can prove a super-app
    push: a body without Payload and PayEventSig is anyone's."""
    r = call(stub, "sa", "", json.dumps(body).encode())
    assert rejected(r, "PAY_EVENT_SIG_MISSING"), (r.result, r.reject_reason)


# ---- forgeries and malformed bodies ------------------------------------------------------


def test_wrong_token(stub):
    message = pushes.minigame_message(GOODS, pushes.goods_payload("ORDER0017"), PROD_V2)
    query, body = pushes.safe_push("wrongToken", AES_CURRENT, APPID, message)
    assert rejected(call(stub, "mg", query, body), "TRANSPORT_SIGNATURE_MISMATCH")
    # the transport signature right, msg_signature made with another token
    good_query, body = pushes.safe_push(TOKEN, AES_CURRENT, APPID, message)
    params = dict(p.split("=", 1) for p in good_query.split("&"))
    bad_query, _ = pushes.safe_push("wrongToken", AES_CURRENT, APPID, message)
    params["msg_signature"] = dict(p.split("=", 1) for p in bad_query.split("&"))["msg_signature"]
    assert rejected(call(stub, "mg", "&".join(f"{k}={v}" for k, v in params.items()), body),
                    "MSG_SIGNATURE_MISMATCH")


ORIGINAL_MESSAGE = pushes.xpay_goods_message("FLIP00001")
ORIGINAL_ENCRYPT = pushes.wechat_encrypt(AES_CURRENT, APPID, ORIGINAL_MESSAGE, b"0123456789abcdef")


def _flips(data: bytes):
    for i in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[i // 8] ^= 1 << (i % 8)
        yield i, bytes(flipped)


def test_every_bit_flip_of_encrypt(config, stub):
    """Every single-bit flip of the ciphertext and of the Encrypt text, with
    the original msg_signature: never accepted, never an error. Every op
    call runs in-process (thousands); a sample also goes over gRPC."""
    cipher = base64.b64decode(ORIGINAL_ENCRYPT)
    text = ORIGINAL_ENCRYPT.encode()
    original_query, _ = pushes.safe_envelope(TOKEN, ORIGINAL_ENCRYPT)
    assert verify_notification(config, pb.VerifyNotificationRequest(
        app_id="mp", http_method="POST", query=original_query,
        body=pushes.safe_envelope(TOKEN, ORIGINAL_ENCRYPT)[1])).result == ACCEPTED
    candidates = [base64.b64encode(f).decode() for _, f in _flips(cipher)]
    candidates += [f.decode("latin-1") for _, f in _flips(text)]
    for n, encrypt in enumerate(candidates):
        _, body = pushes.safe_envelope(TOKEN, encrypt)
        request = pb.VerifyNotificationRequest(app_id="mp", http_method="POST", query=original_query, body=body)
        r = verify_notification(config, request)
        assert r.result == REJECTED and r.reject_reason in ("MSG_SIGNATURE_MISMATCH", "MALFORMED_BODY"), n
        if n % 97 == 0:
            assert call(stub, "mp", original_query, body).result == REJECTED


def test_bit_flips_of_the_last_blocks_even_with_the_token(config):
    """A holder of the token can re-sign msg_signature, and CBC is malleable;
    still, a flip in the last two blocks (padding and appid) never decrypts
    to an accepted push."""
    cipher = base64.b64decode(ORIGINAL_ENCRYPT)
    start = len(cipher) - 32
    for i, flipped in _flips(cipher):
        if i < start * 8:
            continue
        encrypt = base64.b64encode(flipped).decode()
        query, body = pushes.safe_envelope(TOKEN, encrypt)
        r = verify_notification(config, pb.VerifyNotificationRequest(app_id="mp", http_method="POST", query=query,
                                                                      body=body))
        assert r.result == REJECTED and r.reject_reason in ("DECRYPT_FAILED", "APPID_MISMATCH"), i


def _resigned(stub, encrypt: str) -> pb.VerifyNotificationResponse:
    return call(stub, "mp", *pushes.safe_envelope(TOKEN, encrypt))


def test_decryption_failures_are_one_reason(stub):
    cipher = base64.b64decode(ORIGINAL_ENCRYPT)
    key = AES_CURRENT
    cases = {
        "bad base64": "not*base64!",
        "base64 with white space": ORIGINAL_ENCRYPT[:20] + " " + ORIGINAL_ENCRYPT[20:],
        "empty after decoding": "====",
        "truncated to 16-byte blocks": base64.b64encode(cipher[:-16]).decode(),
        "one AES block": base64.b64encode(cipher[:16]).decode(),
        "not a whole block": base64.b64encode(cipher[:-1]).decode(),
        "padding byte 0": pushes.raw_encrypt(key, b"x" * 63 + b"\x00"),
        "padding byte 33": pushes.raw_encrypt(key, b"x" * 31 + b"\x21" * 33),
        "inconsistent padding": pushes.raw_encrypt(key, b"x" * 60 + b"\x01\x04\x04\x04"),
        "16-byte block padding": pushes.raw_encrypt(key, b"x" * 48 + b"\x10" * 16),
        "length past the end": pushes.raw_encrypt(key, b"r" * 16 + (1000).to_bytes(4, "big") + b"{}"
                                                   + b"\x0a" * 10),
        "shorter than the header": pushes.raw_encrypt(key, b"r" * 10 + b"\x16" * 22),
    }
    for name, encrypt in cases.items():
        r = _resigned(stub, encrypt)
        assert rejected(r, "DECRYPT_FAILED"), name
        assert r.nack.body == b"forbidden", name


def test_appid_is_checked_exactly(stub):
    for appid in ("", "wx111122223333444", "wx11112222333344445", "WX1111222233334444", APPID + "\x00"):
        encrypt = pushes.wechat_encrypt(AES_CURRENT, appid, ORIGINAL_MESSAGE)
        assert rejected(_resigned(stub, encrypt), "APPID_MISMATCH"), appid


BOMB = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
                  for i in range(1, 10))
        + ']><xml><Content>&lol9;</Content></xml>')
XXE = '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Content>&x;</Content></xml>'
PARAM = '<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x">%p;]><xml/>'
UNDEFINED = "<xml><Content>&undefined;</Content></xml>"


@pytest.mark.parametrize("body", [BOMB, XXE, PARAM, UNDEFINED], ids=["bomb", "xxe", "param", "undefined"])
def test_xml_entities_are_refused(stub, body):
    assert rejected(call(stub, "mp-plain", pushes.plain_query(TOKEN), body.encode()), "MALFORMED_BODY")
    r = call(stub, "mp", *pushes.safe_push(TOKEN, AES_CURRENT, APPID, body.encode()))
    assert rejected(r, "MALFORMED_BODY")


def test_huge_and_deep_bodies(stub):
    query = pushes.plain_query(TOKEN)
    huge = b'{"MsgType":"text","Content":"' + b"x" * (64 * 1024) + b'"}'
    r = call(stub, "mp-plain", query, huge)
    assert rejected(r, "BODY_TOO_LARGE") and r.nack.status == 413
    for depth in (17, 1000, 20000):
        deep_json = b'{"a":' * depth + b"1" + b"}" * depth
        deep_xml = b"<xml>" + b"<a>" * depth + b"1" + b"</a>" * depth + b"</xml>"
        for body in (deep_json[:64 * 1024], deep_xml[:64 * 1024]):
            assert rejected(call(stub, "mp-plain", query, body), "MALFORMED_BODY"), depth
    shallow = b'{"a":' * 15 + b"1" + b"}" * 15
    assert call(stub, "mp-plain", query, shallow).result == ACCEPTED
    deep = pushes.wechat_encrypt(AES_CURRENT, APPID, b"[" * 5000 + b"]" * 5000)
    assert rejected(_resigned(stub, deep), "MALFORMED_BODY")


@pytest.mark.parametrize("body", [
    b"", b"   ", b"not json", b"[1,2]", b'{"a":1,"a":2}', b'{"a":NaN}', b"\xff\xfe{}", b"<notxml/>",
    b"<xml><a>1</a><a>2</a></xml>", b"<xml><a>1</a>text</xml>", b"<xml>",
    b'{"MsgType":"event","Event":"xpay_goods_deliver_notify","GoodsInfo":{"Quantity":"many"}}',
    b'{"MsgType":"event","Event":"xpay_goods_deliver_notify","Env":"production"}',
    b'{"CreateTime":1e3}', b'{"MiniGame":"x"}', rb'{"MsgType":"text","Content":"\ud800"}', rb'{"\udfff":1}',
])
def test_malformed_plain_bodies(stub, body):
    assert rejected(call(stub, "mp-plain", pushes.plain_query(TOKEN), body), "MALFORMED_BODY")


def test_safe_push_without_encrypt_field(stub):
    query, _ = pushes.safe_envelope(TOKEN, ORIGINAL_ENCRYPT)
    assert rejected(call(stub, "mp", query, b'{"ToUserName":"gh"}'), "MALFORMED_BODY")
    assert rejected(call(stub, "mp", query, b'{"Encrypt":5}'), "MALFORMED_BODY")
    assert rejected(call(stub, "mp", query.replace("msg_signature=", "x="), pushes.safe_envelope(
        TOKEN, ORIGINAL_ENCRYPT)[1]), "MSG_SIGNATURE_MISMATCH")


# ---- malformed calls are errors ---------------------------------------------------------------


def _error(stub, **fields):
    request = {"app_id": "mp", "http_method": "POST", "query": pushes.plain_query(TOKEN), "body": b"{}", **fields}
    with pytest.raises(grpc.RpcError) as e:
        stub.VerifyNotification(pb.VerifyNotificationRequest(**request), timeout=30)
    return error_details(e.value)


def test_malformed_calls(stub):
    assert _error(stub, app_id="nope")[:2] == ("NOT_FOUND", "APP_NOT_FOUND")
    assert _error(stub, app_id="")[0] == "INVALID_ARGUMENT"
    code, reason, _, message = _error(stub, app_id="nopush")
    assert (code, reason) == ("FAILED_PRECONDITION", "PUSH_NOT_CONFIGURED")
    code, reason, violations, _ = _error(stub, query="timestamp=1&openid=x")
    assert (code, reason) == ("INVALID_ARGUMENT", "INVALID_REQUEST")
    assert sorted(violations) == [("query.nonce", "REQUIRED"), ("query.signature", "REQUIRED")]
    _, _, violations, _ = _error(stub, http_method="PUT")
    assert violations == [("http_method", "FORMAT")]
    _, _, violations, _ = _error(stub, http_method="GET")
    assert sorted(violations) == [("body", "NOT_ALLOWED"), ("query.echostr", "REQUIRED")]
    _, _, violations, _ = _error(stub, query="a=" + "x" * 5000)
    assert violations == [("query", "TOO_LONG")]
    _, _, violations, _ = _error(stub, query=pushes.plain_query(TOKEN) + "&nonce=1")
    assert violations == [("query.nonce", "FORMAT")]


# ---- audit and metrics ----------------------------------------------------------------------------


def test_audit_lines_and_metrics(stub, audit_path):
    m = metrics.get()
    accepted = m.notifications.labels("mg", "ACCEPTED", "")
    before = accepted._value.get()
    query, body, payload = goods_push("AUDIT0001")
    assert call(stub, "mg", query, body).result == ACCEPTED
    query, body, _ = goods_push("AUDIT0002", key="forged")
    assert call(stub, "mg", query, body).reject_reason == "PAY_EVENT_SIG_MISMATCH"
    assert accepted._value.get() == before + 1
    assert m.notifications.labels("mg", "REJECTED", "PAY_EVENT_SIG_MISMATCH")._value.get() >= 1
    lines = [json.loads(line) for line in audit_path.read_text().splitlines()]
    mine = [line for line in lines if line.get("rpc") == "VerifyNotification"]
    ok = next(line for line in mine if line.get("out_trade_no") == "AUDIT0001")
    assert (ok["app_id"], ok["event"], ok["notification_result"], ok["kind"], ok["env"]) == (
        "mg", GOODS, "ACCEPTED", "goods_deliver", "ENV_PRODUCTION")
    assert ok["code"] == "OK" and ok["key_version"] == 2 and ok["body_authenticated"] is True
    assert any(line.get("reject_reason") == "PAY_EVENT_SIG_MISMATCH" for line in mine)
    assert not any("AUDIT0002" in json.dumps(line) for line in mine)  # a rejected push's fields are unproven
    text = audit_path.read_text()
    for secret in SECRETS + (payload, "Encrypt", "msg_signature", "player-7"):
        assert secret not in text
