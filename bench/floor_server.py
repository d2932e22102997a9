"""The transport floor: the same kind of server as paysig doing only one HMAC.

Like `paysig serve`, a supervisor forks N worker processes before any gRPC
object exists; each runs a synchronous grpcio server (grpc.server with a
thread pool) with paysig's listener options (grpc_server.server_options with the
default [limits], and SO_REUSEPORT on one port) and paysig's number of RPC threads (the default of
grpc_server.create_server). Its SignOrder computes one HMAC over the order's
out_trade_no and answers it: no validation, no signData, no audit line.

    python bench/floor_server.py --listen 127.0.0.1:PORT [--workers N] [--threads T]

It prints the workers' pids on stdout once every worker serves.
"""

import argparse
import hashlib
import hmac
import inspect
import os
import signal
import sys
from concurrent import futures

from paysig.server import grpc_server
from paysig.server.limits import Limits

DEFAULT_THREADS = inspect.signature(grpc_server.create_server).parameters["max_workers"].default
DEFAULT_WORKERS = os.cpu_count() or 1  # paysig serve's default


def serve(address: str, threads: int, ready_fd: int) -> None:
    import grpc

    from paysig.v1 import signer_pb2, signer_pb2_grpc

    key = b"floor-key"

    class Floor(signer_pb2_grpc.SignerServiceServicer):
        def SignOrder(self, request, context):
            mac = hmac.new(key, request.order.out_trade_no.encode(), hashlib.sha256).hexdigest()
            return signer_pb2.SignOrderResponse(pay_sig=mac)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads), options=grpc_server.server_options(Limits(), reuse_port=True))
    signer_pb2_grpc.add_SignerServiceServicer_to_server(Floor(), server)
    if server.add_insecure_port(address) == 0:
        raise OSError(f"cannot listen on {address}")
    server.start()
    os.write(ready_fd, b"1")
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    server.stop(1).wait()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    args = parser.parse_args()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    ready_r, ready_w = os.pipe()
    pids = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            serve(args.listen, args.threads, ready_w)
            os._exit(0)
        pids.append(pid)
    for _ in pids:
        os.read(ready_r, 1)
    print(" ".join(map(str, pids)), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    for pid in pids:
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
