"""Prometheus metrics of the process, registered once in the default registry.

Each domain adds its metrics here so one scrape of `/metrics` shows them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

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
HTTP_REQUESTS = Counter(
    "medianest_http_requests_total",
    "HTTP requests handled, by method, route template and status.",
    ["method", "route", "status"],
)

HTTP_DURATION = Histogram(
    "medianest_http_request_duration_seconds",
    "Time to answer HTTP requests, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

HOT_PATH_ANSWERS = Counter(
    "medianest_hot_path_answers_total",
    "Requests answered from memory before FastAPI (see core/hot_path.py), by route template.",
    ["route"],
)

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


# The labelled children by (method, route, status): looking them up by labels on every
# request cost three times the counting itself. Bounded like the series: route templates.
_REQUEST_CHILDREN: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def record_request(scope: Mapping[str, Any], status: int, seconds: float) -> None:
    key = (str(scope.get("method", "GET")), route_label(scope), status)
    children = _REQUEST_CHILDREN.get(key)
    if children is None:
        method, route, _ = key
        children = (
            HTTP_REQUESTS.labels(method=method, route=route, status=str(status)),
            HTTP_DURATION.labels(method=method, route=route),
        )
        _REQUEST_CHILDREN[key] = children
    children[0].inc()
    children[1].observe(seconds)


def record_error(code: str) -> None:
    HTTP_ERRORS.labels(code=code).inc()
