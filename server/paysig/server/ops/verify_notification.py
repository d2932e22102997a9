"""VerifyNotification: a forged or tampered push is a result (REJECTED), a
malformed call an error.

Order of the checks (spec 6.1, 6.2, 4.3): the transport signature; for a GET
the handshake; the body's size and syntax; safe mode's msg_signature, AES
decryption with every EncodingAESKey version and the trailing appid (or,
for a plain push, whether the app's mode allows it); the PayEventSig of
mini-game and super-app payment events over the raw Payload; then the typed
fields. msg_signature is checked before anything is decrypted, so only a
holder of the token can reach the decryption at all.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import parse_qsl

from paysig.v1 import signer_pb2 as pb

from .. import push_events as ev
from ..config import App, AppKind
from ..errors import Code, PaysigError, Rule, Violations
from ..keys import Env
from ..mac import compute_mac
from ..push_config import PushConfig, PushMode
from ..push_crypto import DecryptFailed, decrypt, push_signature, signature_matches
from ..push_parse import MAX_BYTES, Format, Malformed, parse_json, parse_message
from .common import ENV_TO_PROTO, lookup_app

REQUEST = "VerifyNotificationRequest"
MAX_QUERY_CHARS = 4096
TRANSPORT_PARAMS = ("signature", "timestamp", "nonce")
KNOWN_PARAMS = frozenset({*TRANSPORT_PARAMS, "echostr", "encrypt_type", "msg_signature", "openid"})
FORMATS = {Format.JSON: pb.NOTIFICATION_FORMAT_JSON, Format.XML: pb.NOTIFICATION_FORMAT_XML}


class Rejected(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def push_not_configured(app_id: str) -> PaysigError:
    return PaysigError(Code.FAILED_PRECONDITION, "PUSH_NOT_CONFIGURED",
                       f"app_id: app {app_id!r} has no [apps.push] table (token, encoding_aes_key, wechat_appid)")


def verify_notification(config, req: pb.VerifyNotificationRequest) -> pb.VerifyNotificationResponse:
    app = lookup_app(config, req.app_id, REQUEST)
    v = Violations()
    params = _query(v, req, superapp=app.kind is AppKind.SUPERAPP)
    v.raise_if_any(REQUEST)
    if app.push is None:
        raise push_not_configured(app.app_id)
    try:
        return _verify(app, app.push, req, params)
    except Rejected as r:
        return pb.VerifyNotificationResponse(result=pb.NOTIFICATION_RESULT_REJECTED, reject_reason=r.reason,
                                             nack=ev.rejection(r.reason))


def _query(v: Violations, req: pb.VerifyNotificationRequest, superapp: bool) -> dict[str, str]:
    if req.http_method not in ("GET", "POST"):
        v.add("http_method", Rule.FORMAT, 'must be "GET" (URL verification) or "POST" (a push)')
    if len(req.query) > MAX_QUERY_CHARS:
        v.add("query", Rule.TOO_LONG, f"must be at most {MAX_QUERY_CHARS} characters")
        return {}
    try:
        pairs = parse_qsl(req.query, keep_blank_values=True, max_num_fields=64)
    except ValueError:
        v.add("query", Rule.FORMAT, "must hold at most 64 parameters")
        return {}
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params and name in KNOWN_PARAMS:
            v.add(f"query.{name}", Rule.FORMAT, "must appear once")
        params.setdefault(name, value)
    required = list(TRANSPORT_PARAMS)
    if req.http_method == "GET":
        required.append("echostr")
        if req.body:
            v.add("body", Rule.NOT_ALLOWED, "must be empty for GET (the URL verification has no body)")
    elif superapp and not any(params.get(p) for p in TRANSPORT_PARAMS):
        required = []  # the super-app host authenticates its pushes with pay_event_sig
    for name in required:
        if not params.get(name):
            v.add(f"query.{name}", Rule.REQUIRED, f"required: the {name} WeChat sent in the push URL's query string")
    return params


def _verify(app: App, push: PushConfig, req: pb.VerifyNotificationRequest,
            params: dict[str, str]) -> pb.VerifyNotificationResponse:
    transport = [params.get(p, "") for p in TRANSPORT_PARAMS]
    token = push.token.reveal().decode("utf-8") if push.token is not None else None
    transport_checked = token is not None and all(transport)
    if transport_checked:
        signature, timestamp, nonce = transport
        if not signature_matches(push_signature(token, timestamp, nonce), signature):
            raise Rejected("TRANSPORT_SIGNATURE_MISMATCH")
    elif app.kind is not AppKind.SUPERAPP or req.http_method == "GET":
        raise Rejected("TRANSPORT_SIGNATURE_MISMATCH")  # nothing to check it with: never accepted
    if req.http_method == "GET":
        return pb.VerifyNotificationResponse(result=pb.NOTIFICATION_RESULT_URL_VERIFICATION,
                                             ack=ev.echo(params["echostr"]))

    if len(req.body) > MAX_BYTES:
        raise Rejected("BODY_TOO_LARGE")
    body_format, outer = _parse(req.body)
    n = pb.Notification()
    if params.get("encrypt_type") == "aes":
        if not push.aes_keys:
            raise Rejected("ENCRYPTION_NOT_CONFIGURED")
        encrypt = outer.get("Encrypt")
        if not isinstance(encrypt, str) or not encrypt:
            raise Rejected("MALFORMED_BODY")
        timestamp, nonce = transport[1], transport[2]
        if not signature_matches(push_signature(token, timestamp, nonce, encrypt), params.get("msg_signature", "")):
            raise Rejected("MSG_SIGNATURE_MISMATCH")
        message, n.aes_key_version = _decrypt(push, encrypt)
        message_format, tree = _parse(message)
        n.encrypted = n.body_authenticated = True
    else:
        if push.mode is PushMode.SAFE:
            raise Rejected("UNENCRYPTED_NOT_ALLOWED")
        message, message_format, tree = req.body, body_format, outer
    n.message = message.decode("utf-8")  # parse_message proved it UTF-8
    n.format = FORMATS[message_format]
    try:
        style = _content(app, n, tree, transport_checked)
    except Malformed:
        raise Rejected("MALFORMED_BODY") from None
    ack, nack = ev.replies(style, message_format)
    return pb.VerifyNotificationResponse(result=pb.NOTIFICATION_RESULT_ACCEPTED, ack=ack, nack=nack, notification=n)


def _parse(data: bytes) -> tuple[Format, dict[str, Any]]:
    try:
        return parse_message(data)
    except Malformed:
        raise Rejected("MALFORMED_BODY") from None


def _decrypt(push: PushConfig, encrypt: str) -> tuple[bytes, int]:
    """The message and the EncodingAESKey version that decrypted it. Every
    version is tried (newest first) until one yields the app's appid."""
    appid = (push.wechat_appid or "").encode("ascii")
    wrong_appid = False
    for aes in push.aes_keys:
        try:
            message, trailer = decrypt(aes.key.reveal(), encrypt)
        except DecryptFailed:
            continue
        if hmac.compare_digest(trailer, appid):
            return message, aes.version
        wrong_appid = True
    raise Rejected("APPID_MISMATCH" if wrong_appid else "DECRYPT_FAILED")


