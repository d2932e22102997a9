"""DiagnoseSignature: which known mistake made the signature WeChat rejected.

Only the named app's keys are tried (every configured version of each env,
and the request's session_key), each over the right message and the fixed
variants of diagnosis.py, with constant-time compares and no early exit.
A finding names the configured env and version that matched, never anything
of a key; a paySig or PayEventSig is never returned (this is not a signing
oracle: sign expected_payload with SignOrder or SignApiCall).
"""

from __future__ import annotations

import dataclasses
import hmac
import re

from paysig.v1 import signer_pb2 as pb

from .. import diagnosis as d
from .. import apis, rules, wechat_errors
from ..wechat_errors import Column
from ..config import App, AppKind
from ..errors import Rule, Violations
from ..keys import Env
from ..mac import compute_mac
from .common import ENV_TO_PROTO, lookup_app, request_env
from .diagnose_payload import check_payload
from ..order_spec import APIS_OF_KIND, METHODS

REQUEST = "DiagnoseSignatureRequest"
MAX_METHOD_CHARS = 1024
MAX_ERROR_MESSAGE_CHARS = 1024
_SCHEMES = (pb.SIGNATURE_SCHEME_PAY_SIG, pb.SIGNATURE_SCHEME_USER_SIGNATURE, pb.SIGNATURE_SCHEME_EVENT)
_NAMES_PAY_SIG = re.compile(r"pay_?sig", re.IGNORECASE)
_NAMES_SIGNATURE = re.compile(r"(?<![a-z_])signature", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class _Key:
    secret: bytes = dataclasses.field(repr=False)
    mistakes: tuple[d.Mistake, ...]  # () for the key that should have signed
    env: Env | None = None
    version: int = 0


def diagnose_signature(config, req: pb.DiagnoseSignatureRequest) -> pb.DiagnoseSignatureResponse:
    app = lookup_app(config, req.app_id, REQUEST)
    v = Violations()
    given = _check_request(v, req)
    requested_env = request_env(v, req.env)
    raw, method, is_client = _method(v, app, req)
    v.raise_if_any(REQUEST)

    user = req.scheme == pb.SIGNATURE_SCHEME_USER_SIGNATURE
    obj = rules.parse_json_object(Violations(), "payload", req.payload) if req.payload.lstrip().startswith("{") \
        else None
    payloads = d.payload_variants(req.payload, obj, method)
    env_findings: list[pb.DiagnosisFinding] = []
    if user:
        keys = _user_keys(app, req.session_key)
        right, variants = d.message_variants(None, req.payload, [], payloads)
        variants.append(d.Variant(f"{method}&{req.payload}", (d.Mistake(
            d.METHOD_IN_USER_SIGNATURE, f"the user signature covers the payload only, not {method!r} + '&'"),)))
    else:
        key_env, env_note = _payload_env(app, obj, "Env" if req.scheme == pb.SIGNATURE_SCHEME_EVENT else "env")
        keys = _app_keys(app, key_env, env_note, req.session_key)
        methods = d.pay_sig_methods(raw, method, is_client) if req.scheme == pb.SIGNATURE_SCHEME_PAY_SIG \
            else [(method, ())]
        right, variants = d.message_variants(method, req.payload, methods, payloads)
        env_findings = _env_findings(app, requested_env, key_env, env_note)

    matches = _matches(keys, [d.Variant(right, ())] + variants, given.hex)
    valid = any(not key.mistakes and not variant.mistakes for key, variant in matches)
    user_expected = compute_mac(req.session_key.encode("utf-8"), req.payload) if user and req.session_key else ""
    findings: list[pb.DiagnosisFinding] = []
    if given.mistake is not None:
        findings.append(pb.DiagnosisFinding(code=given.mistake.code, message=given.mistake.message,
                                            expected_signature=user_expected or given.hex))
    for key, variant in matches:
        findings += [_finding(mistake, key, user_expected) for mistake in key.mistakes + variant.mistakes]
    findings += env_findings
    if req.scheme == pb.SIGNATURE_SCHEME_PAY_SIG:
        findings += _method_findings(raw, method, is_client, matches, valid)
    findings += _error_code_findings(req, method if raw else "")
    if req.scheme != pb.SIGNATURE_SCHEME_EVENT and (raw or not user):
        findings += [pb.DiagnosisFinding(code=d.PAYLOAD_RULE, message=f.message, field=f.field,
                                         expected_payload=f.expected_payload)
                     for f in check_payload(app, method, req.payload, obj)]

    if valid and given.mistake is None:
        verdict = pb.DIAGNOSIS_VERDICT_VALID
    elif matches:
        verdict = pb.DIAGNOSIS_VERDICT_EXPLAINED
    else:
        verdict = pb.DIAGNOSIS_VERDICT_UNEXPLAINED
    return pb.DiagnoseSignatureResponse(verdict=verdict, findings=_unique(findings),
                                        error_code_meaning=_error_code_meaning(req, method if raw else ""))


def _env_findings(app: App, requested: Env | None, key_env: Env, env_note: str) -> list[pb.DiagnosisFinding]:
    """The env the request names against the env the payload names, and a key paysig lacks."""
    found = []
    if requested is not None and requested is not key_env:
        found.append(pb.DiagnosisFinding(code=d.ENV_NOT_IN_PAYLOAD, message=(
            "a superapp app has a single key and no sandbox" if app.kind is AppKind.SUPERAPP else
            f"you meant {requested.config_name} but the payload says {env_note}; the env inside the signed "
            f"bytes picks the key: write \"env\":{requested.value} in the payload to pay in {requested.config_name}")))
    if app.key_ring(key_env) is None:
        found.append(pb.DiagnosisFinding(code=d.KEY_NOT_CONFIGURED, message=(
            f"the payload says {env_note}, but this app has no {key_env.config_name} AppKey in paysig, so the "
            "right signature cannot be checked")))
    return found


def _method_findings(raw: str, method: str, is_client: bool, matches: list, valid: bool) -> list[pb.DiagnosisFinding]:
    """What is wrong with the method as given even when no signature reproduces it, and the user
    signature a valid pay_sig's API also needs."""
    found = []
    if raw and raw != method and not any(variant.message.startswith(raw + "&") for _, variant in matches):
        mistakes = (d.wrong_method(raw, method),) if is_client else d.uri_mistakes(raw, method)
        found += [_finding(m, None, "") for m in mistakes]
    if valid and (api := apis.find(method)) is not None and api.user_signature:
        found.append(pb.DiagnosisFinding(code=d.USER_SIGNATURE_REQUIRED, message=(
            f"{method} also needs the user signature: signature=HMAC(session_key, body) in the query string "
            "(WeChat answers a missing one like a wrong one)")))
    return found


def _check_request(v: Violations, req: pb.DiagnoseSignatureRequest) -> d.GivenSignature:
    given = None
    if not req.signature:
        v.add("signature", Rule.REQUIRED, "required: the rejected signature")
    else:
        given = d.parse_signature(req.signature.strip())
        if given is None:
            v.add("signature", Rule.FORMAT, "must be 64 hex characters (any case) or the base64 of 32 bytes")
    if req.scheme not in _SCHEMES:
        v.add("scheme", Rule.REQUIRED, "required: SIGNATURE_SCHEME_PAY_SIG, _USER_SIGNATURE or _EVENT")
    if not req.payload:
        v.add("payload", Rule.REQUIRED, "required: exactly the bytes that were sent")
    elif len(req.payload.encode("utf-8")) > rules.MAX_JSON_BYTES:
        v.add("payload", Rule.TOO_LONG, f"must be at most {rules.MAX_JSON_BYTES} bytes")
    rules.check_session_key(v, "session_key", req.session_key, required=False)
    if req.scheme == pb.SIGNATURE_SCHEME_USER_SIGNATURE:
        rules.check_unset(v, "env", req.env != pb.ENV_UNSPECIFIED, "the user signature does not use an AppKey")
    if len(req.wechat_error_message) > MAX_ERROR_MESSAGE_CHARS:
        v.add("wechat_error_message", Rule.TOO_LONG, f"must be at most {MAX_ERROR_MESSAGE_CHARS} characters")
    return given or d.GivenSignature("", None)


def _method(v: Violations, app: App, req: pb.DiagnoseSignatureRequest) -> tuple[str, str, bool]:
    """(the method as given, the one that should have been signed, whether it is a client call)."""
    raw = req.method
    app_methods = [METHODS[api] for api in APIS_OF_KIND[app.kind]]  # a superapp app takes both client calls
    if len(raw) > MAX_METHOD_CHARS or rules.has_control_chars(raw):
        v.add("method", Rule.FORMAT, f"must be at most {MAX_METHOD_CHARS} characters without control characters")
        return raw, raw, False
    if req.scheme == pb.SIGNATURE_SCHEME_EVENT:
        if not rules.EVENT_NAME.fullmatch(raw):
            v.add("method", Rule.FORMAT, "required: the event name, 1-128 characters of A-Z a-z 0-9 _")
        return raw, raw, False
    if not raw:
        if req.scheme == pb.SIGNATURE_SCHEME_PAY_SIG:
            v.add("method", Rule.REQUIRED, "required: requestMidasPaymentGameItem, requestVirtualPayment or the "
                  "API URI as it was signed")
        return raw, app_methods[0], True
    if (named := d.client_method(raw)) is not None:
        return raw, named if named in app_methods else app_methods[0], True
    if "/" not in raw:
        v.add("method", Rule.FORMAT, "must name requestMidasPaymentGameItem, requestVirtualPayment or an API URI")
        return raw, raw, False
    path = d.uri_path(raw)
    rules.check_uri(v, "method", path)
    return raw, path, False


def _payload_env(app: App, obj: dict | None, field: str) -> tuple[Env, str]:
    """The env whose key should have signed (as WeChat reads the payload), and how the payload says it."""
    if app.kind is AppKind.SUPERAPP:
        return Env.PRODUCTION, "nothing of an env (a superapp app has a single key)"
    value = None if obj is None else obj.get(field)
    if value in (0, 1, "0", "1") and not isinstance(value, bool):
        env = Env(int(value))
        return env, f"{field} {value!r} ({env.config_name})".replace("'", '"')
    if obj is not None and field in obj:
        return Env.PRODUCTION, f"an unreadable {field}, read as production"
    return Env.PRODUCTION, f"no {field} (production)"


def _app_keys(app: App, key_env: Env, env_note: str, session_key: str) -> list[_Key]:
    keys = []
    for env, ring in app.keys.items():
        for key in ring.versions:
            if env is key_env and key is ring.primary:
                mistakes = ()
            elif env is key_env:
                mistakes = (d.Mistake(d.RETIRED_KEY_VERSION, (
                    f"signed with version {key.version} of the {env.config_name} AppKey; the newest configured is "
                    f"version {ring.primary.version}, and WeChat knows only the current key: sign with the newest")),)
            else:
                mistakes = (d.Mistake(d.WRONG_ENV_KEY, (
                    f"signed with the {env.config_name} AppKey (version {key.version}), but the payload says "
                    f"{env_note}: the env inside the signed bytes must be the env whose key signs")),)
            keys.append(_Key(key.secret.reveal(), mistakes, env, key.version))
    if session_key:
        keys.append(_Key(session_key.encode("utf-8"), (d.Mistake(
            d.KEYS_SWAPPED, "signed with the session_key: the paySig needs the AppKey (the session_key is for the "
            "user signature)"),)))
    return keys


def _user_keys(app: App, session_key: str) -> list[_Key]:
    keys = [_Key(session_key.encode("utf-8"), ())] if session_key else []
    for env, ring in app.keys.items():
        for key in ring.versions:
            keys.append(_Key(key.secret.reveal(), (d.Mistake(
                d.KEYS_SWAPPED, f"signed with the {env.config_name} AppKey (version {key.version}): the user "
                "signature needs the user's session_key (the AppKey is for the paySig)"),), env, key.version))
    return keys


def _matches(keys: list[_Key], variants: list[d.Variant], signature_hex: str) -> list[tuple[_Key, d.Variant]]:
    """Every (key, variant) whose MAC is the signature. All are computed and
    compared in constant time, so the time taken does not tell which matched."""
    found = []
    for key in keys:
        for variant in variants:
            if hmac.compare_digest(compute_mac(key.secret, variant.message), signature_hex):
                found.append((key, variant))
    return found


def _finding(mistake: d.Mistake, key: _Key | None, user_expected: str) -> pb.DiagnosisFinding:
    keyed = key is not None and mistake.code in (d.WRONG_ENV_KEY, d.RETIRED_KEY_VERSION, d.KEYS_SWAPPED)
    return pb.DiagnosisFinding(
        code=mistake.code, message=mistake.message, expected_signature=user_expected,
        expected_payload=mistake.expected_payload, expected_method=mistake.expected_method,
        key_env=ENV_TO_PROTO[key.env] if keyed and key.env is not None else pb.ENV_UNSPECIFIED,
        key_version=key.version if keyed else 0)


def _error_api(method: str) -> wechat_errors.Api | None:
    return wechat_errors.api_of_method(method) if method else None


def _error_code_meaning(req: pb.DiagnoseSignatureRequest, method: str) -> str:
    if not req.HasField("wechat_error_code"):
        return ""
    return wechat_errors.meaning(_error_api(method), req.wechat_error_code)


def _error_code_findings(req: pb.DiagnoseSignatureRequest, method: str) -> list[pb.DiagnosisFinding]:
    """OTHER_SIGNATURE_REJECTED when WeChat's answer names the other signature."""
    api = _error_api(method)
    if api is None or not req.HasField("wechat_error_code") or req.scheme == pb.SIGNATURE_SCHEME_EVENT:
        return []
    columns = set(wechat_errors.rejects(api, req.wechat_error_code))
    if {Column.USER_SIGNATURE, Column.PAY_SIG} <= columns:
        named_pay_sig = bool(_NAMES_PAY_SIG.search(req.wechat_error_message))
        named_user = bool(_NAMES_SIGNATURE.search(req.wechat_error_message)) and not named_pay_sig
        columns = {Column.PAY_SIG} if named_pay_sig else {Column.USER_SIGNATURE} if named_user else columns
    diagnosed = Column.USER_SIGNATURE if req.scheme == pb.SIGNATURE_SCHEME_USER_SIGNATURE else Column.PAY_SIG
    other = Column.PAY_SIG if diagnosed is Column.USER_SIGNATURE else Column.USER_SIGNATURE
    if other in columns and diagnosed not in columns:
        return [pb.DiagnosisFinding(code=d.OTHER_SIGNATURE_REJECTED, message=(
            f"WeChat's {req.wechat_error_code} on {api.value} rejects the {other.value}, not the {diagnosed.value} "
            "diagnosed here: diagnose the other signature"))]
    return []


def _unique(findings: list[pb.DiagnosisFinding]) -> list[pb.DiagnosisFinding]:
    seen, out = set(), []
    for finding in findings:
        key = (finding.code, finding.field, finding.message)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out
