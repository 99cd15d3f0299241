"""Library data is cached for ten minutes, but MediaNest's own changes and the Refresh
show at once; the page says when its data was read."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from medianest_simulators import PlexSimulator
from medianest_simulators.plex_library import MOVIES_SECTION, Item

HTML = {"Accept": "text/html"}


def add_movie(plex: PlexSimulator, title: str) -> None:
    """A change made in Plex itself, behind MediaNest's back."""
    with plex.lock:
        rk = plex.library.new_key()
        plex.library.items[rk] = Item(rk, MOVIES_SECTION, "movie", title, year=2026)


def read_at_on_page(page: httpx.Response) -> datetime:
    found = re.search(
        r'data-field="library-age">Library data read <time data-relative datetime="([^"]+)">',
        page.text,
    )
    assert found is not None, page.text[:2000]
    return datetime.fromisoformat(found.group(1))


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


async def test_the_page_says_when_its_data_was_read_and_refreshes(
    viewer: httpx.AsyncClient, plex_sim: PlexSimulator
) -> None:
    asked = datetime.now(UTC)
    first = await viewer.get("/plex?library=1", headers=HTML)
    read = read_at_on_page(first)
    assert asked - timedelta(seconds=1) <= read <= datetime.now(UTC)
    assert 'href="/plex?library=1&amp;refresh=true"' in first.text
    add_movie(plex_sim, "Brand New Film")
    cached = await viewer.get("/plex?library=1", headers=HTML)
    assert read_at_on_page(cached) == read and "Brand New Film" not in cached.text
    fresh = await viewer.get("/plex?library=1&refresh=true", headers=HTML)
    assert "Brand New Film" in fresh.text
    assert read_at_on_page(fresh) > read


async def test_one_answer_plex_gets_wrong_is_never_kept_as_the_library(
    viewer: httpx.AsyncClient, plex_sim: PlexSimulator
) -> None:
    before = await count(viewer)
    add_movie(plex_sim, "Film Of No Year")
    with plex_sim.lock:
        glitch = max(plex_sim.library.items)
        plex_sim.library.items[glitch].year = "soon"  # type: ignore[assignment]
    assert (await viewer.post("/api/plex/refresh")).status_code == 200

    # An answer MediaNest does not understand: the last good one stands in for it...
    during = await viewer.get("/api/plex/library/1/items")
    with plex_sim.lock:
        del plex_sim.library.items[glitch]
    # ...and, not kept, it is not what the next ten minutes are answered from.
    after = await viewer.get("/api/plex/library/1/items")

    assert during.status_code == 200, during.text
    assert during.json()["meta"]["total"] == before and during.json()["meta"]["stale"] is True
    assert after.status_code == 200, after.text
    assert after.json()["meta"]["total"] == before
