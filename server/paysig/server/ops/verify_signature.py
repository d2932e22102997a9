"""VerifySignature: a mismatch is a result, malformed input is an error."""

from __future__ import annotations

import hmac

from paysig.v1 import signer_pb2 as pb

from .. import rules
from ..config import App, AppKind
from ..errors import Rule, Violations
from ..keys import Env
from ..mac import compute_mac, verify_mac
from ..order_spec import CLIENT_METHODS
from .common import ENV_TO_PROTO, api_body_env, check_signed_api, lookup_app, request_env, require_ring, resolve_env

REQUEST = "VerifySignatureRequest"


def verify_signature(config, req: pb.VerifySignatureRequest) -> pb.VerifySignatureResponse:
    app = lookup_app(config, req.app_id, REQUEST)
    v = Violations()
    rules.check_signature_hex(v, "signature", req.signature)
    payload_ok = False
    if not req.payload:
        v.add("payload", Rule.REQUIRED, "required: the exact signed payload")
    elif len(req.payload.encode("utf-8")) > rules.MAX_JSON_BYTES:
        v.add("payload", Rule.TOO_LONG, f"must be at most {rules.MAX_JSON_BYTES} bytes")
    else:
        payload_ok = True

    if req.scheme == pb.SIGNATURE_SCHEME_USER_SIGNATURE:
        rules.check_unset(v, "method", bool(req.method), "the user signature covers the payload only")
        rules.check_unset(v, "env", req.env != pb.ENV_UNSPECIFIED, "the user signature does not use an AppKey")
        rules.check_session_key(v, "session_key", req.session_key, required=True)
        v.raise_if_any(REQUEST)
        valid = verify_mac(req.session_key.encode("utf-8"), req.payload, req.signature)
        return _response(valid, 0, None)

    if req.scheme == pb.SIGNATURE_SCHEME_PAY_SIG:
        _check_pay_sig_method(v, req.method)
        env_field = "env"
    elif req.scheme == pb.SIGNATURE_SCHEME_EVENT:
        if not req.method:
            v.add("method", Rule.REQUIRED, "required: the event name, 1-128 characters of A-Z a-z 0-9 _")
        elif not rules.EVENT_NAME.fullmatch(req.method):
            v.add("method", Rule.FORMAT, "must be the event name, 1-128 characters of A-Z a-z 0-9 _")
        env_field = "Env"
    else:
        rules.check_enum(v, "scheme", req.scheme,
                         "SIGNATURE_SCHEME_PAY_SIG, SIGNATURE_SCHEME_USER_SIGNATURE or SIGNATURE_SCHEME_EVENT")
        request_env(v, req.env)
        rules.check_session_key(v, "session_key", req.session_key, required=False)
        v.raise_if_any(REQUEST)
    rules.check_unset(v, "session_key", bool(req.session_key), "only SIGNATURE_SCHEME_USER_SIGNATURE uses it")
    env = _payload_key_env(v, app, req, env_field) if payload_ok else request_env(v, req.env)
    v.raise_if_any(REQUEST)

    message = f"{req.method}&{req.payload}"
    matched = 0
    for key in require_ring(app, env).versions:
        # Every version is checked, so the time taken does not tell which matched.
        expected = compute_mac(key.secret.reveal(), message)
        if hmac.compare_digest(expected, req.signature) and not matched:
            matched = key.version
    return _response(bool(matched), matched, env)


def _check_pay_sig_method(v: Violations, method: str) -> None:
    if method in CLIENT_METHODS:
        return
    if not method:
        v.add("method", Rule.REQUIRED, "required: requestMidasPaymentGameItem, requestVirtualPayment or an API URI path")
    elif method.startswith("/"):
        if rules.check_uri(v, "method", method):
            check_signed_api(v, "method", method)
    else:
        v.add("method", Rule.FORMAT, "must be requestMidasPaymentGameItem, requestVirtualPayment "
              "or an API URI path with its leading '/'")


def _payload_key_env(v: Violations, app: App, req: pb.VerifySignatureRequest, env_field: str) -> Env | None:
    requested = request_env(v, req.env)
    if req.scheme == pb.SIGNATURE_SCHEME_PAY_SIG and req.method.startswith("/"):
        body = rules.parse_json_object(v, "payload", req.payload)
        return api_body_env(v, app, requested, req.method, body, "payload")
    payload = None
    if req.payload.lstrip().startswith("{"):
        payload = rules.parse_json_object(v, "payload", req.payload)
    # Super-app pushes carry "Env" as a JSON string ("0"); WeChat's are numbers.
    string_form = req.scheme == pb.SIGNATURE_SCHEME_EVENT and app.kind is AppKind.SUPERAPP
    named = rules.payload_env(v, "payload", payload, env_field, string_form=string_form)
    env = resolve_env(v, app, requested, named, f"payload.{env_field}")
    if env is None and not v:
        v.add("env", Rule.REQUIRED, f"required when the payload has no {env_field} field: ENV_PRODUCTION or ENV_SANDBOX")
    return env


def _response(valid: bool, key_version: int, env: Env | None) -> pb.VerifySignatureResponse:
    return pb.VerifySignatureResponse(
        valid=valid,
        result=pb.VERIFY_RESULT_VALID if valid else pb.VERIFY_RESULT_INVALID,
        key_version=key_version,
        env=ENV_TO_PROTO[env] if env is not None else pb.ENV_UNSPECIFIED,
    )
