"""The audit trail under operations: rotation, removal, pipes shared by
workers, full disks, fsync and floods (issue 12)."""

import concurrent.futures
import errno
import json
import os
import resource
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time

import grpc
import pytest

from paysig.client import Client, PaysigError
from paysig.server import audit as audit_module
from paysig.server import load_config
from paysig.server.audit import MAX_LINE_BYTES, AuditLog, AuditSettings, CallAudit, FloodGate, encode_line
from paysig.v1 import signer_pb2 as pb

from support import REPO, ServerProcess, running_server, write_config
from test_security import APPS, TOKEN_A, TOKEN_CALLERS, order


def lines_of(path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().decode().splitlines() if line]


def sign(port: int, out_trade_no: str, token: str | None = None):
    with Client(f"127.0.0.1:{port}", token=token, allow_token_without_tls=True, connections=1) as c:
        return c.sign_order(order(out_trade_no=out_trade_no))


def record(n: int, **extra) -> dict:
    return {"ts": "2026-01-01T00:00:00.000Z", "pid": 1, "request_id": f"r{n:06d}", "caller": "c", "peer": "p",
            "rpc": "SignOrder", "code": "OK", **extra}


# ---- rotation and removal ---------------------------------------------------

def test_removed_file_is_recreated_and_gets_the_line(tmp_path):
    audit = tmp_path / "audit.log"
    config = write_config(tmp_path, APPS + f'[audit]\npath = "{audit}"\n')
    with running_server(config) as (_, port):
        sign(port, "rot-0001")
        audit.unlink()
        for i in range(5):
            sign(port, f"rot-1{i:03d}")
        assert [line["out_trade_no"] for line in lines_of(audit)] == [f"rot-1{i:03d}" for i in range(5)]


def test_renamed_file_is_replaced_at_the_path_even_without_sighup(tmp_path):
    audit = tmp_path / "audit.log"
    config = write_config(tmp_path, APPS + f'[audit]\npath = "{audit}"\n')
    with running_server(config) as (_, port):
        sign(port, "rot-0001")
        audit.rename(tmp_path / "audit.log.1")
        sign(port, "rot-0002")
        sign(port, "rot-0003")
    # the line written as the file was renamed may be in both files; never only in the old one
    assert [line["out_trade_no"] for line in lines_of(audit)] == ["rot-0002", "rot-0003"]
    assert "rot-0003" not in (tmp_path / "audit.log.1").read_text()


def test_copytruncate_keeps_working(tmp_path):
    audit = tmp_path / "audit.log"
    config = write_config(tmp_path, APPS + f'[audit]\npath = "{audit}"\n')
    with running_server(config) as (_, port):
        sign(port, "rot-0001")
        shutil.copyfile(audit, tmp_path / "audit.log.1")
        os.truncate(audit, 0)
        sign(port, "rot-0002")
    assert audit.read_bytes().startswith(b'{"ts"')  # O_APPEND: no hole of NULs where the old lines were
    assert [line["out_trade_no"] for line in lines_of(audit)] == ["rot-0002"]


def test_sighup_reopens_the_file_like_logrotate_postrotate(tmp_path):
    audit = tmp_path / "audit.log"
    config = write_config(tmp_path, APPS + f'[audit]\npath = "{audit}"\n')
    server = ServerProcess(config, "--workers", "1")
    try:
        port = int(server.address.rsplit(":", 1)[1])
        sign(port, "hup-0001")
        audit.rename(tmp_path / "audit.log.1")  # logrotate's rename, then its postrotate `kill -HUP`
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for_log("reloaded", seconds=20)
        assert audit.exists(), "SIGHUP did not open a new file at the path"
        sign(port, "hup-0002")
    finally:
        assert server.stop() == 0
    assert [line["out_trade_no"] for line in lines_of(tmp_path / "audit.log.1")] == ["hup-0001"]
    assert [line["out_trade_no"] for line in lines_of(audit)] == ["hup-0002"]


