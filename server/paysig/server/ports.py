"""One owner per address: a server refuses to start on an address another
process already serves, and keeps it for its own workers.

``claim`` does three things, in this order:

1. takes a lock for the address: an abstract Unix socket named
   ``paysig:<ip>:<port>`` (one per network namespace, released by the kernel
   when the last process holding it dies, no file to clean up). A second
   paysig on the same address fails here, even when both start at once;
2. probes the address with a plain bind, without SO_REUSEPORT: it fails with
   EADDRINUSE when any socket (paysig or not, any user) is bound there;
3. binds the reservation the workers join: a SO_REUSEPORT socket that is
   never listened on (so it receives no connection) and holds the port
   between worker restarts.

Limit: the kernel lets a process of the *same user* that also sets
SO_REUSEPORT join the port after paysig started (other users cannot). paysig
itself never does (1 and 2 refuse first), so run paysig under a user of its
own (the Dockerfile uses uid 10001; in Kubernetes the pod has its own network
namespace). ``foreign_listeners`` finds such a socket, and the supervisor
logs it.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket

from .address import Address


class AddressInUse(OSError):
    """The address is already served by another process."""


class Claim:
    """The lock and the reservation of one address (port resolved)."""

    def __init__(self, address: Address, lock: socket.socket, reserved: socket.socket | None):
        self.address = address
        self._lock = lock
        self._reserved = reserved

    def close(self) -> None:
        if self._reserved is not None:
            self._reserved.close()
        self._lock.close()


def _sockaddr(address: Address) -> tuple[int, tuple]:
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(address.host, address.port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise OSError(f"{address}: cannot resolve {address.host!r}: {e.strerror}") from None
    return family, sockaddr


def _in_use(address: Address, detail: str) -> AddressInUse:
    return AddressInUse(f"{address} is already served by another process ({detail}); "
                        "stop it or choose another address")


def _lock(address: Address, ip: str) -> socket.socket:
    lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        lock.bind(f"\0paysig:{ip}:{address.port}")
    except OSError as e:
        lock.close()
        if e.errno == errno.EADDRINUSE:
            raise _in_use(address, "another paysig holds it") from None
        raise
    return lock


def claim(address: Address, reserve: bool) -> Claim:
    """Locks and probes ``address`` (port 0: picks a free port); with
    ``reserve``, also binds the SO_REUSEPORT reservation for the workers.
    Raises AddressInUse naming the address when it is already served."""
    family, sockaddr = _sockaddr(address)
    ip = sockaddr[0]
    lock = _lock(address, ip) if address.port else None
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        try:
            probe.bind(sockaddr)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise _in_use(address, "address in use") from None
            raise OSError(f"cannot listen on {address}: {e.strerror}") from None
        bound = address.with_port(probe.getsockname()[1])
        if lock is None:
            lock = _lock(bound, ip)
    except BaseException:
        if lock is not None:
            lock.close()
        raise
    finally:
        probe.close()
    reserved = None
    if reserve:
        reserved = socket.socket(family, socket.SOCK_STREAM)
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            reserved.bind((ip, bound.port, *sockaddr[2:]))
        except OSError as e:
            reserved.close()
            lock.close()
            raise _in_use(bound, e.strerror) from None
    return Claim(bound, lock, reserved)


def _ip(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address of /proc/net/tcp{,6}: 32-bit words in host (little-endian) order."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(words)
    return ip.ipv4_mapped or ip if isinstance(ip, ipaddress.IPv6Address) else ip


def listening_sockets(port: int) -> dict[int, ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """{inode: local ip} of the TCP sockets listening on ``port`` in this network namespace."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            ip, _, local_port = local.partition(":")
            if state == "0A" and int(local_port, 16) == port:
                found[inode] = _ip(ip)
    return found


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets process ``pid`` holds."""
    inodes = set()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def own_listeners(addresses: list[Address]) -> set[int]:
    """Inodes of the sockets this process listens on at ``addresses``' ports.
    A worker reports them to the supervisor: a process that is not dumpable
    (hardening.disable_core_dumps) has a /proc/PID/fd that only root may
    read, so a supervisor that is not root cannot see them itself."""
    mine = socket_inodes(os.getpid())
    return {inode for address in addresses for inode in listening_sockets(address.port) if inode in mine}


def foreign_listeners(address: Address, pids: list[int], known: set[int] = frozenset()) -> set[int]:
    """Inodes of sockets listening on ``address`` (or overlapping it: a
    wildcard on either side) that none of ``pids`` holds and that are not
    ``known`` (the workers' own, as they reported them)."""
    ours = ipaddress.ip_address(socket.getaddrinfo(address.host, address.port, type=socket.SOCK_STREAM)[0][4][0])
    listening = listening_sockets(address.port)
    overlapping = {inode for inode, ip in listening.items()
                   if ip == ours or ip.is_unspecified or ours.is_unspecified} - known
    for pid in pids:
        overlapping -= socket_inodes(pid)
    return overlapping
