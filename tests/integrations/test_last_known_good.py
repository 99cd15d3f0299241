"""Last-known-good answers and malformed upstream data: reads keep working (marked stale,
with their age) through an outage, and garbage from a service becomes UPSTREAM_ERROR."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import BaseModel

from medianest.core.cache import MemoryCache
from medianest.core.errors import ServiceUnavailable, UpstreamError
from medianest.integrations.http import UpstreamHTTPError

PAGE = "/api/status-page/medianest"


async def test_the_last_good_answer_is_served_stale_with_its_age_when_the_service_is_down(
    kuma, make_resilient
):
    client = make_resilient(kuma.url, cache=MemoryCache())
    good = await client.get_json(PAGE, cache_key="page")
    await asyncio.sleep(0.05)
    kuma.set_fault("error")

    served = await client.get_json(PAGE, cache_key="page")

    assert served.stale is True
    assert served.data == good.data
    assert served.read_at is not None and served.read_at == good.read_at
    assert time.time() - served.read_at >= 0.05


async def test_a_fresh_answer_is_not_stale(kuma, make_resilient):
    client = make_resilient(kuma.url)

    before = time.time()
    fetched = await client.get_json(PAGE, cache_key="page")

    assert fetched.stale is False
    assert fetched.read_at is not None and before <= fetched.read_at <= time.time()


async def test_without_a_previous_answer_an_outage_is_unavailable(kuma, make_resilient):
    client = make_resilient(kuma.url)
    kuma.set_fault("error")

    with pytest.raises(ServiceUnavailable):
        await client.get_json(PAGE, cache_key="page")


async def test_stale_answers_are_also_served_while_the_breaker_is_open(kuma, make_resilient):
    client = make_resilient(kuma.url)
    await client.get_json(PAGE, cache_key="page")
    kuma.set_fault("error")
    for _ in range(4):
        await client.get_json(PAGE, cache_key="page")
    assert client.breaker.state == "open"
    sent = kuma.request_count(PAGE)

    served = await client.get_json(PAGE, cache_key="page")

    assert served.stale is True
    assert kuma.request_count(PAGE) == sent


async def test_an_answer_younger_than_fresh_ttl_is_reused_without_a_call(kuma, make_resilient):
    client = make_resilient(kuma.url)
    await client.get_json(PAGE, cache_key="page")

    again = await client.get_json(PAGE, cache_key="page", fresh_ttl=60)

    assert again.stale is False
    assert kuma.request_count(PAGE) == 1


async def test_a_refusal_is_not_hidden_behind_an_old_answer(kuma, make_resilient):
    client = make_resilient(kuma.url)
    await client.get_json(PAGE, cache_key="page")
    kuma.set_fault("unauthorized")

    with pytest.raises(UpstreamHTTPError) as failure:
        await client.get_json(PAGE, cache_key="page")

    assert failure.value.upstream_status == 401


async def test_last_good_answers_are_kept_per_server_url(kuma, make_resilient):
    cache = MemoryCache()
    first = make_resilient(kuma.url, service="kuma", cache=cache)
    await first.get_json(PAGE, cache_key="page")
    moved = make_resilient("http://127.0.0.1:9", service="kuma", cache=cache)

    with pytest.raises(ServiceUnavailable):
        await moved.get_json(PAGE, cache_key="page")


async def test_malformed_json_is_an_upstream_error(kuma, make_resilient):
    client = make_resilient(kuma.url)
    kuma.set_fault("malformed")

    with pytest.raises(UpstreamError) as failure:
        await client.get_json(PAGE)

    assert failure.value.code == "UPSTREAM_ERROR"
    assert failure.value.status_code == 502
    assert "gave an answer MediaNest cannot read" in failure.value.message


async def test_malformed_json_falls_back_to_the_last_good_answer(kuma, make_resilient):
    client = make_resilient(kuma.url)
    await client.get_json(PAGE, cache_key="page")
    kuma.set_fault("malformed")

    served = await client.get_json(PAGE, cache_key="page")

    assert served.stale is True


class _Expected(BaseModel):
    config: dict[str, str]
    missing_field: int


async def test_an_answer_of_the_wrong_shape_is_an_upstream_error_naming_the_fields(
    kuma, make_resilient
):
    client = make_resilient(kuma.url)
    fetched = await client.get_json(PAGE)

    with pytest.raises(UpstreamError) as failure:
        client.parse(_Expected, fetched.data)

    assert "missing_field" in failure.value.details["fields"]