def test_reopen_keeps_the_old_file_when_the_path_cannot_be_opened(tmp_path):
    (tmp_path / "d").mkdir()
    log = AuditLog(AuditSettings(path=str(tmp_path / "d" / "audit.log"), sync="none"))
    try:
        assert log.write([record(1)])
        (tmp_path / "d" / "audit.log").unlink()
        (tmp_path / "d").rmdir()
        assert not log.reopen()
        assert not log.write([record(2)]), "a line that reached no file at the path was reported written"
    finally:
        log.close()


# ---- pipes and several workers ----------------------------------------------

def test_two_workers_on_one_pipe_never_interleave_lines(tmp_path):
    # 4 batches of 1,000 in flight at once: lift the per-caller cap on items in flight.
    config = write_config(tmp_path, APPS + '[audit]\npath = "-"\n[limits]\nmax_items_in_flight_per_caller = 8000\n')
    server = ServerProcess(config, "--workers", "2")
    batches, items = 8, 1000
    try:
        def run(b: int) -> int:
            with Client(server.address, connections=4) as c:
                results = c.batch_sign_orders([order(out_trade_no=f"pipe-{b:02d}-{i:04d}") for i in range(items)])
                return sum(r.WhichOneof("outcome") == "response" for r in results)

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            assert sum(pool.map(run, range(batches))) == batches * items
    finally:
        assert server.stop() == 0
    records = [json.loads(line) for line in server.stdout]  # raises on any torn or interleaved line
    assert len(records) == batches * items
    assert len({r["out_trade_no"] for r in records}) == batches * items
    assert len({r["pid"] for r in records}) == 2, "the batches did not reach both workers"


def test_a_line_fits_one_atomic_pipe_write_whatever_the_fields():
    worst = "\x01" * 200
    for filler in (worst, "\U0001f600" * 200, "é" * 200):
        request = pb.SignOrderRequest(app_id=filler, order=pb.Order(out_trade_no=filler, product_id=filler))
        line = encode_line(CallAudit("BatchSignOrders", filler * 4, "r" * 16).record("SignOrder", request))
        assert len(line) <= MAX_LINE_BYTES and line.endswith(b"\n") and line.count(b"\n") == 1
        json.loads(line)
    verify = pb.VerifySignatureRequest(app_id=worst, method=worst)
    assert len(encode_line(CallAudit("VerifySignature", worst, "r").record("VerifySignature", verify))) \
        <= MAX_LINE_BYTES


def test_pipe_writes_are_whole_lines_of_at_most_pipe_buf():
    # A SOCK_SEQPACKET pair keeps each write(2) one packet, so the reader sees the writes as they were made.
    reader, writer = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    log = AuditLog(AuditSettings(path="-", sync="none"))
    log._fd, log._regular = writer.fileno(), False  # a pipe stands for the process's stdout here
    writes: list[bytes] = []
    receiving = threading.Thread(target=lambda: writes.extend(iter(lambda: reader.recv(65536), b"")))
    receiving.start()
    try:
        assert log.write([record(n, product_id="x" * 100) for n in range(200)])
    finally:
        writer.shutdown(socket.SHUT_WR)
        receiving.join(10)
        reader.close()
        writer.close()
    assert len(writes) > 1 and all(len(w) <= MAX_LINE_BYTES and w.endswith(b"\n") for w in writes)
    assert b"".join(writes) == b"".join(encode_line(record(n, product_id="x" * 100)) for n in range(200))


# ---- full disk ----------------------------------------------------------------

def test_after_a_short_write_the_next_record_starts_on_a_fresh_line(tmp_path):
    """RLIMIT_FSIZE makes the kernel do what it does as a disk fills: a
    short write up to the limit, then an error (EFBIG) for the rest."""
    path = tmp_path / "audit.log"
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            log = AuditLog(AuditSettings(path=str(path), sync="none"))
            ok = [log.write([record(1)])]
            soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size + 10, hard))
            ok.append(log.write([record(2), record(3)]))
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            ok.append(log.write([record(4)]))
            log.close()
            code = 0 if ok == [True, False, True] else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    raw = path.read_bytes().split(b"\n")
    assert json.loads(raw[0])["request_id"] == "r000001"
    assert raw[1] == encode_line(record(2))[:10]  # the torn piece stands alone
    assert json.loads(raw[2])["request_id"] == "r000004"


