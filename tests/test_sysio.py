"""_sysio makes its system calls with the GIL held, so it must give the GIL
up whenever a call can wait: a lock another process holds, a full pipe.
Each test makes the call wait and checks that another thread of the process
keeps running meanwhile, then that the call completes once it may."""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import threading
import time

from paysig.server import _sysio
from paysig.server.access import Caller, RateLimit
from paysig.server.audit import AuditLog, AuditSettings
from paysig.server.ratelimit import RateLimiter

from test_audit_trail import record


def _runs_while_blocked(blocked: threading.Thread, seconds: float = 0.3) -> int:
    """Python steps this thread makes in ``seconds`` while ``blocked`` has not finished."""
    steps, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        steps += 1
    assert blocked.is_alive(), "the call did not wait"
    return steps


def _hold_in_child(take, release_r: int) -> tuple[int, int]:
    """A child process that takes a lock (``take()``), says so on a pipe and
    holds it until ``release_r`` is readable, 3 s at most (were the GIL kept
    while waiting, this process could not release it); (pid, read end of
    'taken')."""
    taken_r, taken_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            take()
            os.write(taken_w, b"1")
            select.select([release_r], [], [], 3)
        finally:
            os._exit(0)
    os.close(taken_w)
    return pid, taken_r


def _waits_without_the_gil(take, call):
    """Runs ``call`` in a thread while a child process holds a lock
    (``take()``): the call must wait and this thread keep running; then the
    child lets go and the call completes. Returns what it returned."""
    release_r, release_w = os.pipe()
    pid, taken = _hold_in_child(take, release_r)
    try:
        assert os.read(taken, 1) == b"1"
        results: list = []
        waiting = threading.Thread(target=lambda: results.append(call()))
        waiting.start()
        time.sleep(0.05)
        assert _runs_while_blocked(waiting) > 1000
        os.write(release_w, b"1")
        waiting.join(10)
        assert len(results) == 1, "the call did not complete once the lock was free"
        return results[0]
    finally:
        os.write(release_w, b"1")
        os.waitpid(pid, 0)


def test_an_audit_write_waits_for_another_process_lock_without_the_gil(tmp_path):
    path = tmp_path / "audit.log"
    log = AuditLog(AuditSettings(path=str(path), sync="none"))
    try:
        assert _waits_without_the_gil(lambda: fcntl.flock(os.open(path, os.O_RDONLY), fcntl.LOCK_EX),
                                      lambda: log.write([record(1)])) is True
    finally:
        log.close()
    assert json.loads(path.read_bytes())["request_id"] == "r000001"


