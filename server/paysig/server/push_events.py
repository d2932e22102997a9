"""What a push says (spec 6.2, 6.3, 4.3): its kind, typed payment fields and
the replies WeChat (or the super-app host) expects.

Values are read from a parsed tree (push_parse): JSON values as they are,
XML values as text. A text field takes a string or a whole number; a number
field takes a whole number or a string of digits; anything else is
Malformed, so a delivery is never built from a field read wrongly.
"""

from __future__ import annotations

import enum
import re
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from paysig.v1 import signer_pb2 as pb

from .push_parse import Format, Malformed  # a field that cannot be read is malformed too

MAX_INT64 = 2**63 - 1
_INTEGER = re.compile(r"-?[0-9]{1,19}")

# Mini-game payment events: each carries MiniGame{Payload, PayEventSig, IsMock}.
MINIGAME_PAY_EVENTS = frozenset({
    "minigame_game_pay_goods_deliver_notify", "minigame_h5_goods_deliver_notify", "minigame_deliver_h5_pay_products",
    "minigame_coin_deliver_completed", "minigame_recharge_center_coin_deliver_completed",
    "minigame_pay_refund_succ_notify",
})
SUPERAPP_EVENT = "minigame_game_pay_goods_deliver_notify"

KIND_BY_EVENT = {
    "minigame_game_pay_goods_deliver_notify": pb.NOTIFICATION_KIND_GOODS_DELIVER,
    "minigame_h5_goods_deliver_notify": pb.NOTIFICATION_KIND_GOODS_DELIVER,
    "minigame_deliver_h5_pay_products": pb.NOTIFICATION_KIND_GOODS_DELIVER,
    "xpay_goods_deliver_notify": pb.NOTIFICATION_KIND_GOODS_DELIVER,
    "minigame_coin_deliver_completed": pb.NOTIFICATION_KIND_COIN_DELIVER,
    "minigame_recharge_center_coin_deliver_completed": pb.NOTIFICATION_KIND_COIN_DELIVER,
    "xpay_coin_pay_notify": pb.NOTIFICATION_KIND_COIN_DELIVER,
    "minigame_pay_refund_succ_notify": pb.NOTIFICATION_KIND_REFUND,
    "xpay_refund_notify": pb.NOTIFICATION_KIND_REFUND,
    "xpay_complaint_notify": pb.NOTIFICATION_KIND_COMPLAINT,
    "xpay_subscribe_signing_result_notify": pb.NOTIFICATION_KIND_SUBSCRIPTION,
    "xpay_subscribe_pay_fail_notify": pb.NOTIFICATION_KIND_SUBSCRIPTION,
    "xpay_subscribe_ios_refund_query_notify": pb.NOTIFICATION_KIND_SUBSCRIPTION,
}
KIND_NAMES = {v: k.removeprefix("NOTIFICATION_KIND_").lower() for k, v in pb.NotificationKind.items()}


def kind_of(event: str) -> int:
    return KIND_BY_EVENT.get(event, pb.NOTIFICATION_KIND_OTHER)


# ---- reading values ----------------------------------------------------------

def text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if type(value) is int:
        return str(value)
    raise Malformed(key)


