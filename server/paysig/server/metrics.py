"""Prometheus metrics, correct across worker processes.

With `--metrics-listen`, the CLI points PROMETHEUS_MULTIPROC_DIR at a fresh
folder before any worker starts; every worker records there and the
supervisor serves the merged view on HTTP `/metrics`. Without it, the
metrics live in this process's default registry (tests, embedding).

No label ever carries a key, token, session_key, signature or order number.
"""

from __future__ import annotations

import os
import shutil
import tempfile

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    """The paysig metrics. prometheus_client picks its multiprocess mode when
    first imported, so it is imported here, on first use, never at start-up."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.calls = Counter("paysig_calls", "RPCs answered, by RPC and gRPC status code.", ["rpc", "code"])
        self.latency = Histogram("paysig_call_seconds", "Time from the RPC reaching paysig to its answer.", ["rpc"],
                                 buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.signatures = Counter("paysig_signatures", "Requests signed (a batch item counts one), by app, env and "
                                  "api (the PaymentApi, or the API URI).", ["app_id", "env", "api"])
        self.verifications = Counter("paysig_verifications", "Signatures checked, by app, scheme and result.",
                                     ["app_id", "scheme", "result"])
        self.notifications = Counter("paysig_notifications", "Pushes verified (VerifyNotification), by app, result "
                                     "and reject reason.", ["app_id", "result", "reason"])
        self.audit_failures = Counter("paysig_audit_write_failures",
                                      "Audit writes that failed (the calls are refused when fail-closed).")
        self.key_version = Gauge("paysig_key_version_signing", "The AppKey version that signs, by app and env.",
                                 ["app_id", "env"], multiprocess_mode="max")
        self.generation = Gauge("paysig_config_generation", "Config generation in force (1 at start, +1 a reload).",
                                multiprocess_mode="max")
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


def serve_multiprocess(address: str) -> object:
    """Serves the merged metrics of every worker on http://address/metrics."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    host, _, port = address.rpartition(":")
    server, _thread = start_http_server(int(port), addr=host.strip("[]"), registry=registry)
    return server


def worker_exited(pid: int) -> None:
    """Lets the merged view drop a dead worker's live gauges."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def cleanup(directory: str) -> None:
    shutil.rmtree(directory, ignore_errors=True)
