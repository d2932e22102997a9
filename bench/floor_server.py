"""The transport floor: a minimal grpcio SignerService whose SignOrder only
computes one HMAC over the order, in N forked processes sharing one port
(SO_REUSEPORT), like paysig's workers. paysig's throughput is reported as a
fraction of this one's, measured in the same run.

    python bench/floor_server.py --listen 127.0.0.1:PORT --workers 2
"""

import argparse
import hashlib
import hmac
import os
import signal
import sys
from concurrent import futures


def serve(address: str, ready_fd: int) -> None:
    import grpc

    from paysig.v1 import signer_pb2, signer_pb2_grpc

    key = b"floor-key"

    class Floor(signer_pb2_grpc.SignerServiceServicer):
        def SignOrder(self, request, context):
            mac = hmac.new(key, request.order.out_trade_no.encode(), hashlib.sha256).hexdigest()
            return signer_pb2.SignOrderResponse(pay_sig=mac)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=int(os.environ.get("FLOOR_THREADS", "4"))), options=[("grpc.so_reuseport", 1)])
    signer_pb2_grpc.add_SignerServiceServicer_to_server(Floor(), server)
    server.add_insecure_port(address)
    server.start()
    os.write(ready_fd, b"1")
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    server.stop(1).wait()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    ready_r, ready_w = os.pipe()
    pids = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            serve(args.listen, ready_w)
            os._exit(0)
        pids.append(pid)
    for _ in pids:
        os.read(ready_r, 1)
    print(" ".join(map(str, pids)), flush=True)  # the workers' pids, for CPU and RSS readings
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    for pid in pids:
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
