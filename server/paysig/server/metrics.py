"""Prometheus metrics, correct across worker processes.

With `--metrics-listen`, the CLI points PROMETHEUS_MULTIPROC_DIR at a fresh
folder before any worker starts; every worker records there and the
supervisor serves the merged view on HTTP `/metrics`. Without it, the
metrics live in this process's default registry (tests, embedding).

No label ever carries a key, token, session_key, signature or order number.
An ``env`` label is the config's name of the environment (``production``,
``sandbox``), on every metric: ENV_LABELS maps the API's names to it.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from . import _sysio
from .keys import Env

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# paysig.v1.Env's names (as in audit lines: "ENV_SANDBOX") to the env label ("sandbox").
ENV_LABELS = {f"ENV_{env.name}": env.config_name for env in Env}


class Metrics:
    """The paysig metrics. prometheus_client picks its multiprocess mode when
    first imported, so it is imported here, on first use, never at start-up."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram, values

        guard_values_with_mutex(values)
        self.calls = Counter("paysig_calls", "RPCs answered, by RPC and gRPC status code.", ["rpc", "code"])
        self.latency = Histogram("paysig_call_seconds", "Time from the RPC reaching paysig to its answer.", ["rpc"],
                                 buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.signatures = Counter("paysig_signatures", "Requests signed (a batch item counts one), by app, env and "
                                  "api (the PaymentApi, or the API URI); env is production or sandbox.",
                                  ["app_id", "env", "api"])
        self.verifications = Counter("paysig_verifications", "Signatures checked, by app, scheme and result.",
                                     ["app_id", "scheme", "result"])
        self.notifications = Counter("paysig_notifications", "Pushes verified (VerifyNotification), by app, result "
                                     "and reject reason.", ["app_id", "result", "reason"])
        self.audit_failures = Counter("paysig_audit_write_failures",
                                      "Audit writes that failed (the calls are refused when fail-closed).")
        self.audit_suppressed = Counter("paysig_audit_suppressed",
                                        "Refused attempts (unauthenticated, denied, rate-limited, undecodable) "
                                        "counted in an aggregated audit line instead of one line each, by reason.",
                                        ["reason"])
        # One series per live worker (label pid with --metrics-listen): what each serves.
        self.key_version = Gauge("paysig_key_version_signing",
                                 "The AppKey version that signs, by app and env (production or sandbox).",
                                 ["app_id", "env"], multiprocess_mode="liveall")
        self.generation = Gauge("paysig_config_generation", "Config generation in force (1 at start, +1 an "
                                "accepted reload).", multiprocess_mode="liveall")
        self.reload_success = Gauge("paysig_config_last_reload_success",
                                    "1 if the last reload succeeded (or none was tried), 0 if it was rejected.",
                                    multiprocess_mode="min")
        self.reloads = Counter("paysig_config_reloads", "Reload attempts by result.", ["result"])
        self.reload_success.set(1)
        self._children: dict[tuple, object] = {}

    def child(self, metric, *labels: str):
        """metric.labels(*labels), cached: labels() locks and validates on every call.
        Label sets are bounded by the config (apps, RPCs, codes, known APIs)."""
        key = (metric, labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def publish_config(self, config, generation: int) -> None:
        self.generation.set(generation)
        for app in config.apps.values():
            for env, ring in app.keys.items():
                self.key_version.labels(app.app_id, env.config_name).set(ring.primary.version)

    def reload_result(self, ok: bool) -> None:
        self.reloads.labels("success" if ok else "rejected").inc()
        self.reload_success.set(1 if ok else 0)


def guard_values_with_mutex(values) -> None:
    """Has prometheus_client guard its values with _sysio.Mutex, not
    threading.Lock. Every call increments its counters from one of the 4
    RPC threads; a threading.Lock taken there convoys (see _sysio.c), worst
    in multiprocess mode (`--metrics-listen`, as deployed), where one lock
    guards all of a process's values: 4-6 context switches per call and 3x
    the CPU of a call (`bench/inprocess.py --metrics-listen`). Values made
    from here on take a Mutex (values.Lock); in multiprocess mode the one
    lock, shared by the value class's methods, is replaced in place, so the
    values already made (and their mmap files) are kept. prometheus_client
    is pinned; tests/test_metrics_mutex.py fails when this no longer holds."""
    values.Lock = _sysio.Mutex
    value_class = values.ValueClass
    if getattr(value_class, "_multiprocess", False):
        inc = value_class.inc
        cell = inc.__closure__[inc.__code__.co_freevars.index("lock")]
        if not isinstance(cell.cell_contents, _sysio.Mutex):
            cell.cell_contents = _sysio.Mutex()


_metrics: Metrics | None = None


def get() -> Metrics:
    global _metrics
    if _metrics is None:
        _metrics = Metrics()
    return _metrics


def prepare_multiprocess() -> str:
    """Creates the folder the workers record into; call before forking and
    before anything records a metric. Returns it (the caller removes it)."""
    directory = tempfile.mkdtemp(prefix="paysig-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    return directory


def serve_multiprocess(address) -> object:
    """Serves the merged metrics of every worker on http://address/metrics
    (``address``: an address.Address)."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    server, _thread = start_http_server(address.port, addr=address.host, registry=registry)
    return server


def worker_exited(pid: int) -> None:
    """Lets the merged view drop a dead worker's live gauges."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def cleanup(directory: str) -> None:
    shutil.rmtree(directory, ignore_errors=True)
