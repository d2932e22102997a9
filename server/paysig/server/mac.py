"""HMAC-SHA256 primitive: the only place that touches key bytes and digests."""

import hashlib
import hmac

HEX_DIGEST_LENGTH = 64


def compute_mac(key: bytes, message: str) -> str:
    """Lowercase hex HMAC-SHA256 of the UTF-8 bytes of ``message``."""
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def verify_mac(key: bytes, message: str, mac_hex: str) -> bool:
    """Constant-time check of ``mac_hex`` against the MAC of ``message``.

    ``mac_hex`` must already be known to be well-formed lowercase hex.
    """
    return hmac.compare_digest(compute_mac(key, message), mac_hex)
