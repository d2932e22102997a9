"""HOST:PORT, parsed once: every listen option and every check on an address
(loopback or not, the port) goes through ``parse_address``."""

from __future__ import annotations

import dataclasses
import ipaddress
import re

_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.\-]{0,252})")
EXAMPLE = "127.0.0.1:50051, 0.0.0.0:50051 or [::1]:50051"


class AddressError(ValueError):
    """An address that is not HOST:PORT."""


@dataclasses.dataclass(frozen=True)
class Address:
    host: str  # without brackets: "127.0.0.1", "::1", "localhost"
    port: int  # 0: the system picks one

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def with_port(self, port: int) -> "Address":
        return dataclasses.replace(self, port=port)

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_address(text: str, option: str = "address") -> Address:
    """``HOST:PORT`` (IPv6 hosts in brackets) or AddressError naming ``option``."""
    bad = f"{option}: bad address {text!r}: expected HOST:PORT, e.g. {EXAMPLE}"
    if not isinstance(text, str):
        raise AddressError(bad)
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise AddressError(bad)
        try:
            if not isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address):
                raise ValueError(host)
        except ValueError:
            raise AddressError(f"{bad} (not an IPv6 address in brackets)") from None
    else:
        host, sep, port = text.rpartition(":")
        if not sep or not host:
            raise AddressError(bad)
        if not _HOST.fullmatch(host):
            raise AddressError(f"{bad} (host {host!r} is not a host name or IPv4 address)")
    if not port.isascii() or not port.isdigit() or len(port) > 5 or int(port) > 65535:
        raise AddressError(f"{bad} (port {port!r} is not a number from 0 to 65535)")
    return Address(host, int(port))


def peer_host(peer: str) -> str:
    """A gRPC peer without its port ("ipv4:10.0.0.1:5123" -> "ipv4:10.0.0.1")."""
    if peer.startswith(("ipv4:", "ipv6:")):
        return peer.rpartition(":")[0]
    return peer
