"""Mini-game payment pushes: the fields PayEventSig covers."""

from __future__ import annotations

import dataclasses
import json

import grpc

from .errors import FieldViolation, PaysigError


@dataclasses.dataclass(frozen=True)
class Notification:
    event: str
    payload: str
    pay_event_sig: str
    is_mock: bool


def parse_notification(raw: str | bytes) -> Notification:
    """Reads Event and MiniGame.{Payload, PayEventSig, IsMock} of a raw JSON
    push. A malformed push raises PaysigError(INVALID_ARGUMENT,
    reason INVALID_NOTIFICATION)."""

    def bad(field: str, description: str) -> PaysigError:
        return PaysigError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid notification: {field}: {description}",
                           "INVALID_NOTIFICATION", (FieldViolation(field, "FORMAT", description),))

    try:
        push = json.loads(raw)
    except (ValueError, TypeError):
        raise bad("notification", "must be a JSON object") from None
    if not isinstance(push, dict):
        raise bad("notification", "must be a JSON object")
    event = push.get("Event")
    if not isinstance(event, str) or not event:
        raise bad("Event", "required: the event name")
    game = push.get("MiniGame")
    if not isinstance(game, dict):
        raise bad("MiniGame", "required: an object with Payload and PayEventSig")
    if not isinstance(game.get("Payload"), str):
        raise bad("MiniGame.Payload", "required: the signed JSON string")
    if not isinstance(game.get("PayEventSig"), str):
        raise bad("MiniGame.PayEventSig", "required: the signature")
    return Notification(event, game["Payload"], game["PayEventSig"], game.get("IsMock") is True)
