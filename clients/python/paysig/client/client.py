"""Client and AsyncClient over the generated paysig.v1 stubs."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

import grpc
import grpc.aio

from paysig.v1 import signer_pb2 as pb
from paysig.v1 import signer_pb2_grpc

from .errors import CallInfo, PaysigError, request_id_of

# Balance over every address a name resolves to; retry only calls that never
# reached a server (signing is a pure function of the request).
SERVICE_CONFIG = json.dumps({
    "loadBalancingConfig": [{"round_robin": {}}],
    "methodConfig": [{
        "name": [{"service": "paysig.v1.SignerService"}],
        "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.05s", "maxBackoff": "1s",
                        "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]},
    }],
})
CHANNEL_OPTIONS = (
    ("grpc.service_config", SERVICE_CONFIG),
    ("grpc.enable_retries", 1),
    # The server accepts pings every 10 s or more, with or without calls.
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    # Without this, channels to the same target share one connection.
    ("grpc.use_local_subchannel_pool", 1),
    # A 1,000-order batch answer can reach 7 MiB.
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
)


class _Base:
    """Options shared by Client and AsyncClient.

    connections: channels (so HTTP/2 connections) opened to the target, used
      in turn. A paysig server runs one process per core behind one port and
      Linux spreads connections, not calls: one connection uses one core.
    timeout: seconds a call may take when the call gives none.
    tls: channel credentials (grpc.ssl_channel_credentials(...)); None is plaintext.
    token: bearer token sent as "authorization: Bearer <token>"; needs tls
      unless allow_token_without_tls (loopback tests only).
    options: extra channel options.

    Every call takes ``timeout`` (seconds, overriding the client's) and
    ``info``: a CallInfo that the call fills with the server's request id,
    on success and on failure (PaysigError.request_id has it too).
    """

    def __init__(self, target: str, *, connections: int = 4, timeout: float = 2.0,
                 tls: grpc.ChannelCredentials | None = None, token: str | None = None,
                 allow_token_without_tls: bool = False, options: Sequence[tuple[str, Any]] = ()):
        if connections < 1:
            raise ValueError("connections must be at least 1")
        if token and tls is None and not allow_token_without_tls:
            raise ValueError("a token needs tls (or allow_token_without_tls=True for loopback tests)")
        self._timeout = timeout
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._channels = [self._open(target, tls, CHANNEL_OPTIONS + tuple(options)) for _ in range(connections)]
        self._stubs = [signer_pb2_grpc.SignerServiceStub(c) for c in self._channels]
        self._next = itertools.cycle(self._stubs)

    @property
    def stub(self) -> signer_pb2_grpc.SignerServiceStub:
        """The generated stub of the next connection, for calls the helpers do not cover."""
        return next(self._next)

    def _call_kwargs(self, timeout: float | None) -> dict[str, Any]:
        return {"timeout": self._timeout if timeout is None else timeout, "metadata": self._metadata}


class Client(_Base):
    """Blocking client; thread-safe. Every failure raises PaysigError."""

    @staticmethod
    def _open(target, tls, options):
        return grpc.secure_channel(target, tls, options) if tls else grpc.insecure_channel(target, options)

    def _call(self, method: str, request, timeout: float | None, info: CallInfo | None):
        rpc = getattr(self.stub, method)
        try:
            if info is None:
                return rpc(request, **self._call_kwargs(timeout))
            response, call = rpc.with_call(request, **self._call_kwargs(timeout))
        except grpc.RpcError as error:
            failure = PaysigError.from_rpc_error(error)
            if info is not None:
                info.request_id = failure.request_id
            raise failure from None
        info.request_id = request_id_of(call.trailing_metadata())
        return response

    def sign_order(self, request: pb.SignOrderRequest, *, timeout: float | None = None,
                   info: CallInfo | None = None) -> pb.SignOrderResponse:
        return self._call("SignOrder", request, timeout, info)

    def sign_api_call(self, request: pb.SignApiCallRequest, *, timeout: float | None = None,
                      info: CallInfo | None = None) -> pb.SignApiCallResponse:
        return self._call("SignApiCall", request, timeout, info)

    def verify_signature(self, request: pb.VerifySignatureRequest, *,
                         timeout: float | None = None, info: CallInfo | None = None) -> pb.VerifySignatureResponse:
        return self._call("VerifySignature", request, timeout, info)

    def verify_notification(self, request: pb.VerifyNotificationRequest, *, timeout: float | None = None,
                            info: CallInfo | None = None) -> pb.VerifyNotificationResponse:
        """Verifies a pushed HTTP request; see paysig.client.notification for
        the ready-made push handlers."""
        return self._call("VerifyNotification", request, timeout, info)

    def diagnose_signature(self, request: pb.DiagnoseSignatureRequest, *, timeout: float | None = None,
                           info: CallInfo | None = None) -> pb.DiagnoseSignatureResponse:
        """Which known mistake made a signature WeChat rejected (its own RPC in the caller's grants)."""
        return self._call("DiagnoseSignature", request, timeout, info)

    def batch_sign_orders(self, requests: Sequence[pb.SignOrderRequest], *,
                          timeout: float | None = None, info: CallInfo | None = None) -> list[pb.SignOrderResult]:
        """Signs up to 1,000 orders; one result (response or error) per request, in order."""
        response = self._call("BatchSignOrders", pb.BatchSignOrdersRequest(requests=requests), timeout, info)
        return list(response.results)

    def batch_sign_api_calls(self, requests: Sequence[pb.SignApiCallRequest], *,
                             timeout: float | None = None, info: CallInfo | None = None) -> list[pb.SignApiCallResult]:
        """Signs up to 1,000 API calls; one result per request, in order."""
        response = self._call("BatchSignApiCalls", pb.BatchSignApiCallsRequest(requests=requests), timeout, info)
        return list(response.results)

    def close(self) -> None:
        for channel in self._channels:
            channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class AsyncClient(_Base):
    """asyncio client (grpc.aio); create it inside the running event loop."""

    @staticmethod
    def _open(target, tls, options):
        return grpc.aio.secure_channel(target, tls, options) if tls else grpc.aio.insecure_channel(target, options)

    async def _call(self, method: str, request, timeout: float | None, info: CallInfo | None):
        call = getattr(self.stub, method)(request, **self._call_kwargs(timeout))
        try:
            response = await call
        except grpc.aio.AioRpcError as error:
            failure = PaysigError.from_rpc_error(error)
            if info is not None:
                info.request_id = failure.request_id
            raise failure from None
        if info is not None:
            info.request_id = request_id_of(await call.trailing_metadata())
        return response

    async def sign_order(self, request: pb.SignOrderRequest, *, timeout: float | None = None,
                         info: CallInfo | None = None) -> pb.SignOrderResponse:
        return await self._call("SignOrder", request, timeout, info)

    async def sign_api_call(self, request: pb.SignApiCallRequest, *,
                            timeout: float | None = None, info: CallInfo | None = None) -> pb.SignApiCallResponse:
        return await self._call("SignApiCall", request, timeout, info)

    async def verify_signature(self, request: pb.VerifySignatureRequest, *,
                               timeout: float | None = None,
                               info: CallInfo | None = None) -> pb.VerifySignatureResponse:
        return await self._call("VerifySignature", request, timeout, info)

    async def verify_notification(self, request: pb.VerifyNotificationRequest, *, timeout: float | None = None,
                                  info: CallInfo | None = None) -> pb.VerifyNotificationResponse:
        return await self._call("VerifyNotification", request, timeout, info)

    async def diagnose_signature(self, request: pb.DiagnoseSignatureRequest, *, timeout: float | None = None,
                                 info: CallInfo | None = None) -> pb.DiagnoseSignatureResponse:
        """Which known mistake made a signature WeChat rejected (its own RPC in the caller's grants)."""
        return await self._call("DiagnoseSignature", request, timeout, info)

    async def batch_sign_orders(self, requests: Sequence[pb.SignOrderRequest], *,
                                timeout: float | None = None, info: CallInfo | None = None) -> list[pb.SignOrderResult]:
        response = await self._call("BatchSignOrders", pb.BatchSignOrdersRequest(requests=requests), timeout, info)
        return list(response.results)

    async def batch_sign_api_calls(self, requests: Sequence[pb.SignApiCallRequest], *,
                                   timeout: float | None = None,
                                   info: CallInfo | None = None) -> list[pb.SignApiCallResult]:
        response = await self._call("BatchSignApiCalls", pb.BatchSignApiCallsRequest(requests=requests), timeout, info)
        return list(response.results)

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()
