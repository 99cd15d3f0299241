"""Requests against Seerr (Overseerr's successor) as it behaves, and titles leaving Plex:
a blocklisted title is shown and refused as such; a request Seerr completes because its
title was deleted is not announced as available; a title deleted from Plex (Seerr's
DELETED, Overseerr's UNKNOWN again) can be requested again through MediaNest."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.media import sync
from medianest_simulators import OverseerrSimulator
from tests.media.test_requests import stored
from tests.support.held_requests import until_received

SPRITE_FRIGHT = 400007
RENDER_FARM = 500003  # two seasons, nothing requested
REQUEST = "/api/v1/request"
HTML = {"HX-Request": "true", "Accept": "text/html"}


async def request_title(client: httpx.AsyncClient, **body: object) -> httpx.Response:
    return await client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": SPRITE_FRIGHT} | body
    )


async def made(client: httpx.AsyncClient, **body: object) -> dict:
    answer = await request_title(client, **body)
    assert answer.status_code == 201, answer.text
    data: dict = answer.json()["data"]
    return data


async def found(client: httpx.AsyncClient, query: str) -> dict:
    answer = await client.get("/api/media/search", params={"query": query})
    assert answer.status_code == 200, answer.text
    result: dict = answer.json()["data"][0]
    return result


async def notified(client: httpx.AsyncClient) -> list[str]:
    items = (await client.get("/api/notifications")).json()["data"]["items"]
    return [item["title"] for item in items]


# --- D3: the blocklist ------------------------------------------------------------------
async def test_a_blocklisted_title_is_shown_blocklisted_and_offers_no_request(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    overseerr_sim.behave_as_seerr()
    overseerr_sim.blocklist("movie", SPRITE_FRIGHT)
    result = await found(alice_client, "sprite fright")
    assert (result["availability"], result["requestedBy"]) == ("blocklisted", None)
    page = await alice_client.get("/media/search?query=sprite%20fright", headers=HTML)
    assert page.status_code == 200
    assert '<span class="badge badge-bad">Blocklisted</span>' in page.text
    assert "data-blocklisted" in page.text
    assert ">Request<" not in page.text


async def test_requesting_a_blocklisted_title_is_refused_as_blocklisted_before_asking(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    overseerr_sim.behave_as_seerr()
    overseerr_sim.blocklist("movie", SPRITE_FRIGHT)
    answer = await request_title(alice_client)
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["details"]) == ("CONFLICT", {"reason": "blocklisted"})
    assert "blocklist" in error["message"]
    assert overseerr_sim.request_count(REQUEST, "POST") == 0


@pytest.mark.parametrize("version", ["3.1.0", "2.7.3"])  # "blocklisted", then "blacklisted"
async def test_seerrs_blocklist_refusal_is_a_blocklisted_conflict_not_a_permission_error(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator, version: str
) -> None:
    """Blocklisted between MediaNest's look at the title and its request: Seerr's 403."""
    overseerr_sim.behave_as_seerr(version)
    overseerr_sim.hold_requests(REQUEST, "POST")
    try:
        asked = asyncio.create_task(request_title(alice_client))
        await until_received(overseerr_sim, REQUEST, "POST")
        overseerr_sim.blocklist("movie", SPRITE_FRIGHT)
    finally:
        overseerr_sim.release_requests()
    answer = await asked
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["details"]) == ("CONFLICT", {"reason": "blocklisted"})
    assert not overseerr_sim.media_requests or all(
        r.media.title.tmdb_id != SPRITE_FRIGHT for r in overseerr_sim.media_requests.values()
    )


async def test_an_open_request_whose_title_seerr_blocklists_is_declined(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    overseerr_sim.behave_as_seerr()
    mine = await made(alice_client)
    overseerr_sim.set_request_status(mine["overseerrId"], "APPROVED")
    overseerr_sim.blocklist("movie", SPRITE_FRIGHT)
    assert await sync.reconcile(app.ctx) == 1
    row = await stored(app, mine["id"])
    assert (row.status, row.completed_at is not None) == ("declined", True)
    assert await notified(alice_client) == ["“Sprite Fright” was declined"]
    assert await sync.reconcile(app.ctx) == 0  # final: not asked about again


# --- D4: completed because deleted ---------------------------------------------------------
async def test_a_request_seerr_completed_because_its_title_was_deleted_is_not_announced(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    """In Plex and deleted again before MediaNest looked: Seerr's COMPLETED, media DELETED."""
    overseerr_sim.behave_as_seerr()
    mine = await made(alice_client)
    overseerr_sim.complete_request(mine["overseerrId"])
    overseerr_sim.remove_from_plex("movie", SPRITE_FRIGHT)
    assert overseerr_sim.media_requests[mine["overseerrId"]].status == 5  # COMPLETED
    assert await sync.reconcile(app.ctx) == 1
    assert (await stored(app, mine["id"])).status == "removed"
    told = await notified(alice_client)
    assert told == ["“Sprite Fright” was removed in Overseerr"]
    assert not any("available" in title for title in told)


