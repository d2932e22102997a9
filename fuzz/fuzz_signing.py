"""Coverage-guided fuzz target (atheris) for paysig's validation and signData
code: requests built from the fuzzer's bytes go through the operations
directly, and orders through the compiled fast path too. Any exception other
than PaysigError is a crash, and so is a signData that breaks a rule or a
fast-path answer that differs from the reference path's. Pushes: the fuzzer's
bytes as a plain body, and as the Encrypt of a correctly signed safe-mode
push (so the decryption and the inner parser are reached); a safe-mode push
that is accepted, or a plain one whose message is not the body, is a crash.
Request bytes: whatever the fast path reads as bytes (scan_orders) protobuf
must parse, and the bytes must sign exactly as the parsed messages do.

    python fuzz/fuzz_signing.py -max_total_time=60      (make fuzz)
"""

import base64
import hashlib
import json
import re
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from paysig.server.config import load_config, parse_config
    from paysig.server.errors import PaysigError
    from paysig.server.ops.sign_api_call import sign_api_call
    from paysig.server.ops.sign_order import sign_order
    from paysig.server.ops.verify_notification import verify_notification
    from paysig.server.ops.verify_signature import verify_signature
    from paysig.server.push_parse import Malformed, parse_message
    from paysig.v1 import signer_pb2 as pb

from paysig.server.access import ANONYMOUS  # noqa: E402
from paysig.server.fastpath import FastOrders, _fastsign  # noqa: E402

CONFIG = load_config(Path(__file__).resolve().parent.parent / "tests" / "conformance" / "config.toml")
APPS = ["mg", "mp", "sa", "sa-mp", "sa-env", "mg-prod-only", "nope", ""]
FAST = FastOrders(CONFIG)  # the compiled SignOrder path, held to the reference path's answers
OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,32}")
PUSH_TOKEN, PUSH_AES = "fuzzToken1", "FuzzKeyFuzzKeyFuzzKeyFuzzKeyFuzzKeyFuzzKey1"
PUSH_CONFIG = parse_config({"apps": [
    {"app_id": "safe", "kind": "minigame", "offer_id": "1", "keys": {"production": {"value": "k"}},
     "push": {"token": {"value": PUSH_TOKEN}, "encoding_aes_key": {"value": PUSH_AES},
              "wechat_appid": "wx0000111122223333"}},
    {"app_id": "plain", "kind": "miniprogram", "offer_id": "1", "keys": {"production": {"value": "k"}},
     "push": {"token": {"value": PUSH_TOKEN}, "mode": "plain"}},
    {"app_id": "sa", "kind": "superapp", "keys": {"production": {"value": "k"}}, "push": {}},
]}, source="fuzz", base_dir=Path("."))
TIMESTAMP, NONCE = "1714112445", "415670741"
VALID_ORDER = pb.SignOrderRequest(app_id="mg", env=1, api=1, session_key="9hAb/NEYUlkaMBEsmFgzig==", order=pb.Order(
    product_id="sword", goods_price=600, buy_quantity=1, out_trade_no="o-1")).SerializeToString()


def sha1_sorted(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


PLAIN_QUERY = f"signature={sha1_sorted(PUSH_TOKEN, TIMESTAMP, NONCE)}&timestamp={TIMESTAMP}&nonce={NONCE}"


def fuzz_push(fdp: atheris.FuzzedDataProvider) -> None:
    choice = fdp.ConsumeIntInRange(0, 2)
    raw = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4096))
    if choice == 0:
        try:
            assert isinstance(parse_message(raw)[1], dict)
        except Malformed:
            pass
        return
    if choice == 1:
        app_id = "plain" if fdp.ConsumeBool() else "sa"
        r = verify_notification(PUSH_CONFIG, pb.VerifyNotificationRequest(
            app_id=app_id, http_method="POST", query=PLAIN_QUERY if app_id == "plain" else "", body=raw))
        if r.result == pb.NOTIFICATION_RESULT_ACCEPTED:
            assert r.notification.message.encode() == raw, "the message is not the body"
        return
    encrypt = base64.b64encode(raw).decode() if fdp.ConsumeBool() else raw.decode("latin-1")
    query = f"{PLAIN_QUERY}&encrypt_type=aes&msg_signature={sha1_sorted(PUSH_TOKEN, TIMESTAMP, NONCE, encrypt)}"
    r = verify_notification(PUSH_CONFIG, pb.VerifyNotificationRequest(
        app_id="safe", http_method="POST", query=query, body=json.dumps({"Encrypt": encrypt}).encode()))
    assert r.result == pb.NOTIFICATION_RESULT_REJECTED, "a random ciphertext was accepted"