def test_a_torn_line_left_by_another_process_is_not_glued_to(tmp_path):
    path = tmp_path / "audit.log"
    path.write_bytes(b'{"ts":"2026-01-01T00:00:00.000Z","pid":9,"request_id":"x')  # another worker, disk full
    log = AuditLog(AuditSettings(path=str(path), sync="none"))
    try:
        assert log.write([record(1)])
    finally:
        log.close()
    assert json.loads(path.read_bytes().split(b"\n")[1])["request_id"] == "r000001"


def _append_records(path: str, first: int, count: int) -> None:
    log = AuditLog(AuditSettings(path=path, sync="none"))
    try:
        for n in range(first, first + count):
            assert log.write([record(n)])
    finally:
        log.close()
    os._exit(0)


def test_processes_appending_to_one_file_never_leave_a_blank_or_glued_line(tmp_path):
    """The torn-line check must not race another process's append (a false
    "torn" adds a blank line; a missed one glues two records)."""
    path = tmp_path / "audit.log"
    pids = []
    for worker in range(3):
        pid = os.fork()
        if pid == 0:
            _append_records(str(path), worker * 100_000, 1500)
        pids.append(pid)
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    records = [json.loads(line) for line in lines[:-1]]
    assert len(records) == 4500
    assert len({r["request_id"] for r in records}) == 4500


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A 64 KiB tmpfs (needs root); skipped where it cannot be mounted. The
    short-write test above covers the same logic everywhere."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mountpoint)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def test_full_disk_fails_the_whole_batch_and_leaves_every_line_readable(tmp_path, tiny_filesystem):
    audit = tiny_filesystem / "audit.log"
    filler = tiny_filesystem / "filler"
    filler.write_bytes(b"x" * 24 * 1024)  # the audit gets what is left of the 64 KiB
    config = write_config(tmp_path, APPS + f'[audit]\npath = "{audit}"\n')
    outcomes = []
    with running_server(config) as (_, port), Client(f"127.0.0.1:{port}", connections=1) as c:
        for b in range(40):
            try:
                c.batch_sign_orders([order(out_trade_no=f"full-{b:02d}-{i:03d}") for i in range(100)])
                outcomes.append("OK")
            except PaysigError as e:
                outcomes.append(e.code.name)
                break
        assert outcomes[-1] == "UNAVAILABLE" and "OK" in outcomes, outcomes
        filler.unlink()  # the operator frees space
        assert c.sign_order(order(out_trade_no="after-0001")).pay_sig
    good, torn = [], 0
    for line in audit.read_bytes().split(b"\n"):
        try:
            good.append(json.loads(line)) if line else None
        except ValueError:
            torn += 1
    assert torn <= 1
    assert good[-1]["out_trade_no"] == "after-0001"
    per_batch: dict[str, int] = {}
    for line in good[:-1]:
        per_batch[line["request_id"]] = per_batch.get(line["request_id"], 0) + 1
    assert sorted(per_batch.values(), reverse=True)[:outcomes.count("OK")] == [100] * outcomes.count("OK")
    assert len([n for n in per_batch.values() if n == 100]) == outcomes.count("OK"), \
        "a batch answered UNAVAILABLE has all its lines"


# ---- sync -----------------------------------------------------------------------

