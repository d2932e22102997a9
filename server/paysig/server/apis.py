"""The WeChat server-to-server APIs paysig knows (spec section 5): one table.

SignApiCall and VerifySignature validate against it, the metrics' ``api``
label takes its values from it (any other URI is "other"), and the README's
server-API table and the proto's list of user-signature APIs are tested
against it (tests/test_apis.py).

Public names: ``ApiKind``, ``Signing``, ``ServerApi``, ``SERVER_APIS`` (the
table, in documentation order), ``BY_URI`` (uri -> ServerApi),
``KNOWN_URIS``, ``find(uri)``, ``adds_sig_method(uri)``.

A URI not in the table is still signed (WeChat adds APIs faster than this
table follows): pay_sig only, a session_key is optional, and a body without
"env" is a production call, as for every /xpay/ API.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["ApiKind", "Signing", "ServerApi", "SERVER_APIS", "BY_URI", "KNOWN_URIS", "find", "adds_sig_method"]

MINIGAME_PREFIX = "/wxa/game/"


class ApiKind(enum.Enum):
    """Which WeChat product family an API belongs to."""

    MINIPROGRAM = "miniprogram"  # https://api.weixin.qq.com/xpay/... (virtual payment 2.0)
    MINIGAME = "minigame"  # https://api.weixin.qq.com/wxa/game/... (Midas), adds sig_method=hmac_sha256


class Signing(enum.Enum):
    """What the API's query string carries besides access_token."""

    PAY_SIG_AND_SIGNATURE = "pay_sig and signature"
    PAY_SIG = "pay_sig"
    NONE = "access_token only"


@dataclasses.dataclass(frozen=True)
class ServerApi:
    uri: str
    kind: ApiKind
    signing: Signing
    env_in_body: bool  # the body has an "env" field (0 production, 1 sandbox); absent means production
    group: str  # a heading for the docs
    note: str = ""

    @property
    def pay_sig(self) -> bool:
        """WeChat expects a pay_sig (paysig signs only these and unknown URIs)."""
        return self.signing is not Signing.NONE

    @property
    def user_signature(self) -> bool:
        """The query string must carry the user signature, so a session_key is required."""
        return self.signing is Signing.PAY_SIG_AND_SIGNATURE

    @property
    def sig_method(self) -> bool:
        """The query string also carries sig_method=hmac_sha256."""
        return self.kind is ApiKind.MINIGAME


_MP, _MG = ApiKind.MINIPROGRAM, ApiKind.MINIGAME
_BOTH, _PAY, _NONE = Signing.PAY_SIG_AND_SIGNATURE, Signing.PAY_SIG, Signing.NONE
_RESULTS_FROM_PRODUCTION = "env only selects the key: results always come from production"
_NEWER_PAGES = ("WeChat's newer page shows no pay_sig, the older guide does: paysig signs it "
                "(an extra pay_sig is harmless)")