async def test_a_request_seerr_completed_with_its_title_in_plex_is_available(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    overseerr_sim.behave_as_seerr()
    mine = await made(alice_client)
    overseerr_sim.complete_request(mine["overseerrId"])
    assert await sync.reconcile(app.ctx) == 1
    assert (await stored(app, mine["id"])).status == "available"
    assert await notified(alice_client) == ["“Sprite Fright” is now available in Plex"]


# --- D5: deleted from Plex, requested again ------------------------------------------------
@pytest.mark.parametrize("server", ["overseerr", "seerr"])
@pytest.mark.usefixtures("bob_in_overseerr")
async def test_a_movie_deleted_from_plex_can_be_requested_again(
    app: MediaNestApp,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
    server: str,
) -> None:
    if server == "seerr":
        overseerr_sim.behave_as_seerr()
    first = await made(alice_client)
    overseerr_sim.complete_request(first["overseerrId"])
    assert await sync.reconcile(app.ctx) == 1
    assert (await stored(app, first["id"])).status == "available"
    assert (await found(alice_client, "sprite fright"))["availability"] == "available"
    overseerr_sim.remove_from_plex("movie", SPRITE_FRIGHT)  # Seerr: DELETED; Overseerr: UNKNOWN
    for client in (alice_client, bob_client):
        result = await found(client, "sprite fright")
        assert (result["availability"], result["requestedBy"]) == ("requestable", None)
    again = await made(bob_client)
    assert again["status"] == "pending"
    assert overseerr_sim.request_count(REQUEST, "POST") == 2
    # Alice's fulfilled request stays in her history; bob's new one now holds the title.
    assert (await stored(app, first["id"])).status == "available"
    refused = await request_title(alice_client)
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["existingRequest"]["id"] == again["id"]


async def test_a_season_seerr_deleted_can_be_requested_again_the_one_in_plex_not(
    app: MediaNestApp,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    overseerr_sim.behave_as_seerr()
    show = {"mediaType": "tv", "tmdbId": RENDER_FARM}
    first = await made(alice_client, **show, seasons=[1, 2])
    overseerr_sim.complete_request(first["overseerrId"])
    assert await sync.reconcile(app.ctx) == 1
    assert (await stored(app, first["id"])).status == "available"
    overseerr_sim.remove_from_plex("tv", RENDER_FARM, [1])
    still_there = await request_title(bob_client, **show, seasons=[2])
    assert still_there.status_code == 409
    again = await made(bob_client, **show, seasons=[1])
    assert again["seasons"] == [1]


async def test_a_whole_show_overseerr_lost_from_plex_can_be_requested_again(
    app: MediaNestApp,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    show = {"mediaType": "tv", "tmdbId": RENDER_FARM}
    first = await made(alice_client, **show, seasons="all")
    overseerr_sim.complete_request(first["overseerrId"])
    assert await sync.reconcile(app.ctx) == 1
    assert (await stored(app, first["id"])).status == "available"
    overseerr_sim.remove_from_plex("tv", RENDER_FARM)  # Overseerr: UNKNOWN, requests deleted
    result = await found(bob_client, "render farm")
    assert (result["availability"], result["requestedBy"]) == ("requestable", None)
    again = await made(bob_client, **show, seasons="all")
    assert again["seasons"] == [1, 2]