def test_sync_always_shares_fdatasync_between_concurrent_writers(tmp_path, monkeypatch):
    path = tmp_path / "audit.log"
    writers = 8
    log = AuditLog(AuditSettings(path=str(path), sync="always"))
    synced_sizes: list[int] = []
    real_fdatasync = os.fdatasync

    def first_sync_waits_for_every_writer(fd):
        if not synced_sizes:  # the first leader syncs while every other writer writes and queues up
            deadline = time.monotonic() + 30
            while log._commit._written < writers and time.monotonic() < deadline:
                time.sleep(0.005)
        real_fdatasync(fd)
        synced_sizes.append(os.fstat(fd).st_size)

    monkeypatch.setattr(audit_module.os, "fdatasync", first_sync_waits_for_every_writer)
    unsynced = []

    def writer(n: int) -> None:
        assert log.write([record(n)])
        end = path.read_bytes().index(b'"r%06d"' % n)
        if end > max(synced_sizes, default=0):
            unsynced.append(n)  # answered before its line was synced

    try:
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        log.close()
    assert len(lines_of(path)) == writers and not unsynced
    assert 1 <= log.syncs < writers == len(lines_of(path))
    assert log.syncs == len(synced_sizes) == 2


def test_sync_none_never_syncs_and_a_failed_sync_fails_the_write(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(audit_module.os, "fdatasync", lambda fd: calls.append(fd))
    log = AuditLog(AuditSettings(path=str(tmp_path / "a.log"), sync="none"))
    assert log.write([record(1)]) and calls == []
    log.close()

    def eio(fd):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(audit_module.os, "fdatasync", eio)
    log = AuditLog(AuditSettings(path=str(tmp_path / "b.log"), sync="always"))
    assert not log.write([record(1)])
    monkeypatch.setattr(audit_module.os, "fdatasync", lambda fd: None)
    assert log.write([record(2)])
    log.close()


def test_sync_setting_is_validated(tmp_path):
    config = write_config(tmp_path, APPS + '[audit]\nsync = "sometimes"\n')
    with pytest.raises(Exception, match=r"paysig\.toml: audit: sync: \"always\""):
        load_config(config)
    assert load_config(write_config(tmp_path, APPS)).audit.sync == "always"


# ---- floods -----------------------------------------------------------------------

def test_an_unauthenticated_flood_is_bounded_and_every_attempt_counted(tmp_path):
    audit = tmp_path / "audit.log"
    config = write_config(tmp_path, APPS + TOKEN_CALLERS + f'\n[audit]\npath = "{audit}"\n')
    attempts = 600
    from paysig.server import metrics

    def suppressed_so_far() -> float:
        return sum(s.value for metric in metrics.get().audit_suppressed.collect() for s in metric.samples
                   if s.name.endswith("_total"))

    before = suppressed_so_far()
    with running_server(config) as (server, port):
        started = time.time()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub_call = channel.unary_unary("/paysig.v1.SignerService/SignOrder",
                                            request_serializer=lambda b: b, response_deserializer=lambda b: b)
            good = order(out_trade_no="flood-001").SerializeToString()
            bad = b"\xff\xff\xff"

            def call(i: int) -> str:
                metadata = (("authorization", "Bearer wrong"),) if i % 3 == 0 else ()
                try:
                    stub_call(bad if i % 3 == 2 else good, metadata=metadata, timeout=30)
                    return "OK"
                except grpc.RpcError as e:
                    return e.code().name

            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(call, range(attempts)))
        seconds = time.time() - started
        with Client(f"127.0.0.1:{port}", token=TOKEN_A, allow_token_without_tls=True, connections=1) as a:
            a.sign_order(order(out_trade_no="legit-001"))  # an authenticated call keeps its own line
    assert codes.count("UNAUTHENTICATED") == 400 and codes.count("INVALID_ARGUMENT") == 200
    lines = lines_of(audit)
    single = [line for line in lines if "suppressed" not in line and line.get("caller") != "game-a"]
    summaries = [line for line in lines if "suppressed" in line]
    assert summaries and len(single) + sum(s["total"] for s in summaries) == attempts, \
        "an attempt was neither written nor counted"
    assert sum(s["suppressed"].get("MALFORMED_REQUEST", 0) for s in summaries) + \
        sum(1 for line in single if line.get("reason") == "MALFORMED_REQUEST") == 200
    assert len(lines) - 1 <= FloodGate.MAX_LINES_PER_SECOND * (int(seconds) + 2)
    assert [line["out_trade_no"] for line in lines if line.get("caller") == "game-a"] == ["legit-001"]
    assert suppressed_so_far() - before == sum(s["total"] for s in summaries)


