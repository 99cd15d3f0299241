"""A pytest plugin for finding where the suite's CPU goes: one JSON line per test with the
CPU of the test process and of the subprocesses it waited for, setup and teardown included,
its wall time and how long its main thread waited for a CPU while runnable, appended to
$MN_CPU_OUT (default cpu-usage.jsonl).

    python -m pytest -p tests.support.cpu_usage -n 3 --dist loadfile tests/auth
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Iterator
from typing import Any

import pytest


def _run_queue_wait() -> float:
    """Seconds this process's main thread has waited for a CPU while runnable (Linux)."""
    try:
        with open(f"/proc/self/task/{os.getpid()}/schedstat") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def _cpu_seconds() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Iterator[None]:
    own, children = _cpu_seconds()
    waited = _run_queue_wait()
    began = time.monotonic()
    yield
    own_after, children_after = _cpu_seconds()
    line = {
        "id": item.nodeid,
        "backend": item.config.getoption("backend", None),  # (this suite's option)
        "worker": os.environ.get("PYTEST_XDIST_WORKER"),
        "ended": round(time.time(), 3),
        "self": round(own_after - own, 3),
        "children": round(children_after - children, 3),
        "wall": round(time.monotonic() - began, 3),
        "run_queue": round(_run_queue_wait() - waited, 3),
    }
    with open(os.environ.get("MN_CPU_OUT", "cpu-usage.jsonl"), "a") as out:
        out.write(json.dumps(line) + "\n")