def fuzz_request_bytes(fdp: atheris.FuzzedDataProvider) -> None:
    batch = fdp.ConsumeBool()
    raw = (VALID_ORDER if fdp.ConsumeBool() else b"") + fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 512))
    if batch:
        raw = b"\x0a" + bytes([len(VALID_ORDER)]) + VALID_ORDER + raw
    items = _fastsign.scan_orders(raw, batch)
    if items is None:
        return
    message = (pb.BatchSignOrdersRequest if batch else pb.SignOrderRequest).FromString(raw)  # must not raise
    parsed = list(message.requests) if batch else [message]
    head = '{"rpc":"SignOrder"'
    assert FAST.sign(items, ANONYMOUS, head, batch) == FAST.sign(parsed, ANONYMOUS, head, batch), "bytes != message"


def text(fdp: atheris.FuzzedDataProvider) -> str:
    return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 80))


def number(fdp: atheris.FuzzedDataProvider) -> int:
    return fdp.ConsumeIntInRange(-2**63, 2**63 - 1) if fdp.ConsumeBool() else fdp.ConsumeIntInRange(-2, 1000)


def check_sign_data(sign_data: str) -> None:
    data = json.loads(sign_data)
    assert OUT_TRADE_NO.fullmatch(data["outTradeNo"]) and data["outTradeNo"][0] != "_", sign_data
    assert 1 <= data["buyQuantity"] <= 2**53 - 1, sign_data
    assert 1 <= data.get("goodsPrice", 1) <= 2**53 - 1, sign_data
    assert data.get("activitySellingPrice", 0) <= data.get("goodsPrice", 2**53), sign_data


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    choice = fdp.ConsumeIntInRange(0, 4)
    app_id = APPS[fdp.ConsumeIntInRange(0, len(APPS) - 1)]
    try:
        if choice == 0:
            order = pb.Order(product_id=text(fdp), goods_price=number(fdp), buy_quantity=number(fdp),
                             out_trade_no=text(fdp), attach=text(fdp), currency_type=text(fdp), platform=text(fdp),
                             zone_id=text(fdp))
            if fdp.ConsumeBool():
                order.activity_selling_price = number(fdp)
            request = pb.SignOrderRequest(app_id=app_id, env=fdp.ConsumeIntInRange(0, 3),
                                          api=fdp.ConsumeIntInRange(0, 3), mode=fdp.ConsumeIntInRange(0, 3),
                                          order=order, session_key=text(fdp))
            fast = FAST.sign((request,), ANONYMOUS, '{"rpc":"SignOrder"', False)[0][0]
            try:
                response = sign_order(CONFIG, request)
            except PaysigError:
                assert fast is None, "the fast path signed an order the reference path refuses"
                raise
            check_sign_data(response.sign_data)
            assert fast is None or pb.SignOrderResponse.FromString(fast) == response, "the paths disagree"
        elif choice == 1:
            sign_api_call(CONFIG, pb.SignApiCallRequest(app_id=app_id, env=fdp.ConsumeIntInRange(0, 3),
                                                        uri=text(fdp), body=text(fdp), session_key=text(fdp)))
        elif choice == 3:
            fuzz_push(fdp)
        elif choice == 4:
            fuzz_request_bytes(fdp)
        else:
            verify_signature(CONFIG, pb.VerifySignatureRequest(
                app_id=app_id, env=fdp.ConsumeIntInRange(0, 3), scheme=fdp.ConsumeIntInRange(0, 4),
                method=text(fdp), payload=text(fdp), signature=text(fdp), session_key=text(fdp)))
    except PaysigError:
        pass


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
