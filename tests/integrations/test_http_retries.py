"""Retries of the resilient client, counted at a real simulator: which failures are retried,
how often, how far apart, and which requests never are."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest
import stamina

from medianest.core.errors import ServiceUnavailable
from medianest.integrations.http import UpstreamHTTPError
from medianest_simulators import UptimeKumaSimulator
from tests.integrations.conftest import quick_settings
from tests.support.servers import free_port

PAGE = "/api/status-page/medianest"


def gaps(sim: UptimeKumaSimulator, path: str) -> list[float]:
    times = [r.at for r in sim.requests(path)]
    return [b - a for a, b in itertools.pairwise(times)]


async def test_a_get_is_tried_three_times_on_503_then_fails_as_unavailable(kuma, make_resilient):
    client = make_resilient(kuma.url)
    kuma.set_fault("unavailable")

    with pytest.raises(ServiceUnavailable) as failure:
        await client.get_json(PAGE)

    assert kuma.request_count(PAGE) == 3
    assert failure.value.details["upstreamStatus"] == 503


async def test_a_get_succeeds_when_the_service_recovers_within_the_tries(kuma, make_resilient):
    client = make_resilient(kuma.url)
    kuma.set_fault("unavailable", times=2)

    fetched = await client.get_json(PAGE)

    assert fetched.data["config"]["slug"] == "medianest"
    assert kuma.request_count(PAGE) == 3
    assert [r.status for r in kuma.requests(PAGE)] == [503, 503, 200]


async def test_the_number_of_tries_follows_the_setting(kuma, make_resilient):
    client = make_resilient(kuma.url, settings=quick_settings(http_retry_attempts=5))
    kuma.set_fault("unavailable")

    with pytest.raises(ServiceUnavailable):
        await client.get_json(PAGE)

    assert kuma.request_count(PAGE) == 5


@pytest.fixture
def planned_waits() -> Iterator[list[float]]:
    """The backoffs stamina decides on, through its own instrumentation hooks."""
    waits: list[float] = []
    hooks = stamina.instrumentation.get_on_retry_hooks()
    stamina.instrumentation.set_on_retry_hooks(
        [*hooks, lambda details: waits.append(details.wait_for)]
    )
    yield waits
    stamina.instrumentation.set_on_retry_hooks(hooks)


async def test_backoff_doubles_between_tries_with_bounded_jitter(
    kuma, make_resilient, planned_waits
):
    # Initial backoff 0.1 s: waits are 0.1-0.2 s, then 0.2-0.3 s (jitter up to one initial).
    client = make_resilient(kuma.url, settings=quick_settings(http_retry_initial_seconds=0.1))
    kuma.set_fault("unavailable")

    with pytest.raises(ServiceUnavailable):
        await client.get_json(PAGE)

    first, second = planned_waits
    assert 0.1 <= first < 0.2
    assert 0.2 <= second < 0.3
    # The simulator saw the client wait that long at least (a busy machine adds to it).
    seen_first, seen_second = gaps(kuma, PAGE)
    assert seen_first >= first - 0.01 and seen_second >= second - 0.01


async def test_a_post_is_never_retried(kuma, make_resilient):
    client = make_resilient(kuma.url)
    kuma.set_fault("unavailable")

    with pytest.raises(ServiceUnavailable):
        await client.request("POST", PAGE, json={"x": 1})

    assert kuma.request_count(PAGE, "POST") == 1


async def test_a_post_is_retried_only_when_the_caller_says_it_is_safe(kuma, make_resilient):
    client = make_resilient(kuma.url)
    kuma.set_fault("unavailable")

    with pytest.raises(ServiceUnavailable):
        await client.request("POST", PAGE, retry=True)

    assert kuma.request_count(PAGE, "POST") == 3


async def test_a_get_can_opt_out_of_retries(kuma, make_resilient):
    client = make_resilient(kuma.url)
    kuma.set_fault("unavailable")

    with pytest.raises(ServiceUnavailable):
        await client.request("GET", PAGE, retry=False)

    assert kuma.request_count(PAGE) == 1


async def test_retry_after_is_honoured(kuma, make_resilient):
    client = make_resilient(kuma.url)  # initial 0.01 s: without Retry-After waits are ~0.01-0.04 s
    kuma.set_fault("unavailable", delay=0.08)

    with pytest.raises(ServiceUnavailable):
        await client.get_json(PAGE)

    assert all(gap >= 0.08 for gap in gaps(kuma, PAGE))


async def test_a_long_retry_after_is_capped(kuma, make_resilient, planned_waits):
    client = make_resilient(kuma.url)  # the cap is ten initial backoffs: 0.1 s here
    kuma.set_fault("unavailable", delay=30)
    started = time.monotonic()

    with pytest.raises(ServiceUnavailable):
        await client.get_json(PAGE)

    assert planned_waits == [pytest.approx(0.1), pytest.approx(0.1)]
    assert time.monotonic() - started < 5.0  # not the 30 s asked for, even on a busy machine
    assert kuma.request_count(PAGE) == 3


async def test_a_timeout_is_retried(kuma, make_resilient):
    # Two tries of 1 s and one backoff fit the 3 s deadline with room to spare (tries of
    # 0.2 s in a 0.6 s deadline left 0.2 s: a loaded CI machine stalled the loop longer,
    # the first timeout fired after 765 ms and no second try fitted).
    client = make_resilient(kuma.url, timeout=1.0, settings=quick_settings(http_retry_attempts=2))
    kuma.set_fault("hang", delay=5)

    with pytest.raises(ServiceUnavailable) as failure:
        await client.get_json(PAGE)

    assert kuma.request_count(PAGE) == 2
    assert failure.value.details["reason"] == "timed out"


async def test_the_deadline_ends_the_tries_of_a_hung_service(kuma, make_resilient):
    # Ten tries are allowed, but the call may take three timeouts in all: the third try
    # gets what is left of them (a loaded machine may leave none), a fourth never starts.
    # Tries of 1 s, as above: with 0.2 s a CI machine stalled the loop so long that the
    # first timeout fired after 754 ms and left no room for a second try.
    client = make_resilient(kuma.url, timeout=1.0, settings=quick_settings(http_retry_attempts=10))
    kuma.set_fault("hang", delay=15)
    started = time.monotonic()

    with pytest.raises(ServiceUnavailable) as failure:
        await client.get_json(PAGE)

    # Without the deadline ten tries of 1 s would take 10 s at least.
    assert time.monotonic() - started < 6.0
    assert 2 <= kuma.request_count(PAGE) <= 3
    assert failure.value.details["reason"] == "timed out"


async def test_a_refused_connection_is_retried_and_reported_unreachable(make_resilient):
    client = make_resilient(f"http://127.0.0.1:{free_port()}")  # nothing listens there

    with pytest.raises(ServiceUnavailable) as failure:
        await client.get_json("/anything")

    assert failure.value.details["reason"] == "unreachable"
    assert failure.value.status_code == 503


async def test_a_500_is_not_retried_but_reported_unavailable(kuma, make_resilient):
    client = make_resilient(kuma.url)
    kuma.set_fault("error")

    with pytest.raises(ServiceUnavailable) as failure:
        await client.get_json(PAGE)

    assert kuma.request_count(PAGE) == 1
    assert failure.value.details["upstreamStatus"] == 500


async def test_an_unexpected_4xx_is_an_upstream_error_with_its_status_and_not_retried(
    kuma, make_resilient
):
    client = make_resilient(kuma.url)

    with pytest.raises(UpstreamHTTPError) as failure:
        await client.get_json("/metrics")  # no credentials

    assert failure.value.upstream_status == 401
    assert failure.value.code == "UPSTREAM_ERROR"
    assert kuma.request_count("/metrics") == 1
    assert client.breaker.state == "closed"


async def test_an_expected_status_is_returned_to_the_caller(kuma, make_resilient):
    client = make_resilient(kuma.url)

    response = await client.request("GET", "/metrics", expected=(200, 401))

    assert response.status_code == 401
