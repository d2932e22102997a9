"""The values of paysig's metrics are guarded by _sysio.Mutex (see
metrics.guard_values_with_mutex), in both modes of prometheus_client; a
second guard keeps the same Mutex; and the metrics still count from 4
threads at once (a sanity check only: a lost update needs a thread switch
inside an increment, too rare for a test to provoke)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from paysig.server import metrics

CHECK = textwrap.dedent("""
    import inspect, json, sys, threading
    from paysig.server import _sysio, metrics
    from prometheus_client import values
    m = metrics.get()
    child = m.child(m.calls, "SignOrder", "OK")
    value = child._value
    def lock():
        if getattr(type(value), "_multiprocess", False):
            return inspect.getclosurevars(type(value).inc).nonlocals["lock"]
        return value._lock
    first = lock()
    metrics.guard_values_with_mutex(values)
    again = lock() is first and values.Lock is _sysio.Mutex
    def work():
        for _ in range(5000):
            child.inc()
            m.child(m.latency, "SignOrder").observe(0.001)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if getattr(type(value), "_multiprocess", False):
        from prometheus_client import CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    print(json.dumps({
        "multiprocess": getattr(type(value), "_multiprocess", False),
        "mutex": isinstance(first, _sysio.Mutex),
        "guarded_again_keeps_it": again,
        "calls": registry.get_sample_value("paysig_calls_total", {"rpc": "SignOrder", "code": "OK"}),
        "observed": registry.get_sample_value("paysig_call_seconds_count", {"rpc": "SignOrder"}),
    }))
""")


def _check(env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, timeout=120,
                         check=True)
    return json.loads(out.stdout)


def test_in_one_process_each_value_has_a_mutex():
    env = {k: v for k, v in os.environ.items() if k not in (metrics.MULTIPROC_ENV, "prometheus_multiproc_dir")}
    assert _check(env) == {"multiprocess": False, "mutex": True, "guarded_again_keeps_it": True, "calls": 20000.0,
                           "observed": 20000.0}


def test_with_metrics_listen_the_one_lock_of_the_process_is_a_mutex(tmp_path):
    env = dict(os.environ, **{metrics.MULTIPROC_ENV: str(tmp_path)})
    assert _check(env) == {"multiprocess": True, "mutex": True, "guarded_again_keeps_it": True, "calls": 20000.0,
                           "observed": 20000.0}

