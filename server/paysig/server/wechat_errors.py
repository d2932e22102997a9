"""WeChat's error codes for signatures, per API (the table of the spec's
section 8), as data: the one place paysig knows them. The same number means
different things on different APIs (-15014 is a wrong paySig on
wx.requestMidasPaymentGameItem and an item not yet effective on
wx.requestVirtualPayment), so every lookup names the API.

tests/test_wechat_errors.py checks this table against a copy of the spec's
rows, both ways.
"""

from __future__ import annotations

import dataclasses
import enum


class Api(enum.Enum):
    """The API families of the table; ``value`` is the spec's row name."""

    GAME_ITEM = "wx.requestMidasPaymentGameItem"
    VIRTUAL_PAYMENT = "wx.requestVirtualPayment"
    XPAY = "/xpay/..."
    WXA_GAME = "/wxa/game/..."


class Column(enum.Enum):
    """The table's columns: what kind of failure a code reports."""

    USER_SIGNATURE = "signature (user)"
    PAY_SIG = "paySig"
    SESSION_KEY_EXPIRED = "session_key expired"
    PRICE = "price"
    OTHER = "other"


@dataclasses.dataclass(frozen=True)
class WeChatError:
    api: Api
    code: int
    columns: tuple[Column, ...]
    note: str  # the spec's words: the note after the code, or the "other" column's description
    advice: str  # what to do about it

    @property
    def meaning(self) -> str:
        what = self.note if Column.OTHER in self.columns else " or ".join(
            c.value for c in self.columns) + (f" {self.note}" if self.note else "")
        return f"{self.api.value} {self.code}: {what}: {self.advice}"


_U, _P, _S, _PR, _O = Column.USER_SIGNATURE, Column.PAY_SIG, Column.SESSION_KEY_EXPIRED, Column.PRICE, Column.OTHER
_SIG_WRONG = "the HMAC does not match; DiagnoseSignature tells which mistake made it"
_RELOGIN = "the user's session_key expired; call wx.login and code2session again, then sign with the new one"
_PRICE = "goodsPrice must equal the price configured for the item in the admin console"

ERRORS: tuple[WeChatError, ...] = (
    WeChatError(Api.GAME_ITEM, -15012, (_U,), "", _SIG_WRONG),
    WeChatError(Api.GAME_ITEM, -15014, (_P,), "", _SIG_WRONG),
    WeChatError(Api.GAME_ITEM, -15015, (_S,), "", _RELOGIN),
    WeChatError(Api.GAME_ITEM, -15016, (_PR,), "", _PRICE),
    WeChatError(Api.GAME_ITEM, -15011, (_O,), "data type (e.g. signData as an object)",
                "pass signData as the exact JSON string that was signed; numbers as JSON numbers, strings as strings"),
    WeChatError(Api.GAME_ITEM, -15010, (_O,), "sandbox in a released game",
                "a released game must pay with env 0 and the production AppKey"),
    WeChatError(Api.GAME_ITEM, -15003, (_O,), "duplicate outTradeNo",
                "outTradeNo is single use: make a new one for every order"),
    WeChatError(Api.GAME_ITEM, 701001, (_O,), "iOS forbidden", "virtual payment is not allowed on iOS"),
    WeChatError(Api.GAME_ITEM, 1003, (_O,), "coin/zone not published",
                "publish the coin and the zone in the admin console first"),
    WeChatError(Api.VIRTUAL_PAYMENT, -15005, (_U,), "", _SIG_WRONG),
    WeChatError(Api.VIRTUAL_PAYMENT, -15006, (_P,), "", _SIG_WRONG),
    WeChatError(Api.VIRTUAL_PAYMENT, -15007, (_S,), "", _RELOGIN),
    WeChatError(Api.VIRTUAL_PAYMENT, -15013, (_PR,), "", _PRICE),
    WeChatError(Api.VIRTUAL_PAYMENT, -15016, (_O,), "signData malformed",
                "signData breaks a field rule; see the PAYLOAD_RULE findings"),
    WeChatError(Api.VIRTUAL_PAYMENT, -15014, (_O,), "item published but not yet effective (~10 min)",
                "not a signature problem: wait about 10 minutes after publishing the item"),
    WeChatError(Api.VIRTUAL_PAYMENT, -15011, (_O,), "released version must use env 0",
                "a released mini program must pay with env 0 and the production AppKey"),
    WeChatError(Api.VIRTUAL_PAYMENT, -15002, (_O,), "outTradeNo reused",
                "outTradeNo is single use: make a new one for every order"),
    WeChatError(Api.XPAY, 268490003, (_U, _P), "(errmsg names which)", _SIG_WRONG),
    WeChatError(Api.XPAY, 268490009, (_S,), "", _RELOGIN),
    WeChatError(Api.XPAY, 268490004, (_O,), "duplicate (success)",
                "the operation was already done: treat it as success"),
    WeChatError(Api.XPAY, 268490015, (_O,), "rate limited", "retry later, more slowly"),
    WeChatError(Api.WXA_GAME, 90010, (_U,), "", _SIG_WRONG),
    WeChatError(Api.WXA_GAME, 90011, (_P,), "", _SIG_WRONG),
    WeChatError(Api.WXA_GAME, 90016, (_S,), "", _RELOGIN),
    WeChatError(Api.WXA_GAME, 90012, (_O,), "order exists", "the bill_no was already used"),
    WeChatError(Api.WXA_GAME, 90018, (_O,), "bad params", "a body field is missing or malformed"),
    WeChatError(Api.WXA_GAME, 90000, (_O,), "order not found", "no order with this bill_no"),
)

_BY_API_CODE = {(e.api, e.code): e for e in ERRORS}


def api_of_method(method: str) -> Api | None:
    """The table's API for a (canonical) method name or URI path."""
    if method == "requestMidasPaymentGameItem":
        return Api.GAME_ITEM
    if method == "requestVirtualPayment":
        return Api.VIRTUAL_PAYMENT
    if method.startswith("/xpay/"):
        return Api.XPAY
    if method.startswith("/wxa/game/"):
        return Api.WXA_GAME
    return None


def lookup(api: Api, code: int) -> WeChatError | None:
    return _BY_API_CODE.get((api, code))


def meaning(api: Api | None, code: int) -> str:
    """What ``code`` means on ``api``; on every API that uses it when ``api`` is None."""
    if api is not None:
        found = lookup(api, code)
        return found.meaning if found else f"{api.value} {code}: not a code paysig knows for this API"
    found_all = [e.meaning for e in ERRORS if e.code == code]
    return "; ".join(found_all) if found_all else f"{code}: not a code paysig knows"


def rejects(api: Api, code: int) -> tuple[Column, ...]:
    """The columns of ``code`` on ``api`` (empty when unknown)."""
    found = lookup(api, code)
    return found.columns if found else ()
