"""Prometheus metrics of the process, registered once in the default registry.

Each domain adds its metrics here so one scrape of `/metrics` shows them all.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

UPSTREAM_REQUESTS = Counter(
    "medianest_upstream_requests_total",
    "Calls to external services, by service and outcome (HTTP status or error kind).",
    ["service", "status"],
)

UPSTREAM_DURATION = Histogram(
    "medianest_upstream_request_duration_seconds",
    "Duration of calls to external services (each attempt, retries included).",
    ["service"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# 0 closed, 1 half-open, 2 open: a gauge so alerts can fire on "open for 5 minutes".
BREAKER_STATE = Gauge(
    "medianest_upstream_breaker_state",
    "Circuit breaker state per external service (0 closed, 1 half-open, 2 open).",
    ["service"],
)

BREAKER_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}

# Requests: labelled by route template ("/api/media/requests/{request_id}"), never the raw
# path, so a scan of random URLs cannot blow up the number of series.
HTTP_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(slots=True)
class _Durations:
    counts: list[int] = field(  # per bucket; the last one is +Inf
        default_factory=lambda: [0] * (len(HTTP_DURATION_BUCKETS) + 1)
    )
    seconds: float = 0.0


class _RequestMetrics(Collector):
    """`medianest_http_requests_total` and `medianest_http_request_duration_seconds`,
    counted in plain numbers and handed to Prometheus when it scrapes.

    prometheus_client's own Counter and Histogram take a lock per value changed and
    find the bucket in Python; here it is one lock per request (uncontended: one event
    loop counts them) and a bisect. The exposition must stay theirs (a test compares).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = {}
        self._durations: dict[tuple[str, str], _Durations] = {}

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        # The first bucket whose upper bound is >= seconds, as Histogram.observe counts.
        bucket = bisect.bisect_left(HTTP_DURATION_BUCKETS, seconds)
        with self._lock:
            self._requests[key] = self._requests.get(key, 0) + 1
            durations = self._durations.get((method, route))
            if durations is None:
                durations = self._durations[(method, route)] = _Durations()
            durations.counts[bucket] += 1
            durations.seconds += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "medianest_http_requests",
            "HTTP requests handled, by method, route template and status.",
            labels=["method", "route", "status"],
        )
        with self._lock:
            counted = list(self._requests.items())
            timed = [(key, list(d.counts), d.seconds) for key, d in self._durations.items()]
        for (method, route, status), count in counted:
            requests.add_metric([method, route, str(status)], count)
        durations = HistogramMetricFamily(
            "medianest_http_request_duration_seconds",
            "Time to answer HTTP requests, by method and route template.",
            labels=["method", "route"],
        )
        bounds = [*(str(bound) for bound in HTTP_DURATION_BUCKETS), "+Inf"]  # as `le` shows them
        for (method, route), counts, total in timed:
            cumulative = itertools.accumulate(counts)
            durations.add_metric([method, route], list(zip(bounds, cumulative, strict=True)), total)
        yield requests
        yield durations


HTTP_REQUEST_METRICS = _RequestMetrics()
REGISTRY.register(HTTP_REQUEST_METRICS)

HTTP_ERRORS = Counter(
    "medianest_http_errors_total",
    "Error responses, by envelope error code (VALIDATION_ERROR, NOT_FOUND, INTERNAL_ERROR...).",
    ["code"],
)

# Gauges below are set from the database and the app context at scrape time.
DOWNLOADS_QUEUED = Gauge(
    "medianest_youtube_downloads_queued", "YouTube downloads waiting for a worker."
)
DOWNLOADS_ACTIVE = Gauge(
    "medianest_youtube_downloads_active", "YouTube downloads downloading or processing now."
)
SOCKETS_CONNECTED = Gauge(
    "medianest_socketio_connected_clients", "Socket.IO clients connected to this instance."
)
SESSIONS_ACTIVE = Gauge(
    "medianest_auth_sessions_active", "Signed-in sessions that have not expired."
)

# Each time the event loop was held longer than `MEDIANEST_EVENT_LOOP_BLOCKED_MS`
# (core/loop_watch.py): every request of the process waited that long.
EVENT_LOOP_BLOCKED = Histogram(
    "medianest_event_loop_blocked_seconds",
    "How long the event loop was held by synchronous work, each time it was held too long.",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

UNMATCHED_ROUTE = "unmatched"


def route_label(scope: Mapping[str, Any]) -> str:
    """The route template a request matched (set on the scope by the router), or a fixed label."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):
        return template
    path = scope.get("path")
    if isinstance(path, str) and path.startswith("/socket.io"):
        return "/socket.io/"
    if isinstance(path, str) and path.startswith("/static/"):
        return "/static"
    return UNMATCHED_ROUTE


def record_request(scope: Mapping[str, Any], status: int, seconds: float) -> None:
    HTTP_REQUEST_METRICS.record(
        str(scope.get("method", "GET")), route_label(scope), status, seconds
    )


def record_error(code: str) -> None:
    HTTP_ERRORS.labels(code=code).inc()