def test_undecodable_requests_are_audited_and_counted(tmp_path):
    audit = tmp_path / "audit.log"
    config = write_config(tmp_path, APPS + f'[audit]\npath = "{audit}"\n')
    from paysig.server import metrics
    m = metrics.get()
    before = m.child(m.calls, "SignOrder", "INVALID_ARGUMENT")._value.get()
    with running_server(config) as (_, port), grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        method = channel.unary_unary("/paysig.v1.SignerService/SignOrder", request_serializer=lambda b: b,
                                     response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as info:
            method(b"\xff\xff\xff", timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert m.child(m.calls, "SignOrder", "INVALID_ARGUMENT")._value.get() == before + 1
    (line,) = lines_of(audit)
    assert (line["rpc"], line["code"], line["reason"], line["caller"]) == \
        ("SignOrder", "INVALID_ARGUMENT", "MALFORMED_REQUEST", "anonymous")


def test_flood_gate_bounds_many_peers():
    gate = FloodGate()
    admitted = 0
    for i in range(10_000):
        ok, _ = gate.admit({"peer": f"ipv4:10.0.{i // 250}.{i % 250}:1000", "code": "UNAUTHENTICATED",
                            "reason": "INVALID_TOKEN"}, 100.5)
        admitted += ok
    summaries = gate.due(101.0)
    assert admitted == FloodGate.LINES_PER_SECOND
    assert len(summaries) == FloodGate.PEERS + 1 and summaries[-1]["peer"] == "*"
    assert admitted + sum(s["total"] for s in summaries) == 10_000
    assert gate.due(102.0) == []


def test_readme_flood_bounds_are_the_flood_gates():
    """The numbers README's audit section and Runbook quote for a flood of
    refusals are FloodGate's and MAX_LINE_BYTES."""
    readme = " ".join((REPO / "README.md").read_text().split())
    gate = FloodGate
    kib = gate.MAX_LINES_PER_SECOND * MAX_LINE_BYTES // 1024
    assert gate.MAX_LINES_PER_SECOND == gate.LINES_PER_SECOND + gate.PEERS + 1
    assert f"at most {gate.LINES_PER_SECOND} of them get a line of their own" in readme
    assert f"at most {gate.LINES_PER_PEER} from one peer address" in readme
    assert f"beyond {gate.PEERS} peers in a second" in readme
    assert f"at most {gate.MAX_LINES_PER_SECOND} lines per second and worker, {kib} KiB/s at the " \
           f"{MAX_LINE_BYTES}-byte maximum" in readme
    assert f"the audit grows by at most {kib} KiB/s per worker" in readme


def test_the_audit_file_is_created_mode_0600_whatever_the_umask(tmp_path):
    """README audit trail: a file opened O_APPEND, mode 0600 (the lines name
    callers, peers and orders). Also the file a rotation makes anew."""
    audit = tmp_path / "audit.log"
    config = write_config(tmp_path, APPS + f'[audit]\npath = "{audit}"\n')
    previous = os.umask(0)
    try:
        with running_server(config) as (_, port):
            sign(port, "mode-0001")
            assert stat.S_IMODE(audit.stat().st_mode) == 0o600
            audit.rename(tmp_path / "audit.log.1")
            sign(port, "mode-0002")  # the write finds the path gone and makes a new file there
    finally:
        os.umask(previous)
    assert stat.S_IMODE(audit.stat().st_mode) == 0o600
    assert [line["out_trade_no"] for line in lines_of(audit)] == ["mode-0002"]