SERVER_APIS: tuple[ServerApi, ...] = (
    ServerApi("/xpay/query_user_balance", _MP, _BOTH, True, "coins"),
    ServerApi("/xpay/currency_pay", _MP, _BOTH, True, "coins"),
    ServerApi("/xpay/cancel_currency_pay", _MP, _BOTH, True, "coins"),
    ServerApi("/xpay/present_currency", _MP, _PAY, True, "coins", _NEWER_PAGES),
    ServerApi("/xpay/query_order", _MP, _PAY, True, "orders"),
    ServerApi("/xpay/notify_provide_goods", _MP, _PAY, True, "orders", _NEWER_PAGES),
    ServerApi("/xpay/refund_order", _MP, _PAY, True, "orders"),
    ServerApi("/xpay/download_bill", _MP, _PAY, False, "orders", "the body has no env: always a production call"),
    ServerApi("/xpay/start_download_order", _MP, _PAY, True, "orders"),
    ServerApi("/xpay/query_download_order", _MP, _PAY, True, "orders"),
    ServerApi("/xpay/start_upload_goods", _MP, _PAY, True, "goods"),
    ServerApi("/xpay/query_upload_goods", _MP, _PAY, True, "goods"),
    ServerApi("/xpay/start_publish_goods", _MP, _PAY, True, "goods"),
    ServerApi("/xpay/query_publish_goods", _MP, _PAY, True, "goods"),
    ServerApi("/xpay/query_biz_balance", _MP, _PAY, True, "funds", _RESULTS_FROM_PRODUCTION),
    ServerApi("/xpay/create_withdraw_order", _MP, _PAY, True, "funds"),
    ServerApi("/xpay/query_withdraw_order", _MP, _PAY, True, "funds"),
    ServerApi("/xpay/query_transfer_account", _MP, _PAY, True, "ad funds", _RESULTS_FROM_PRODUCTION),
    ServerApi("/xpay/bind_transfer_accout", _MP, _PAY, True, "ad funds",
              "sic: WeChat's path is misspelt; /xpay/bind_transfer_account does not exist"),
    ServerApi("/xpay/query_adver_funds", _MP, _PAY, True, "ad funds", _RESULTS_FROM_PRODUCTION),
    ServerApi("/xpay/create_funds_bill", _MP, _PAY, True, "ad funds", _RESULTS_FROM_PRODUCTION),
    ServerApi("/xpay/query_funds_bill", _MP, _PAY, True, "ad funds", _RESULTS_FROM_PRODUCTION),
    ServerApi("/xpay/query_recover_bill", _MP, _PAY, True, "ad funds", _RESULTS_FROM_PRODUCTION),
    ServerApi("/xpay/download_adverfunds_order", _MP, _PAY, True, "ad funds", _RESULTS_FROM_PRODUCTION),
    ServerApi("/xpay/get_complaint_list", _MP, _PAY, True, "complaints", _RESULTS_FROM_PRODUCTION),
    ServerApi("/xpay/get_complaint_detail", _MP, _PAY, True, "complaints", _RESULTS_FROM_PRODUCTION),
    ServerApi("/xpay/get_negotiation_history", _MP, _PAY, True, "complaints", _RESULTS_FROM_PRODUCTION),
    ServerApi("/xpay/response_complaint", _MP, _PAY, True, "complaints", _RESULTS_FROM_PRODUCTION),
    ServerApi("/xpay/complete_complaint", _MP, _PAY, True, "complaints", _RESULTS_FROM_PRODUCTION),
    ServerApi("/xpay/upload_vp_file", _MP, _PAY, True, "complaints", _RESULTS_FROM_PRODUCTION),
    ServerApi("/xpay/get_upload_file_sign", _MP, _PAY, True, "complaints", _RESULTS_FROM_PRODUCTION),
    ServerApi("/xpay/query_subscribe_contract", _MP, _NONE, False, "subscriptions"),
    ServerApi("/xpay/send_subscribe_pre_payment", _MP, _NONE, False, "subscriptions"),
    ServerApi("/xpay/submit_subscribe_pay_order", _MP, _NONE, False, "subscriptions"),
    ServerApi("/xpay/cancel_subscribe_contract", _MP, _NONE, False, "subscriptions"),
    ServerApi("/wxa/game/getbalance", _MG, _BOTH, True, "mini-game coins"),
    ServerApi("/wxa/game/pay", _MG, _BOTH, True, "mini-game coins"),
    ServerApi("/wxa/game/cancelpay", _MG, _BOTH, True, "mini-game coins"),
    ServerApi("/wxa/game/present", _MG, _BOTH, True, "mini-game coins"),
    ServerApi("/wxa/game/queryorderinfo", _MG, _BOTH, True, "mini-game coins"),
)

BY_URI: Mapping[str, ServerApi] = MappingProxyType({api.uri: api for api in SERVER_APIS})
KNOWN_URIS: frozenset[str] = frozenset(BY_URI)


def find(uri: str) -> ServerApi | None:
    """The table's entry for ``uri`` (an exact path), or None for an unknown API."""
    return BY_URI.get(uri)


def adds_sig_method(uri: str) -> bool:
    """Whether the query string gets sig_method=hmac_sha256: the mini-game
    (/wxa/game/) APIs, known or not."""
    api = BY_URI.get(uri)
    return api.sig_method if api is not None else uri.startswith(MINIGAME_PREFIX)
