"""[tls] checked before it serves: the certificate chain and its private key
must load and belong together, the client CA must be PEM certificates. Run at
start-up and on every reload, so a reload that rotates the certificate never
hands the listener a pair that would fail every handshake."""

from __future__ import annotations

import os
import ssl

from .config import Config
from .config_errors import ConfigError


def _memory_file(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    os.write(fd, data)
    return fd


def check_tls(config: Config) -> None:
    """ConfigError naming the [tls] field that does not load."""
    tls = config.access.tls
    if tls is None:
        return
    where = f"{config.source}: tls"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert_fd = _memory_file("paysig-tls-cert", tls.cert_chain)
    key_fd = _memory_file("paysig-tls-key", tls.private_key.reveal())  # memory only, closed below
    try:
        context.load_cert_chain(f"/proc/self/fd/{cert_fd}", f"/proc/self/fd/{key_fd}", password=lambda: b"")
    except ssl.SSLError as e:
        raise ConfigError(f"{where}: cert_file, key_file: not a PEM certificate chain and its unencrypted "
                          f"private key, or the key does not belong to the certificate ({e.reason})") from None
    finally:
        os.close(cert_fd)
        os.close(key_fd)
    if tls.client_ca is not None:
        try:
            context.load_verify_locations(cadata=tls.client_ca.decode("ascii"))
        except (ssl.SSLError, UnicodeDecodeError, ValueError):
            raise ConfigError(f"{where}: client_ca_file: not PEM certificates") from None
