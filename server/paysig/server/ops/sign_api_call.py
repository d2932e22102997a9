"""SignApiCall: pay_sig (and the user signature) of a server-to-server call."""

from __future__ import annotations

from paysig.v1 import signer_pb2 as pb

from .. import rules
from ..errors import Rule, Violations
from ..mac import compute_mac
from .common import ENV_TO_PROTO, lookup_app, request_env, require_ring, resolve_env

REQUEST = "SignApiCallRequest"
# APIs whose query string must carry the user signature (spec section 5).
NEEDS_USER_SIGNATURE = frozenset(
    {
        "/xpay/query_user_balance",
        "/xpay/currency_pay",
        "/xpay/cancel_currency_pay",
        "/wxa/game/getbalance",
        "/wxa/game/pay",
        "/wxa/game/cancelpay",
        "/wxa/game/present",
        "/wxa/game/queryorderinfo",
    }
)
MINIGAME_API_PREFIX = "/wxa/game/"


def sign_api_call(config, req: pb.SignApiCallRequest) -> pb.SignApiCallResponse:
    app = lookup_app(config, req.app_id, REQUEST)
    v = Violations()
    uri_ok = rules.check_uri(v, "uri", req.uri)
    body = rules.parse_json_object(v, "body", req.body)
    env = resolve_env(v, app, request_env(v, req.env), rules.payload_env(v, "body", body, "env"), "body.env")
    if env is None and body is not None and not v:
        v.add("env", Rule.REQUIRED, "required when the body has no env field: ENV_PRODUCTION or ENV_SANDBOX")
    has_session_key = rules.check_session_key(v, "session_key", req.session_key, required=False)
    if uri_ok and req.uri in NEEDS_USER_SIGNATURE and not req.session_key:
        v.add("session_key", Rule.REQUIRED, f"required: {req.uri} needs the user signature")
    v.raise_if_any(REQUEST)

    key = require_ring(app, env).primary
    pay_sig = compute_mac(key.secret.reveal(), f"{req.uri}&{req.body}")
    signature = compute_mac(req.session_key.encode("utf-8"), req.body) if has_session_key else ""
    query = f"pay_sig={pay_sig}"
    if signature:
        query += f"&signature={signature}"
    if req.uri.startswith(MINIGAME_API_PREFIX):
        query += "&sig_method=hmac_sha256"
    return pb.SignApiCallResponse(
        pay_sig=pay_sig, signature=signature, query=query, key_version=key.version, env=ENV_TO_PROTO[env]
    )
