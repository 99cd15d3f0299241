"""A request Overseerr no longer has: its `GET /request/{id}` answers 404 for any failure
of its own, so the reconcile believes a deletion only once a second look confirms it,
and tells it as "removed in Overseerr", never as "declined"."""

from __future__ import annotations

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.integrations import overseerr as overseerr_client
from medianest.media import sync
from medianest_simulators import OverseerrSimulator
from medianest_simulators.overseerr_data import API_KEY
from tests.media.test_status_sync import wait_for_status

SPRITE_FRIGHT = 400007
KEY = {"X-Api-Key": API_KEY}


async def request_movie(client: httpx.AsyncClient, tmdb_id: int = SPRITE_FRIGHT) -> dict:
    made = await client.post("/api/media/request", json={"mediaType": "movie", "tmdbId": tmdb_id})
    assert made.status_code == 201, made.text
    data: dict = made.json()["data"]
    return data


async def in_overseerr(sim: OverseerrSimulator, method: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=sim.url, headers=KEY) as http:
        return await http.request(method, path)


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_a_request_deleted_in_overseerr_is_removed_and_told_so(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    made = await request_movie(alice_client)
    deleted = await in_overseerr(overseerr_sim, "DELETE", f"/api/v1/request/{made['overseerrId']}")
    assert deleted.status_code == 204
    assert await sync.reconcile(app.ctx) == 1
    row = await wait_for_status(app, made["id"], "removed", 1.0)
    assert row.completed_at is not None
    listed = (await alice_client.get("/api/media/requests", params={"status": "removed"})).json()
    assert [r["id"] for r in listed["data"]] == [made["id"]]
    told = (await alice_client.get("/api/notifications")).json()["data"]["items"]
    assert [item["title"] for item in told] == ["“Sprite Fright” was removed in Overseerr"]
    # The title can be asked for again: a removed request holds nothing.
    assert (await request_movie(alice_client))["status"] == "pending"


async def test_a_request_whose_title_was_cleared_in_overseerr_is_removed(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    """Clearing a title's data deletes its media record and its requests with it: the
    details then have no `mediaInfo`, and the request list has the last word."""
    made = await request_movie(alice_client)
    media_id = overseerr_sim.media_requests[made["overseerrId"]].media.id
    cleared = await in_overseerr(overseerr_sim, "DELETE", f"/api/v1/media/{media_id}")
    assert cleared.status_code == 204
    assert await sync.reconcile(app.ctx) == 1
    await wait_for_status(app, made["id"], "removed", 1.0)


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_a_404_from_a_failing_overseerr_database_leaves_the_request_as_it_is(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    """Its database failing, Overseerr reads the request as 404, the title without its
    media record and the request list as a 500: nothing is confirmed, nothing changes.
    Before, the request was declined here."""
    made = await request_movie(alice_client)
    overseerr_sim.fail_database()
    assert await sync.reconcile(app.ctx) == 0
    assert (await wait_for_status(app, made["id"], "pending", 1.0)).completed_at is None
    overseerr_sim.fail_database(0)
    overseerr_sim.complete_request(made["overseerrId"])
    assert await sync.reconcile(app.ctx) == 1  # the next round finds it again
    await wait_for_status(app, made["id"], "available", 1.0)


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_a_404_for_a_request_its_title_still_lists_leaves_it(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    made = await request_movie(alice_client)
    overseerr_sim.fail_database(1)  # the request's read fails, the title's does not
    assert await sync.reconcile(app.ctx) == 0
    await wait_for_status(app, made["id"], "pending", 1.0)
    assert overseerr_sim.database_failures == 0


async def test_the_request_list_is_searched_page_by_page_for_an_older_request(
    app: MediaNestApp,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Newer requests fill the first pages (3 a page here): the look goes on until one
    page passes over the request's id, and says nothing when the pages run out."""
    monkeypatch.setattr(overseerr_client, "LIST_SCAN_TAKE", 3)
    old, kept = await request_movie(alice_client), await request_movie(alice_client, 400006)
    for tmdb_id in (400003, 400004, 400005):
        await request_movie(alice_client, tmdb_id)
    for made in (old, kept):
        media_id = overseerr_sim.media_requests[made["overseerrId"]].media.id
        assert (await in_overseerr(overseerr_sim, "DELETE", f"/api/v1/media/{media_id}")).is_success
    tears = overseerr_sim.media_requests[1].media  # requests made in Overseerr itself
    for _ in range(3):
        overseerr_sim.add_request(tears, overseerr_sim.users[1], is4k=True, seasons=[], extra={})
    # ids 1..10 less 3 and 4, three a page, each overlapping the last by one:
    # [10 9 8] [8 7 6] [6 5 2]: the third passes over 4 and 3.
    monkeypatch.setattr(overseerr_client, "LIST_SCAN_PAGES", 2)
    assert await sync.reconcile(app.ctx) == 0  # two pages say nothing
    monkeypatch.setattr(overseerr_client, "LIST_SCAN_PAGES", 3)
    assert await sync.reconcile(app.ctx) == 2
    await wait_for_status(app, old["id"], "removed", 1.0)
    await wait_for_status(app, kept["id"], "removed", 1.0)