def integer(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    if value is None or value == "":
        return 0
    if type(value) is int:
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise Malformed(key)
    if not -MAX_INT64 - 1 <= number <= MAX_INT64:
        raise Malformed(key)
    return number


def flag(obj: dict[str, Any], key: str) -> bool:
    value = obj.get(key)
    if value is None or value is False or value in ("", "false", "0", 0):
        return False
    if value is True or value in ("true", "1", 1):
        return True
    raise Malformed(key)


def table(obj: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Malformed(key)
    return value


# ---- typed fields --------------------------------------------------------------

def _fill(message: Any, obj: dict[str, Any], fields: tuple[tuple[str, str], ...]) -> None:
    for key, name in fields:
        if key not in obj:
            continue
        field = message.DESCRIPTOR.fields_by_name[name]
        if field.type == FieldDescriptor.TYPE_STRING:
            setattr(message, name, text(obj, key))
            continue
        value = integer(obj, key)
        if field.type == FieldDescriptor.TYPE_INT32 and not -2**31 <= value < 2**31:
            raise Malformed(key)
        setattr(message, name, value)


_GOODS = (("ProductId", "product_id"), ("Quantity", "quantity"), ("ZoneId", "zone_id"), ("OrigPrice", "orig_price"),
          ("ActualPrice", "actual_price"), ("Attach", "attach"), ("OrderSource", "order_source"))
_COIN = (("BuyQuantity", "quantity"), ("Quantity", "quantity"), ("ZoneId", "zone_id"), ("OrigPrice", "orig_price"),
         ("TotalPrice", "actual_price"), ("ActualPrice", "actual_price"), ("Attach", "attach"))
_REFUND = (("RefundId", "refund_id"), ("RefundAmount", "refund_amount"), ("RefundSource", "refund_source"),
           ("WxRefundId", "wx_refund_id"), ("MchRefundId", "mch_refund_id"), ("WxOrderId", "wx_order_id"),
           ("MchOrderId", "mch_order_id"), ("RefundFee", "refund_fee"), ("RetCode", "ret_code"),
           ("RetMsg", "ret_msg"), ("RefundStartTimestamp", "refund_start_timestamp"),
           ("RefundSuccTimestamp", "refund_succ_timestamp"),
           ("WxpayRefundTransactionId", "wxpay_refund_transaction_id"), ("RetryTimes", "retry_times"))
_COMPLAINT = (("WxOrderId", "wx_order_id"), ("MchOrderId", "mch_order_id"), ("ComplaintTime", "complaint_time"),
              ("RetryTimes", "retry_times"), ("RequestId", "request_id"))
_PAY_INFO = (("MchOrderNo", "mch_order_no"), ("TransactionId", "transaction_id"), ("PaidTime", "paid_time"))
_TEAM = (("ActivityId", "activity_id"), ("TeamId", "team_id"), ("TeamType", "team_type"),
         ("TeamAction", "team_action"))


def fill_payment(n: pb.Notification, content: dict[str, Any]) -> None:
    """Sets the typed fields of ``n`` (whose kind is set) from the object that
    holds them: the mini-game or super-app Payload, or the xpay_* message."""
    n.out_trade_no = text(content, "OutTradeNo")
    openid = text(content, "OpenId")
    if openid:
        n.openid = openid
    if n.kind == pb.NOTIFICATION_KIND_GOODS_DELIVER:
        _fill(n.goods, table(content, "GoodsInfo") or {}, _GOODS)
    elif n.kind == pb.NOTIFICATION_KIND_COIN_DELIVER:
        _fill(n.coin, table(content, "CoinInfo") or {}, _COIN)
    elif n.kind == pb.NOTIFICATION_KIND_REFUND:
        _fill(n.refund, content, _REFUND)
    elif n.kind == pb.NOTIFICATION_KIND_COMPLAINT:
        _fill(n.complaint, content, _COMPLAINT)
    pay_info = table(content, "WeChatPayInfo")
    if pay_info is not None:
        _fill(n.wechat_pay, pay_info, _PAY_INFO)
    team = table(content, "TeamInfo")
    if team is not None:
        _fill(n.team, team, _TEAM)


# ---- replies ---------------------------------------------------------------------

class ReplyStyle(enum.Enum):
    MINIGAME = "minigame"  # {"ErrCode":0,"ErrMsg":"Success"}
    XPAY = "xpay"          # {"ErrCode":0,"ErrMsg":"success"}
    SUPERAPP = "superapp"  # {"returnCode":"0",...}
    OTHER = "other"        # 200 "success"


def _reply(status: int, content_type: str, body: str) -> pb.HttpReply:
    return pb.HttpReply(status=status, content_type=content_type, body=body.encode("utf-8"))


JSON_TYPE = "application/json"
XML_TYPE = "application/xml"
TEXT_TYPE = "text/plain; charset=utf-8"
NACK_CODE = 99999


def _err_code(code: int, message: str, fmt: Format) -> pb.HttpReply:
    if fmt is Format.XML:
        return _reply(200, XML_TYPE, f"<xml><ErrCode>{code}</ErrCode><ErrMsg>{message}</ErrMsg></xml>")
    return _reply(200, JSON_TYPE, f'{{"ErrCode":{code},"ErrMsg":"{message}"}}')


def replies(style: ReplyStyle, fmt: Format) -> tuple[pb.HttpReply, pb.HttpReply]:
    """(ack, nack) of an accepted push."""
    if style is ReplyStyle.MINIGAME:
        return _err_code(0, "Success", fmt), _err_code(NACK_CODE, "internal error", fmt)
    if style is ReplyStyle.XPAY:
        return _err_code(0, "success", fmt), _err_code(NACK_CODE, "internal error", fmt)
    if style is ReplyStyle.SUPERAPP:
        return (_reply(200, JSON_TYPE, '{"returnCode":"0","returnMessage":"success","data":"ok","requestId":""}'),
                _reply(200, JSON_TYPE, f'{{"returnCode":"{NACK_CODE}","returnMessage":"internal error",'
                                       '"data":"","requestId":""}'))
    return _reply(200, TEXT_TYPE, "success"), _reply(500, TEXT_TYPE, "error")


def echo(echostr: str) -> pb.HttpReply:
    return _reply(200, TEXT_TYPE, echostr)


# reject reason -> (status, body) of the nack; the body never names the reason
REJECT_STATUS = {
    "TRANSPORT_SIGNATURE_MISMATCH": 403, "MSG_SIGNATURE_MISMATCH": 403, "DECRYPT_FAILED": 403,
    "APPID_MISMATCH": 403, "UNENCRYPTED_NOT_ALLOWED": 403, "PAY_EVENT_SIG_MISSING": 403,
    "PAY_EVENT_SIG_MISMATCH": 403, "ENCRYPTION_NOT_CONFIGURED": 500, "KEY_NOT_CONFIGURED": 500,
    "BODY_TOO_LARGE": 413, "MALFORMED_BODY": 400, "MALFORMED_PAYLOAD": 400,
}
REJECT_REASONS = frozenset(REJECT_STATUS)
_STATUS_TEXT = {400: "bad request", 403: "forbidden", 413: "payload too large", 500: "not configured"}


def rejection(reason: str) -> pb.HttpReply:
    status = REJECT_STATUS[reason]
    return _reply(status, TEXT_TYPE, _STATUS_TEXT[status])


# ---- audit -------------------------------------------------------------------------

_RESULT = {v: k.removeprefix("NOTIFICATION_RESULT_") for k, v in pb.NotificationResult.items()}
_ENV = {v: k for k, v in pb.Env.items()}
MAX_AUDIT_CHARS = 128


def _clip(value: str) -> str:
    return value if len(value) <= MAX_AUDIT_CHARS else value[:MAX_AUDIT_CHARS] + "…"


def audit_request(request: pb.VerifyNotificationRequest) -> dict[str, Any]:
    """A push's auditable request fields: never the query (it holds
    signatures), the body or anything decrypted."""
    return {"app_id": _clip(request.app_id), "http_method": _clip(request.http_method)}


def audit_response(response: pb.VerifyNotificationResponse) -> dict[str, Any]:
    """The verdict, and for an accepted push what it was about (a rejected
    push's fields are unproven, so none is recorded). Never the message,
    the payload or a signature."""
    fields: dict[str, Any] = {"notification_result": _RESULT.get(response.result, str(response.result))}
    if response.reject_reason:
        fields["reject_reason"] = response.reject_reason
    if response.HasField("notification"):
        n = response.notification
        fields.update(event=_clip(n.event), kind=KIND_NAMES.get(n.kind, ""), out_trade_no=_clip(n.out_trade_no),
                      env=_ENV.get(n.env, ""), is_mock=n.is_mock, encrypted=n.encrypted,
                      body_authenticated=n.body_authenticated, key_version=n.key_version,
                      aes_key_version=n.aes_key_version)
    return fields
