"""SignApiCall: pay_sig (and the user signature) of a server-to-server call."""

from __future__ import annotations

from paysig.v1 import signer_pb2 as pb

from .. import apis, rules
from ..errors import Rule, Violations
from ..mac import compute_mac
from .common import ENV_TO_PROTO, api_body_env, check_signed_api, lookup_app, request_env, require_ring

REQUEST = "SignApiCallRequest"


def sign_api_call(config, req: pb.SignApiCallRequest) -> pb.SignApiCallResponse:
    app = lookup_app(config, req.app_id, REQUEST)
    v = Violations()
    uri_ok = rules.check_uri(v, "uri", req.uri)
    if uri_ok:
        check_signed_api(v, "uri", req.uri)
    body = rules.parse_json_object(v, "body", req.body)
    env = api_body_env(v, app, request_env(v, req.env), req.uri, body, "body")
    has_session_key = rules.check_session_key(v, "session_key", req.session_key, required=False)
    api = apis.find(req.uri) if uri_ok else None
    if api is not None and api.user_signature and not req.session_key:
        v.add("session_key", Rule.REQUIRED, f"required: {req.uri} needs the user signature")
    v.raise_if_any(REQUEST)

    key = require_ring(app, env).primary
    pay_sig = compute_mac(key.secret.reveal(), f"{req.uri}&{req.body}")
    signature = compute_mac(req.session_key.encode("utf-8"), req.body) if has_session_key else ""
    query = f"pay_sig={pay_sig}"
    if signature:
        query += f"&signature={signature}"
    if apis.adds_sig_method(req.uri):
        query += "&sig_method=hmac_sha256"
    return pb.SignApiCallResponse(
        pay_sig=pay_sig, signature=signature, query=query, key_version=key.version, env=ENV_TO_PROTO[env]
    )