def _content(app: App, n: pb.Notification, tree: dict[str, Any], transport_checked: bool) -> ev.ReplyStyle:
    """Fills ``n`` from the message; checks PayEventSig where there is one.
    A message whose query carried no transport signature (a super-app push)
    is accepted only with a PayEventSig. Returns the style of the replies."""
    n.event = ev.text(tree, "Event")
    n.msg_type = ev.text(tree, "MsgType") or ev.text(tree, "EventType")
    n.create_time = ev.integer(tree, "CreateTime")
    n.to_user_name = ev.text(tree, "ToUserName")
    n.from_user_name = n.openid = ev.text(tree, "FromUserName")
    n.pay_model = ev.text(tree, "PayModel")
    n.kind = ev.kind_of(n.event)
    if app.kind is AppKind.SUPERAPP and "Payload" in tree:
        _pay_event(app, n, tree, superapp=True)
        return ev.ReplyStyle.SUPERAPP
    if "MiniGame" in tree:
        envelope = ev.table(tree, "MiniGame") or {}
        _pay_event(app, n, envelope, superapp=False)
        n.is_mock = ev.flag(envelope, "IsMock")
        return ev.ReplyStyle.MINIGAME
    if n.event in ev.MINIGAME_PAY_EVENTS or not transport_checked:
        raise Rejected("PAY_EVENT_SIG_MISSING")
    if "Env" in tree:
        n.env = ENV_TO_PROTO[_env(tree["Env"])]
    if n.kind != pb.NOTIFICATION_KIND_OTHER:
        ev.fill_payment(n, tree)
    return ev.ReplyStyle.XPAY if n.event.startswith("xpay_") else ev.ReplyStyle.OTHER


def _env(value: Any) -> Env:
    """0 or 1, as a JSON number (WeChat) or string (super-app, XML)."""
    if type(value) is int and value in (0, 1):
        return Env(value)
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return Env(int(value.strip()))
    raise Malformed("Env")


def _pay_event(app: App, n: pb.Notification, envelope: dict[str, Any], superapp: bool) -> None:
    """PayEventSig = HMAC(AppKey[Payload.Env], Event + "&" + Payload), over
    the raw Payload string; then the typed fields read from the Payload."""
    payload, sig = envelope.get("Payload"), envelope.get("PayEventSig")
    if not isinstance(payload, str) or not payload:
        raise Rejected("MALFORMED_BODY")
    if not sig:
        raise Rejected("PAY_EVENT_SIG_MISSING")
    if not isinstance(sig, str):
        raise Rejected("MALFORMED_BODY")
    try:
        content = parse_json(payload)
        if "Env" in content:
            env = _env(content["Env"])
        elif superapp:
            env = Env.PRODUCTION  # one key; the host may leave Env out
        else:
            raise Malformed("Env")
    except Malformed:
        raise Rejected("MALFORMED_PAYLOAD") from None
    ring = app.key_ring(env)
    if ring is None:
        raise Rejected("KEY_NOT_CONFIGURED")
    message = f"{n.event}&{payload}"
    matched = 0
    for key in ring.versions:
        # Every version is checked, so the time taken does not tell which matched.
        if signature_matches(compute_mac(key.secret.reveal(), message), sig) and not matched:
            matched = key.version
    if not matched:
        raise Rejected("PAY_EVENT_SIG_MISMATCH")
    n.payload, n.key_version, n.env = payload, matched, ENV_TO_PROTO[env]
    n.body_authenticated = True
    if not n.encrypted:
        n.openid = ""  # only the Payload is proven: an unsigned FromUserName never stands in for its OpenId
    try:
        ev.fill_payment(n, content)
    except Malformed:
        raise Rejected("MALFORMED_PAYLOAD") from None
