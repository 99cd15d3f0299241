"""Plex answers say when their data was read (`meta.dataAt`, and the page's time), not
how old it is: asked again with its ETag while the library data is the one the client
has, an API client or htmx gets a 304. With `meta.ageSeconds` and "from N s ago" no two
answers were the same and every one was sent whole. The response cache is off here: each
answer is made anew from the library data MediaNest keeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest

from medianest.settings import Settings
from medianest_simulators import PlexSimulator
from medianest_simulators.plextv_models import OWNER_TOKEN
from tests.plex.test_freshness import add_movie


@pytest.fixture
def settings(make_settings: Callable[..., Settings], plex_sim: PlexSimulator) -> Settings:
    return make_settings(plex_url=plex_sim.url, plex_token=OWNER_TOKEN, response_cache_seconds=0)


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/api/plex/libraries", {}),
        ("/api/plex/library/1/items?pageSize=5", {}),
        ("/api/plex/collections", {}),
        ("/api/plex/collections/1001", {}),
        ("/plex?library=1", {"HX-Request": "true", "Accept": "text/html"}),
    ],
)
async def test_unchanged_library_data_is_not_modified_a_second_later(
    viewer: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> None:
    first = await viewer.get(url, headers=headers)
    assert first.status_code == 200, first.text
    await asyncio.sleep(1.1)  # an age in seconds (or tenths) has moved on
    again = await viewer.get(url, headers={**headers, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304, again.text


async def test_the_api_says_when_plex_gave_the_data(viewer: httpx.AsyncClient) -> None:
    first = (await viewer.get("/api/plex/library/1/items")).json()["meta"]
    await asyncio.sleep(0.2)
    again = (await viewer.get("/api/plex/library/1/items")).json()["meta"]
    read_at = datetime.fromisoformat(first["dataAt"])
    assert read_at <= datetime.fromisoformat(first["timestamp"])
    assert again["dataAt"] == first["dataAt"]  # the same read, kept
    assert datetime.fromisoformat(again["timestamp"]) > datetime.fromisoformat(first["timestamp"])


async def test_data_read_again_is_a_new_answer(
    viewer: httpx.AsyncClient, plex_sim: PlexSimulator
) -> None:
    """Refresh reads Plex again: the new data (and the new time) is sent whole."""
    url = "/api/plex/library/1/items"
    first = await viewer.get(url)
    add_movie(plex_sim, "Brand New Film")
    assert (await viewer.post("/api/plex/refresh")).status_code == 200
    again = await viewer.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 200
    assert again.json()["meta"]["dataAt"] > first.json()["meta"]["dataAt"]
    assert again.json()["meta"]["total"] == first.json()["meta"]["total"] + 1
