"""Lookups and env rules shared by the operations."""

from __future__ import annotations

from typing import Any

from paysig.v1 import signer_pb2 as pb

from .. import apis, rules
from ..config import App, AppKind, Config
from ..errors import Rule, Violations, app_not_found, key_not_configured
from ..keys import Env, KeyRing

ENV_FROM_PROTO = {pb.ENV_PRODUCTION: Env.PRODUCTION, pb.ENV_SANDBOX: Env.SANDBOX}
ENV_TO_PROTO = {env: value for value, env in ENV_FROM_PROTO.items()}


def lookup_app(config: Config, app_id: str, request_name: str) -> App:
    if not app_id:
        v = Violations()
        v.add("app_id", Rule.REQUIRED, "required: the app_id of a configured app")
        v.raise_if_any(request_name)
    app = config.apps.get(app_id)
    if app is None:
        raise app_not_found()
    return app


def request_env(v: Violations, value: int) -> Env | None:
    """The env a request names; None when unspecified."""
    if value == pb.ENV_UNSPECIFIED:
        return None
    env = ENV_FROM_PROTO.get(value)
    if env is None:
        v.add("env", Rule.FORMAT, "must be ENV_PRODUCTION or ENV_SANDBOX")
    return env


def resolve_env(v: Violations, app: App, requested: Env | None, named: Env | None, named_field: str) -> Env | None:
    """The env that picks the key: the request's, or the one named inside the
    signed payload (when both are given they must agree); for a superapp,
    whose single key is its production key, production when neither is."""
    if requested is not None and named is not None and requested is not named:
        v.add(named_field, Rule.MISMATCH, f"says {named.config_name} but env is {requested.config_name}: "
              "the env inside the signed bytes must be the env whose key signs")
    if requested is not None:
        return requested
    if named is None and app.kind is AppKind.SUPERAPP:
        return Env.PRODUCTION
    return named


def api_body_env(v: Violations, app: App, requested: Env | None, uri: str, body: dict[str, Any] | None,
                 body_field: str) -> Env | None:
    """The env whose key signs a server API call. The body's "env" picks it
    (the request's env, when given, must agree); a body without "env" is a
    production call, WeChat's default, so asking for the sandbox key over it
    is the env/key mix WeChat rejects."""
    if body is None or "env" in body:
        return resolve_env(v, app, requested, rules.payload_env(v, body_field, body, "env"), f"{body_field}.env")
    if requested is Env.SANDBOX:
        api = apis.find(uri)
        if api is not None and not api.env_in_body:
            v.add("env", Rule.NOT_ALLOWED, f"{uri} has no env in its body, so it is always a production call: "
                  "use ENV_PRODUCTION or leave env unset")
        else:
            v.add(f"{body_field}.env", Rule.MISMATCH, 'missing, so WeChat reads a production call, but env is '
                  'sandbox: add "env":1 to the body to call the sandbox')
    return Env.PRODUCTION


def check_signed_api(v: Violations, field: str, uri: str) -> None:
    """Refuses the known APIs that take no pay_sig: there is nothing to sign."""
    api = apis.find(uri)
    if api is not None and not api.pay_sig:
        v.add(field, Rule.UNSUPPORTED, f"{uri} takes only access_token (no pay_sig, no signature): "
              "call it without signing")


def require_ring(app: App, env: Env) -> KeyRing:
    ring = app.key_ring(env)
    if ring is None:
        raise key_not_configured(app.app_id, env.config_name)
    return ring
