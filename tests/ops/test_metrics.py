"""`GET /metrics`: request metrics per route template, error codes, state gauges, token."""

from __future__ import annotations

import uuid

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from medianest.core import metrics
from medianest.db.engine import session_scope
from medianest.integrations.breaker import CircuitBreaker
from medianest.youtube.models import YoutubeDownload
from tests.factories.users import make_client


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


async def scrape(client) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_requests_are_counted_by_route_template_not_raw_path(client, alice_client):
    before = await scrape(client)
    for _ in range(3):
        assert (await alice_client.get("/api/auth/session")).status_code == 200
    random_path = f"/api/no-such-thing/{uuid.uuid4().hex}"
    assert (await client.get(random_path)).status_code == 404
    after = await scrape(client)

    route = {"method": "GET", "route": "/api/auth/session", "status": "200"}
    assert (
        value(after, "medianest_http_requests_total", **route)
        - value(before, "medianest_http_requests_total", **route)
        == 3
    )
    assert (
        value(
            after,
            "medianest_http_request_duration_seconds_count",
            method="GET",
            route="/api/auth/session",
        )
        >= 3
    )
    assert random_path not in after
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, "medianest_http_requests_total", **unmatched) > value(
        before, "medianest_http_requests_total", **unmatched
    )


async def test_error_responses_are_counted_by_envelope_code(client):
    before = await scrape(client)
    assert (await client.get("/api/auth/session")).status_code == 401
    assert (await client.get("/api/nothing-here")).status_code == 404
    after = await scrape(client)
    for code in ("UNAUTHENTICATED", "NOT_FOUND"):
        assert (
            value(after, "medianest_http_errors_total", code=code)
            - value(before, "medianest_http_errors_total", code=code)
            == 1
        )


async def test_queue_depth_active_downloads_and_sessions_are_computed_at_scrape_time(
    app, client, alice, alice_client, bob_client
):
    async with session_scope(app.ctx.session_factory) as session:
        statuses = ("queued", "queued", "downloading", "processing", "completed")
        for number, status in enumerate(statuses):
            session.add(
                YoutubeDownload(
                    user_id=alice.id, url=f"https://youtube.com/watch?v={number}", status=status
                )
            )
    text = await scrape(client)
    assert value(text, "medianest_youtube_downloads_queued") == 2
    assert value(text, "medianest_youtube_downloads_active") == 2
    assert value(text, "medianest_auth_sessions_active") == 2
    assert value(text, "medianest_socketio_connected_clients") == 0


async def test_breaker_state_is_exported_per_service(client):
    CircuitBreaker("metrics-test-service", min_volume=1, reset_seconds=30)
    text = await scrape(client)
    assert (
        "medianest_upstream_breaker_state",
        frozenset({("service", "metrics-test-service")}),
    ) in samples(text)


async def test_metrics_token_is_required_when_configured(app_factory, make_settings):
    app = await app_factory(make_settings(metrics_token="scrape-me-please"))
    async with make_client(app) as anonymous:
        missing = await anonymous.get("/metrics")
        wrong = await anonymous.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await anonymous.get(
            "/metrics", headers={"Authorization": "Bearer scrape-me-please"}
        )
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "UNAUTHENTICATED"
    assert wrong.status_code == 401
    assert "scrape-me-please" not in wrong.text
    assert right.status_code == 200
    assert "medianest_http_requests_total" in right.text


def _exposed(registry: CollectorRegistry) -> dict:
    found = samples(generate_latest(registry).decode())
    return {key: v for key, v in found.items() if not key[0].endswith("_created")}


def test_plain_number_metrics_expose_what_prometheus_client_own_would():
    """Each kind of ours (labelled and not) against prometheus_client's own Counter,
    Histogram and Gauge fed the same values: the same samples, bucket bounds, names
    and zeros before the first value included (created timestamps left out)."""
    names = ("method", "route", "status")
    ours_made = [
        metrics.Counter("t_requests", "", names, exposed=False),
        metrics.Counter("t_starts_total", "", exposed=False),
        metrics.Histogram(
            "t_seconds", "", names[:2], buckets=metrics.HTTP_DURATION_BUCKETS, exposed=False
        ),
        metrics.Histogram("t_held_seconds", "", buckets=(0.1, 0.25, 2.5), exposed=False),
        metrics.Gauge("t_state", "", ("service",), exposed=False),
        metrics.Gauge("t_queued", "", exposed=False),
    ]
    reference = CollectorRegistry()
    theirs = [
        Counter("t_requests", "", names, registry=reference),
        Counter("t_starts_total", "", registry=reference),
        Histogram(
            "t_seconds", "", names[:2], buckets=metrics.HTTP_DURATION_BUCKETS, registry=reference
        ),
        Histogram("t_held_seconds", "", buckets=(0.1, 0.25, 2.5), registry=reference),
        Gauge("t_state", "", ["service"], registry=reference),
        Gauge("t_queued", "", registry=reference),
    ]
    ours = CollectorRegistry()
    ours.register(metrics.collector_of(ours_made))
    assert _exposed(ours) == _exposed(reference)  # nothing counted yet

    counter, starts, histogram, held, state, queued = ours_made
    t_counter, t_starts, t_histogram, t_held, t_state, t_queued = theirs
    durations = [0.0, 0.001, 0.005, 0.0050001, 0.01, 0.3, 1.0, 9.99, 10.0, 10.5, 400.0]
    for index, seconds in enumerate(durations):
        method, route, status = ("GET", "/a", "200") if index % 3 else ("POST", "/b/{id}", "422")
        counter.inc(method=method, route=route, status=status)
        t_counter.labels(method=method, route=route, status=status).inc()
        histogram.observe(seconds, method=method, route=route)
        t_histogram.labels(method=method, route=route).observe(seconds)
        held.observe(seconds)
        t_held.observe(seconds)
        service = "plex" if index % 2 else "overseerr"
        state.set(index % 3, service=service)
        t_state.labels(service=service).set(index % 3)
    starts.inc(2.5)
    t_starts.inc(2.5)
    queued.set(7)
    t_queued.set(7)
    assert _exposed(ours) == _exposed(reference)
    assert len(_exposed(ours)) == 2 + 1 + 2 * (len(metrics.HTTP_DURATION_BUCKETS) + 3) + 6 + 2 + 1


def test_the_request_line_counts_into_the_exposed_request_metrics():
    """What the request layer records (record_request) is what a scrape shows."""
    exposed = metrics.registry()
    route = {"method": "PATCH", "route": "/t/{id}", "status": "409"}
    before = exposed.get_sample_value("medianest_http_requests_total", route) or 0.0
    scope = {"method": "PATCH", "route": type("R", (), {"path": "/t/{id}"})()}
    metrics.record_request(scope, 409, 0.02)
    metrics.record_request(scope, 409, 3.0)
    assert exposed.get_sample_value("medianest_http_requests_total", route) == before + 2
    within = {"method": "PATCH", "route": "/t/{id}", "le": "0.025"}
    assert exposed.get_sample_value("medianest_http_request_duration_seconds_bucket", within) == 1
