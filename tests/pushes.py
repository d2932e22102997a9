"""WeChat's side of the message push, built independently of paysig: SHA-1
signatures with hashlib, AES-256-CBC and PKCS#7 (32-byte blocks) with
pyca/cryptography, PayEventSig with the openssl CLI. Tests use it to build
pushes; nothing here imports paysig."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from urllib.parse import urlencode

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def sha1_sorted(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def openssl_hmac(key: str, message: str) -> str:
    out = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", key], input=message.encode("utf-8"),
                         capture_output=True, check=True).stdout.decode()
    return out.strip().split()[-1]


def aes_key(encoding_aes_key: str) -> bytes:
    return base64.b64decode(encoding_aes_key + "=")


def wechat_encrypt(encoding_aes_key: str, appid: str, message: bytes, random16: bytes | None = None) -> str:
    """Encrypt as WeChat does: base64(AES-256-CBC(random16 + len + message + appid))."""
    key = aes_key(encoding_aes_key)
    plain = (random16 or os.urandom(16)) + len(message).to_bytes(4, "big") + message + appid.encode("utf-8")
    padder = padding.PKCS7(256).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def raw_encrypt(encoding_aes_key: str, padded: bytes) -> str:
    """AES-256-CBC of bytes the caller padded (or did not): for bad-padding tests."""
    key = aes_key(encoding_aes_key)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def wechat_decrypt(encoding_aes_key: str, encrypt: str) -> tuple[bytes, bytes]:
    key = aes_key(encoding_aes_key)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    padded = decryptor.update(base64.b64decode(encrypt)) + decryptor.finalize()
    unpadder = padding.PKCS7(256).unpadder()
    plain = unpadder.update(padded) + unpadder.finalize()
    length = int.from_bytes(plain[16:20], "big")
    return plain[20:20 + length], plain[20 + length:]


def plain_query(token: str, timestamp: str = "1714037059", nonce: str = "486452656", **extra: str) -> str:
    return urlencode({"signature": sha1_sorted(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
                      **extra})


def safe_push(token: str, encoding_aes_key: str, appid: str, message: bytes, *, xml: bool = False,
              timestamp: str = "1714112445", nonce: str = "415670741",
              random16: bytes | None = None) -> tuple[str, bytes]:
    """(query, body) of a safe-mode push of ``message``."""
    encrypt = wechat_encrypt(encoding_aes_key, appid, message, random16)
    return safe_envelope(token, encrypt, xml=xml, timestamp=timestamp, nonce=nonce)


def safe_envelope(token: str, encrypt: str, *, xml: bool = False, timestamp: str = "1714112445",
                  nonce: str = "415670741") -> tuple[str, bytes]:
    query = urlencode({"signature": sha1_sorted(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
                       "openid": "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", "encrypt_type": "aes",
                       "msg_signature": sha1_sorted(token, timestamp, nonce, encrypt)})
    if xml:
        body = f"<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    else:
        body = json.dumps({"ToUserName": "gh_97417a04a28d", "Encrypt": encrypt})
    return query, body.encode("utf-8")


def goods_payload(out_trade_no: str, env: int = 0, **goods) -> str:
    info = {"ProductId": "sword", "Quantity": 2, "ZoneId": "1", "OrigPrice": 100, "ActualPrice": 180,
            "Attach": "player-7", "OrderSource": 1, **goods}
    return json.dumps({"OpenId": "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", "Env": env, "OutTradeNo": out_trade_no,
                       "GoodsInfo": info,
                       "WeChatPayInfo": {"MchOrderNo": "M" + out_trade_no, "TransactionId": "T" + out_trade_no}},
                      separators=(",", ":"))


def minigame_message(event: str, payload: str, app_key: str | None, *, is_mock: bool = False,
                     xml: bool = False, sig: str | None = None) -> bytes:
    """A mini-game payment event; PayEventSig made with openssl unless ``sig``."""
    if sig is None:
        sig = openssl_hmac(app_key, f"{event}&{payload}")
    if xml:
        return (f"<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName>"
                f"<FromUserName><![CDATA[o9AgO5Kd5ggOC-bXrbNODIiE3bGY]]></FromUserName>"
                f"<CreateTime>1714112445</CreateTime><MsgType><![CDATA[event]]></MsgType>"
                f"<Event><![CDATA[{event}]]></Event><MiniGame><Payload><![CDATA[{payload}]]></Payload>"
                f"<PayEventSig><![CDATA[{sig}]]></PayEventSig><IsMock>{str(is_mock).lower()}</IsMock>"
                f"</MiniGame></xml>").encode("utf-8")
    return json.dumps({"ToUserName": "gh_97417a04a28d", "FromUserName": "o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
                       "CreateTime": 1714112445, "MsgType": "event", "Event": event,
                       "MiniGame": {"Payload": payload, "PayEventSig": sig, "IsMock": is_mock}},
                      ensure_ascii=False).encode("utf-8")


def xpay_goods_message(out_trade_no: str, *, env: int = 0, xml: bool = False) -> bytes:
    if xml:
        return (f"<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName>"
                f"<FromUserName><![CDATA[o9AgO5Kd5ggOC-bXrbNODIiE3bGY]]></FromUserName>"
                f"<CreateTime>1714112445</CreateTime><MsgType><![CDATA[event]]></MsgType>"
                f"<Event><![CDATA[xpay_goods_deliver_notify]]></Event>"
                f"<OpenId><![CDATA[o9AgO5Kd5ggOC-bXrbNODIiE3bGY]]></OpenId>"
                f"<OutTradeNo><![CDATA[{out_trade_no}]]></OutTradeNo><Env>{env}</Env>"
                f"<WeChatPayInfo><MchOrderNo><![CDATA[M{out_trade_no}]]></MchOrderNo>"
                f"<TransactionId><![CDATA[T{out_trade_no}]]></TransactionId><PaidTime>1714112440</PaidTime>"
                f"</WeChatPayInfo><GoodsInfo><ProductId><![CDATA[gem]]></ProductId><Quantity>3</Quantity>"
                f"<OrigPrice>10</OrigPrice><ActualPrice>30</ActualPrice><Attach><![CDATA[a]]></Attach>"
                f"</GoodsInfo></xml>").encode("utf-8")
    return json.dumps({"ToUserName": "gh_97417a04a28d", "FromUserName": "o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
                       "CreateTime": 1714112445, "MsgType": "event", "Event": "xpay_goods_deliver_notify",
                       "OpenId": "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", "OutTradeNo": out_trade_no, "Env": env,
                       "WeChatPayInfo": {"MchOrderNo": "M" + out_trade_no, "TransactionId": "T" + out_trade_no,
                                         "PaidTime": 1714112440},
                       "GoodsInfo": {"ProductId": "gem", "Quantity": 3, "OrigPrice": 10, "ActualPrice": 30,
                                     "Attach": "a"},
                       "TeamInfo": {"ActivityId": "", "TeamId": "", "TeamType": 0, "TeamAction": 0}}).encode()
