"""The cryptography of WeChat's message-push transport (spec 6.1).

    signature     = sha1(concat(sort([token, timestamp, nonce])))
    msg_signature = sha1(concat(sort([token, timestamp, nonce, Encrypt])))
    Encrypt       = base64(AES-256-CBC(key, iv=key[:16], PKCS#7 to 32-byte blocks,
                           16 random bytes + uint32 big-endian length + message + appid))

AES and the padding check come from pyca/cryptography. Every way a
decryption can fail raises the same DecryptFailed, without detail, so that
no answer tells a padding error from any other (and msg_signature is checked
before anything is decrypted).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

PAD_BLOCK_BYTES = 32
RANDOM_BYTES = 16
LENGTH_BYTES = 4


class DecryptFailed(Exception):
    """The ciphertext does not decrypt to a well-formed plaintext with this key."""


def push_signature(*parts: str) -> str:
    """Lowercase hex SHA-1 of the lexicographically sorted parts, concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature_matches(expected: str, given: str) -> bool:
    """Constant-time comparison; ``given`` may be anything a query carried."""
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


def decrypt(key: bytes, encrypt: str) -> tuple[bytes, bytes]:
    """(message, appid) of a base64 Encrypt field, or DecryptFailed."""
    try:
        data = base64.b64decode(encrypt.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise DecryptFailed from None
    if not data or len(data) % PAD_BLOCK_BYTES:
        raise DecryptFailed
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(PAD_BLOCK_BYTES * 8).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise DecryptFailed from None
    head = RANDOM_BYTES + LENGTH_BYTES
    if len(plain) < head:
        raise DecryptFailed
    length = int.from_bytes(plain[RANDOM_BYTES:head], "big")
    if length > len(plain) - head:
        raise DecryptFailed
    return plain[head:head + length], plain[head + length:]
