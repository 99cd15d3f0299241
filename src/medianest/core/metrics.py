"""Prometheus metrics of the process, counted in plain numbers and handed to
prometheus_client when `/metrics` is scraped (`registry()`).

Each domain adds its metrics here so one scrape shows them all. A server nobody scrapes
never loads prometheus_client: with the exporters of its package it loads `http.server`
and `wsgiref`, ~1 MB of every idle server (docs/performance.md, "Stop 49"). Counting is
also cheaper: prometheus_client takes a lock per value changed and finds a histogram's
bucket in Python; here one lock per change (uncontended: one event loop counts) and a
bisect. The exposition stays prometheus_client's own (tests/ops/test_metrics.py compares
every kind with its Counter, Histogram and Gauge).
"""

from __future__ import annotations

import bisect
import itertools
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector, CollectorRegistry

Labels = tuple[str, ...]
_METRICS: list[_Metric] = []  # in the order they are exposed


class _Metric(ABC):
    kind = ""

    def __init__(
        self, name: str, documentation: str, labelnames: Labels = (), *, exposed: bool = True
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self._lock = threading.Lock()
        if exposed:  # else only through `collector_of` (tests)
            _METRICS.append(self)

    def _key(self, labels: Mapping[str, str]) -> Labels:
        return tuple(labels[name] for name in self.labelnames)

    @abstractmethod
    def families(self) -> Iterator[Metric]: ...


class _Values(_Metric):
    """One number per label set (counters, gauges)."""

    def __init__(
        self, name: str, documentation: str, labelnames: Labels = (), *, exposed: bool = True
    ) -> None:
        super().__init__(name, documentation, labelnames, exposed=exposed)
        # An unlabelled one shows 0 before its first value, as prometheus_client's does.
        self._values: dict[Labels, float] = {} if labelnames else {(): 0.0}

    @abstractmethod
    def _new_family(self) -> CounterMetricFamily | GaugeMetricFamily: ...

    def families(self) -> Iterator[Metric]:
        family = self._new_family()
        with self._lock:
            values = list(self._values.items())
        for key, value in values:
            family.add_metric(key, value)
        yield family


class Counter(_Values):
    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self.inc_at(self._key(labels), amount)

    def inc_at(self, key: Labels, amount: float = 1.0) -> None:
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def _new_family(self) -> CounterMetricFamily:
        from prometheus_client.core import CounterMetricFamily

        return CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)


class Gauge(_Values):
    def set(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)

    def _new_family(self) -> GaugeMetricFamily:
        from prometheus_client.core import GaugeMetricFamily

        return GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)


@dataclass(slots=True)
class _Observed:
    counts: list[int]  # per bucket; the last one is +Inf
    total: float = 0.0


class Histogram(_Metric):
    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Labels = (),
        *,
        buckets: tuple[float, ...],
        exposed: bool = True,
    ) -> None:
        super().__init__(name, documentation, labelnames, exposed=exposed)
        self.buckets = buckets
        self._observed: dict[Labels, _Observed] = {}
        if not labelnames:  # shown with zero counts before the first value, as theirs
            self._observed[()] = _Observed([0] * (len(buckets) + 1))

    def observe(self, value: float, **labels: str) -> None:
        self.observe_at(self._key(labels), value)

    def observe_at(self, key: Labels, value: float) -> None:
        # The first bucket whose upper bound is >= value, as prometheus_client counts.
        bucket = bisect.bisect_left(self.buckets, value)
        with self._lock:
            observed = self._observed.get(key)
            if observed is None:
                observed = self._observed[key] = _Observed([0] * (len(self.buckets) + 1))
            observed.counts[bucket] += 1
            observed.total += value

    def families(self) -> Iterator[Metric]:
        from prometheus_client.core import HistogramMetricFamily

        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        bounds = [*(str(bound) for bound in self.buckets), "+Inf"]  # as `le` shows them
        with self._lock:
            observed = [(key, list(o.counts), o.total) for key, o in self._observed.items()]
        for key, counts, total in observed:
            cumulative = itertools.accumulate(counts)
            family.add_metric(key, list(zip(bounds, cumulative, strict=True)), total)
        yield family


UPSTREAM_REQUESTS = Counter(
    "medianest_upstream_requests_total",
    "Calls to external services, by service and outcome (HTTP status or error kind).",
    ("service", "status"),
)

UPSTREAM_DURATION = Histogram(
    "medianest_upstream_request_duration_seconds",
    "Duration of calls to external services (each attempt, retries included).",
    ("service",),
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# 0 closed, 1 half-open, 2 open: a gauge so alerts can fire on "open for 5 minutes".
BREAKER_STATE = Gauge(
    "medianest_upstream_breaker_state",
    "Circuit breaker state per external service (0 closed, 1 half-open, 2 open).",
    ("service",),
)

BREAKER_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}

# Requests: labelled by route template ("/api/media/requests/{request_id}"), never the raw
# path, so a scan of random URLs cannot blow up the number of series.
HTTP_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HTTP_REQUESTS = Counter(
    "medianest_http_requests",
    "HTTP requests handled, by method, route template and status.",
    ("method", "route", "status"),
)
HTTP_DURATION = Histogram(
    "medianest_http_request_duration_seconds",
    "Time to answer HTTP requests, by method and route template.",
    ("method", "route"),
    buckets=HTTP_DURATION_BUCKETS,
)

HTTP_ERRORS = Counter(
    "medianest_http_errors_total",
    "Error responses, by envelope error code (VALIDATION_ERROR, NOT_FOUND, INTERNAL_ERROR...).",
    ("code",),
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

_registered = threading.Lock()
_process_collector: Collector | None = None


def collector_of(metrics: Sequence[_Metric]) -> Collector:
    """A prometheus_client collector exposing `metrics` (read as it collects)."""
    from prometheus_client.registry import Collector

    class Families(Collector):
        def collect(self) -> Iterator[Metric]:
            for metric in metrics:
                yield from metric.families()

    return Families()


def registry() -> CollectorRegistry:
    """prometheus_client's default registry with this process's metrics in it (put there
    on the first call: what a scrape exposes). stamina's retry counter and the process
    collectors live there too."""
    global _process_collector
    from prometheus_client import REGISTRY

    with _registered:
        if _process_collector is None:
            _process_collector = collector_of(_METRICS)
            REGISTRY.register(_process_collector)
    return REGISTRY


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
    method = str(scope.get("method", "GET"))
    route = route_label(scope)
    HTTP_REQUESTS.inc_at((method, route, str(status)))
    HTTP_DURATION.observe_at((method, route), seconds)


def record_error(code: str) -> None:
    HTTP_ERRORS.inc(code=code)
