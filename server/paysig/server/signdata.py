"""The canonical signData string: compact JSON, fields in the order of
WeChat's official examples (each variant's `sign_data` in order_spec.py),
numbers as JSON numbers, strings as JSON strings.

The caller hands this exact string to the client; it is never re-serialised.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import Any

from .keys import Env

OFFER_ID = "@offer_id"  # the app's configured offerId
ENV = "@env"  # the signing key's env as signData writes it: 0 production, 1 sandbox


@dataclasses.dataclass(frozen=True)
class Const:
    value: str


@dataclasses.dataclass(frozen=True)
class Key:
    """One signData field: its JSON key and where its value comes from (an
    Order field's name, OFFER_ID, ENV or a Const); ``omit_empty`` leaves it out
    when the value is empty or unset."""

    name: str
    source: str | Const
    omit_empty: bool = False


# Compact, non-ASCII kept as UTF-8; built once (json.dumps with options builds an encoder per call).
COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def compile_sign_data(keys: Sequence[Key]) -> Callable[[str | None, Env, dict[str, Any]], str]:
    """The signData builder of a variant's ``keys``: (offer_id, env, order
    values) -> signData, the order values checked (defaults applied, None for
    an unset optional field); it adds OFFER_ID and ENV to them."""
    plan = [(key.name, key.source if isinstance(key.source, str) else None,
             key.source.value if isinstance(key.source, Const) else None, key.omit_empty) for key in keys]

    def build(offer_id: str | None, env: Env, order: dict[str, Any]) -> str:
        order[OFFER_ID] = offer_id
        order[ENV] = env.value
        fields: dict[str, Any] = {}
        for name, source, const, omit_empty in plan:
            value = const if source is None else order[source]
            if omit_empty and (value is None or value == ""):
                continue
            fields[name] = value
        return COMPACT_JSON.encode(fields)

    return build
