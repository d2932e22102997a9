"""Assembles the gRPC server: SignerService, health, reflection."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from paysig.v1 import signer_pb2

from . import metrics
from .access import AuthMode
from .address import Address, parse_address
from .audit import AuditLog
from .config import Config
from .limits import MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, InFlight, Limits
from .pipeline import Pipeline
from .ratelimit import RateLimiter
from .servicer import SignerServicer, generic_handler
from .state import ConfigHolder

SERVICE_NAME = signer_pb2.DESCRIPTOR.services_by_name["SignerService"].full_name
DEFAULT_GRACE_SECONDS = 10.0
RPC_THREADS = 4
HEALTH_SERVICE_NAME = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name


def server_options(limits: Limits, reuse_port: bool) -> list[tuple[str, int]]:
    """The channel arguments of the main listener; [limits] sets the last ones
    (bench/floor_server.py serves with the same)."""
    return [
        ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
        ("grpc.max_send_message_length", MAX_RESPONSE_BYTES),
        # Clients may ping every 10 s without calls in flight (the client helpers' policy).
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        # Only the worker processes of one server share the port (see ports.py).
        ("grpc.so_reuseport", 1 if reuse_port else 0),
        ("grpc.max_connection_idle_ms", int(limits.idle_timeout_seconds * 1000)),
        ("grpc.max_allowed_incoming_connections", limits.max_connections),
    ]


class UnauthenticatedNetworkError(ValueError):
    """Auth mode "none" on an address other machines can reach."""


class PaysigServer:
    """A grpc.Server with the paysig services, a reloadable config and a
    graceful stop."""

    def __init__(self, config: Config, max_workers: int, interceptors: Sequence[grpc.ServerInterceptor] = (),
                 limiter: RateLimiter | None = None, generation: int = 1, reuse_port: bool = False):
        self.holder = ConfigHolder(config)
        self.generation = generation
        self._reuse_port = reuse_port
        self.audit_log = AuditLog(config.audit)
        self.pipeline = Pipeline(self.holder, self.audit_log, limiter or RateLimiter(), inflight=InFlight())
        metrics.get().publish_config(config, self.generation)
        self.health = health.HealthServicer(experimental_non_blocking=True)
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="paysig-rpc"),
            options=server_options(config.limits, reuse_port),
            interceptors=tuple(interceptors),
        )
        self._server.add_generic_rpc_handlers((generic_handler(SignerServicer(self.pipeline)),))
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        reflection.enable_server_reflection((SERVICE_NAME, HEALTH_SERVICE_NAME, reflection.SERVICE_NAME),
                                            self._server)
        self._health_server: grpc.Server | None = None
        self.health_port: int | None = None

    def add_health_port(self, address: str) -> int:
        """A plaintext listener that serves grpc.health.v1 and nothing else
        (the status of this server), for probes that cannot do TLS."""
        if self._health_server is None:
            self._health_server = grpc.server(
                futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="paysig-health"),
                options=[("grpc.so_reuseport", 1 if self._reuse_port else 0),
                         ("grpc.max_receive_message_length", 4096),
                         ("grpc.max_connection_idle_ms", 60_000),
                         ("grpc.max_allowed_incoming_connections", 64)])
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self._health_server)
        port = self._health_server.add_insecure_port(address)
        if port == 0:
            raise OSError(f"cannot listen on {address}")
        self.health_port = port
        return port

    def add_port(self, address: str) -> int:
        """Listens on ``address``; with [tls], each new connection's handshake
        uses the certificate, key and client CA of the config in force, so a
        reload rotates them (tlscheck.check_tls has checked they fit)."""
        tls = self.holder.current.access.tls
        if tls is None:
            port = self._server.add_insecure_port(address)
        else:
            served = [tls]

            def fetch() -> grpc.ServerCertificateConfiguration | None:
                current = self.holder.current.access.tls
                if current is served[0] or current is None:
                    return None
                served[0] = current
                return _certificate_configuration(current)

            credentials = grpc.dynamic_ssl_server_credentials(
                _certificate_configuration(tls), fetch,
                require_client_authentication=self.holder.current.access.mode is AuthMode.MTLS)
            port = self._server.add_secure_port(address, credentials)
        if port == 0:
            raise OSError(f"cannot listen on {address}")
        return port

    def start(self) -> None:
        self._server.start()
        if self._health_server is not None:
            self._health_server.start()
        for service in ("", SERVICE_NAME):
            self.health.set(service, health_pb2.HealthCheckResponse.SERVING)

    def reload(self, config: Config, generation: int | None = None) -> None:
        """Swaps the config atomically; calls in flight finish on the old one.
        The caller has checked that nothing needing a restart changed
        (process.check_reload)."""
        self.holder.replace(config)
        self.generation = self.generation + 1 if generation is None else generation
        metrics.get().publish_config(config, self.generation)
        self.reopen_logs()

    def reopen_logs(self) -> None:
        """After a SIGHUP, accepted or not: reopens the audit file (logrotate)."""
        self.audit_log.reopen()

    def stop(self, grace: float = DEFAULT_GRACE_SECONDS) -> None:
        """Health turns NOT_SERVING, new calls are refused, calls in flight get
        ``grace`` seconds to finish; returns when the server has stopped."""
        self.health.enter_graceful_shutdown()
        if self._health_server is not None:
            self._health_server.stop(grace)
        self._server.stop(grace).wait()
        self.audit_log.close()

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        return self._server.wait_for_termination(timeout)


def _certificate_configuration(tls) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration([(tls.private_key.reveal(), tls.cert_chain)],
                                                     root_certificates=tls.client_ca)


def check_listen(address: Address | str, config: Config, allow_unauthenticated_network: bool) -> None:
    """Auth mode "none" only on loopback, unless explicitly allowed; a demo config only on loopback."""
    if isinstance(address, str):
        address = parse_address(address)
    if config.demo and not address.is_loopback:
        raise UnauthenticatedNetworkError(f"refusing to listen on {address}: {config.source} is a demo config "
                                          "(demo = true, inline keys in a readable file): loopback only")
    if config.access.mode is AuthMode.NONE and not address.is_loopback and not allow_unauthenticated_network:
        raise UnauthenticatedNetworkError(
            f"refusing to listen on {address} with auth.mode = \"none\": anyone who can connect could sign. "
            "Configure [auth] mode = \"token\" or \"mtls\", listen on 127.0.0.1, or pass "
            "--insecure-allow-unauthenticated-network")


def create_server(
    address: str,
    config: Config,
    *,
    max_workers: int = RPC_THREADS,
    interceptors: Sequence[grpc.ServerInterceptor] = (),
    allow_unauthenticated_network: bool = False,
    limiter: RateLimiter | None = None,
    generation: int = 1,
    reuse_port: bool = False,
    health_address: str | None = None,
) -> tuple[PaysigServer, int]:
    """Builds a server listening on ``address`` (port 0 picks a free port);
    returns it unstarted with the bound port.

    ``max_workers`` RPC threads: calls are CPU-bound and share the GIL, so a
    few threads serve more calls per second than many (bench: 4 threads gave
    1.4x the throughput of 32 on the 2-core machine).

    With auth mode "none" the address must be a loopback one unless
    ``allow_unauthenticated_network``: anyone who can connect could sign.
    ``limiter``: the rate-limit table shared with the other workers of the
    server (a private one by default); ``reuse_port``: the worker processes
    of one server share the port; ``health_address``: also serve health
    alone, in plaintext, there.
    """
    check_listen(address, config, allow_unauthenticated_network)
    server = PaysigServer(config, max_workers, interceptors, limiter, generation, reuse_port)
    port = server.add_port(address)
    if health_address is not None:
        server.add_health_port(health_address)
    return server, port