def test_a_pipe_write_waits_for_room_without_the_gil():
    read_fd, write_fd = os.pipe()
    try:
        fcntl.fcntl(write_fd, fcntl.F_SETFL, fcntl.fcntl(write_fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        while True:  # fill the pipe
            try:
                os.write(write_fd, b"x" * 4096)
            except BlockingIOError:
                break
        fcntl.fcntl(write_fd, fcntl.F_SETFL, fcntl.fcntl(write_fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        line = b'{"n":1}\n'
        results: list[tuple[bool, bool]] = []
        writer = threading.Thread(target=lambda: results.append(_sysio.write_lines(write_fd, line, False)))
        writer.start()
        time.sleep(0.05)
        assert _runs_while_blocked(writer) > 1000
        drained = b""
        while not drained.endswith(line):
            drained += os.read(read_fd, 1 << 16)
            writer.join(0.01)
        writer.join(10)
        assert results == [(True, False)]
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_a_rate_limit_waits_for_another_worker_without_the_gil():
    limiter = RateLimiter()
    caller = Caller(name="game-a", apps=None, rpcs=frozenset(), rate=RateLimit(per_second=100.0, burst=10.0))
    try:
        _waits_without_the_gil(lambda: _sysio.lock(limiter._fd), lambda: limiter.take(caller))
    finally:
        limiter.close()


def test_a_lock_held_by_a_killed_worker_is_released():
    limiter = RateLimiter()
    caller = Caller(name="game-a", apps=None, rpcs=frozenset(), rate=RateLimit(per_second=100.0, burst=10.0))
    release_r, _release_w = os.pipe()
    pid, taken = _hold_in_child(lambda: _sysio.lock(limiter._fd), release_r)
    try:
        assert os.read(taken, 1) == b"1"
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        limiter.take(caller)
    finally:
        limiter.close()


def _records(data: bytes, torn: bool) -> list[bytes]:
    """The writes write_lines makes of ``data``: a SOCK_SEQPACKET socket keeps each one a record."""
    import socket

    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with a, b:
        assert _sysio.write_lines(a.fileno(), data, torn) == (True, False)
        a.shutdown(socket.SHUT_WR)
        records = []
        while record := b.recv(1 << 20):
            records.append(record)
    return records


def test_pipe_writes_are_whole_lines_of_at_most_pipe_buf_bytes_even_after_a_torn_line():
    """A line of up to PIPE_BUF bytes always goes in one write of at most
    PIPE_BUF bytes, so that it never interleaves with another writer's: after
    a torn line, the newline that ends it goes alone when it does not fit
    with the next line."""
    n = _sysio.PIPE_BUF
    for sizes in ([n], [n - 1], [n - 2], [10, n], [n - 1, 1], [3, 4, 5], [n // 2, n // 2, n], [n + 5, 1], [1]):
        data = b"".join(b"x" * (size - 1) + b"\n" for size in sizes)
        for torn in (False, True):
            records = _records(data, torn)
            assert b"".join(records) == (b"\n" if torn else b"") + data
            for record in records:
                assert record.endswith(b"\n")
                assert len(record) <= n or record.count(b"\n") == 1, (sizes, torn, [len(r) for r in records])
    assert _records(b"", True) == [b"\n"]
    assert _records(b"", False) == []


def _in_child_with_file_size_limit(limit: int, call) -> object:
    """call() in a forked child whose files may not grow past ``limit`` bytes
    (RLIMIT_FSIZE: a write is cut there, the next fails with EFBIG); its result."""
    import pickle
    import resource

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
            os.write(write_fd, pickle.dumps(call()))
        finally:
            os._exit(0)
    os.close(write_fd)
    data = b"".join(iter(lambda: os.read(read_fd, 65536), b""))
    os.close(read_fd)
    os.waitpid(pid, 0)
    return pickle.loads(data)


def test_a_short_append_reports_whether_the_file_ends_in_a_torn_line(tmp_path):
    """torn: the file now ends in a torn line. The newline that ends another
    writer's torn line is not one when nothing followed it, nor is nothing."""
    path = tmp_path / "audit.log"
    path.write_bytes(b"whole\npart")  # another process's torn line
    fd = os.open(path, os.O_RDWR | os.O_APPEND)
    try:
        st = os.fstat(fd)
        append = lambda data, torn: _sysio.append(fd, data, torn, str(path), st.st_dev, st.st_ino)  # noqa: E731
        # room for the newline only: the line ends, nothing of ours is torn
        assert _in_child_with_file_size_limit(11, lambda: append(b"line\n", False)) == (False, False, True)
        assert path.read_bytes() == b"whole\npart\n"
        assert append(b"", False) == (True, False, True)  # nothing to write: written
        assert append(b"next\n", False) == (True, False, True)
        assert path.read_bytes() == b"whole\npart\nnext\n"
        # part of the line: torn
        assert _in_child_with_file_size_limit(19, lambda: append(b"line\n", False)) == (False, True, True)
        assert append(b"more\n", True) == (True, False, True)
        assert path.read_bytes() == b"whole\npart\nnext\nlin\nmore\n"
    finally:
        os.close(fd)


def test_a_mutex_is_waited_for_without_the_gil_and_then_taken():
    """A thread that finds the Mutex held (its holder gave the GIL up
    inside) waits without the GIL, and takes it once it is free."""
    mutex, held, release = _sysio.Mutex(), threading.Event(), threading.Event()

    def hold():
        with mutex:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    results: list = []
    waiting = threading.Thread(target=lambda: results.append(mutex.acquire()) or mutex.release())
    waiting.start()
    time.sleep(0.05)
    assert _runs_while_blocked(waiting) > 1000
    release.set()
    waiting.join(10)
    holder.join(10)
    assert results == [True]
    assert mutex.acquire(blocking=False) is True
    mutex.release()


def test_a_mutex_excludes_threads_that_give_up_the_gil_inside():
    mutex, inside, most, total = _sysio.Mutex(), [0], [0], [0]

    def work():
        for _ in range(200):
            with mutex:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                value = total[0]
                time.sleep(0)  # gives the GIL up with the mutex held
                total[0] = value + 1
                inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert (most[0], total[0]) == (1, 800)


def test_a_mutex_is_not_reentrant_and_only_its_holder_releases_it():
    mutex = _sysio.Mutex()
    with mutex:
        try:
            mutex.acquire()
        except RuntimeError as e:
            assert "already holds" in str(e)
        else:
            raise AssertionError("acquired twice")
        assert mutex.acquire(blocking=False) is False
        errors: list = []

        def release_elsewhere():
            try:
                mutex.release()
            except RuntimeError as e:
                errors.append(e)

        other = threading.Thread(target=release_elsewhere)
        other.start()
        other.join(10)
        assert len(errors) == 1
    try:
        mutex.release()
    except RuntimeError:
        pass
    else:
        raise AssertionError("released a free Mutex")


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_a_mutex_whose_holders_give_up_the_gil_inside_is_shared_fairly():
    """Each holder waits without the GIL inside (as the audit write waits for
    another worker's flock): a releasing thread, still holding the GIL, must
    not take it again pass after pass while the others wait (a waiter that
    has waited 1 ms goes first)."""
    mutex, stop, counts = _sysio.Mutex(), threading.Event(), [0] * 4

    def work(i: int) -> None:
        while not stop.is_set():
            _busy(0.0002)
            with mutex:
                select.select([], [], [], 0.0001)
            counts[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(1)
    stop.set()
    for t in threads:
        t.join(10)
    assert min(counts) * 4 >= max(counts), counts


def test_a_wait_for_a_mutex_lets_the_main_thread_run_signal_handlers():
    """A handler that raises ends the main thread's wait (a Ctrl-C while a
    Mutex is held elsewhere); the holder keeps the Mutex."""
    mutex, held, release, let_go = _sysio.Mutex(), threading.Event(), threading.Event(), threading.Event()

    class Interrupted(Exception):
        pass

    def hold():
        with mutex:
            held.set()
            release.wait(5)
        let_go.set()

    def interrupt(_signum, _frame):
        raise Interrupted

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        try:
            mutex.acquire()
        except Interrupted:
            assert not let_go.is_set(), "the wait ended only when the holder let go"
        else:
            raise AssertionError("acquired while the holder held it")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        release.set()
        holder.join(10)
    assert mutex.acquire(blocking=False) is True
    mutex.release()
