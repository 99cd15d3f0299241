"""Library data is cached for ten minutes, but MediaNest's own changes and the Refresh
show at once; the page says how old its data is."""

from __future__ import annotations

import httpx

from medianest_simulators import PlexSimulator
from medianest_simulators.plex_library import MOVIES_SECTION, Item

HTML = {"Accept": "text/html"}


def add_movie(plex: PlexSimulator, title: str) -> None:
    """A change made in Plex itself, behind MediaNest's back."""
    with plex.lock:
        rk = plex.library.new_key()
        plex.library.items[rk] = Item(rk, MOVIES_SECTION, "movie", title, year=2026)


async def count(client: httpx.AsyncClient) -> int:
    total: int = (await client.get("/api/plex/library/1/items")).json()["meta"]["total"]
    return total


async def test_a_change_made_in_plex_shows_after_a_refresh(
    viewer: httpx.AsyncClient, plex_sim: PlexSimulator
) -> None:
    before = await count(viewer)
    add_movie(plex_sim, "Brand New Film")
    assert await count(viewer) == before  # cached: Plex is not asked again
    refreshed = await viewer.post("/api/plex/refresh")
    assert refreshed.status_code == 200, refreshed.text
    assert await count(viewer) == before + 1


async def test_the_page_shows_the_age_of_its_data_and_refreshes(
    viewer: httpx.AsyncClient, plex_sim: PlexSimulator
) -> None:
    first = await viewer.get("/plex?library=1", headers=HTML)
    assert "Library data just read from Plex" in first.text
    assert 'href="/plex?library=1&amp;refresh=true"' in first.text
    add_movie(plex_sim, "Brand New Film")
    cached = await viewer.get("/plex?library=1", headers=HTML)
    assert "Library data from" in cached.text and "Brand New Film" not in cached.text
    fresh = await viewer.get("/plex?library=1&refresh=true", headers=HTML)
    assert "Brand New Film" in fresh.text
