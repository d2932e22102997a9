"""AppKeys, their versions and rotation.

Each app has one key ring per env (production, sandbox). A ring holds one or
more versions; the newest (highest version number) signs, every version still
in the ring verifies. Rotation is: add a new version (it signs from then on),
wait until nothing signed with the old one is in flight, remove the old one.
"""

from __future__ import annotations

import dataclasses
import enum
import hmac


class Env(enum.Enum):
    """A payment environment; ``value`` is the number written as "env"."""

    PRODUCTION = 0
    SANDBOX = 1

    @property
    def config_name(self) -> str:
        return self.name.lower()


class Secret:
    """Key material that never shows itself in a repr, str or log line."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes):
        self._value = value

    def reveal(self) -> bytes:
        return self._value

    def __repr__(self) -> str:
        return "Secret(****)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return id(self)

    def __reduce__(self):
        raise TypeError("Secret cannot be pickled")


@dataclasses.dataclass(frozen=True)
class KeyVersion:
    version: int
    secret: Secret
    inline: bool = dataclasses.field(default=False, compare=False)  # written in the config file itself


@dataclasses.dataclass(frozen=True)
class KeyRing:
    """The versions of one app's key for one env, newest first."""

    versions: tuple[KeyVersion, ...]

    def __post_init__(self):
        if not self.versions:
            raise ValueError("a key ring needs at least one version")
        numbers = [v.version for v in self.versions]
        if len(set(numbers)) != len(numbers):
            raise ValueError("key versions must be unique")
        object.__setattr__(
            self, "versions", tuple(sorted(self.versions, key=lambda v: v.version, reverse=True))
        )

    @property
    def primary(self) -> KeyVersion:
        """The version that signs."""
        return self.versions[0]
