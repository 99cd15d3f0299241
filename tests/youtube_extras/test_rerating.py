"""Downloads already in Plex get the admin's content rating too. Bob's two downloads (one
into a collection, one into his playlist) were delivered with no rating; then the owner
restricts his account to G (python-plexapi myplex.py `updateFriend(filterMovies=
{"contentRating": ["G"]})`; Plex applies it to his own token) and he sees none of them.
The admin sets "Content rating given to downloaded videos" to G: with no new download, the
workers give both downloads' items and the collection the rating, locked, as python-plexapi
`editContentRating` sends it (mixins.py → library.py `LibrarySection._edit`: `PUT
/library/sections/{id}/all?type=&id=&contentRating.value=G&contentRating.locked=1`), and
bob sees them. Changing it to PG-13 re-rates them (bob loses them); clearing it leaves
them. Each download is edited once however many workers look; a Plex down at that moment
is tried again later, not in a loop; what the admin deleted in Plex is skipped."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import select, update

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest.worker import run_standalone
from medianest.youtube.jobs import rerating
from medianest.youtube.models import YoutubeDownload
from medianest_simulators import PlexSimulator
from medianest_simulators.media_server import MediaServerSimulator
from medianest_simulators.plex_library import YOUTUBE_SECTION
from medianest_simulators.plextv_models import BOB_SERVER_TOKEN, OWNER_TOKEN
from tests.factories.users import signed_in_client
from tests.support.http import http_client
from tests.youtube_extras.conftest import (
    YOUTUBE_CONFIG,
    all_finished,
    plex_rows,
    plex_titles,
    restrict_kid,
    set_content_rating,
    wait_for,
)
from tests.youtube_extras.test_redelivery_plex_back import plex_seen

EDITS = f"/library/sections/{YOUTUBE_SECTION}/all"
COLLECTIONS = f"/library/sections/{YOUTUBE_SECTION}/collections"
HTMX = {"Accept": "text/html", "HX-Request": "true"}
CHANNEL = ["001 - Clip One", "002 - Clip Two", "003 - Clip Three"]
KIDS_CHANNEL = ["001 - Clip Four", "002 - Clip Five"]


async def bob_sees(plex: PlexSimulator) -> list[str]:
    """What bob's own Plex token lists in the section (his share's restrictions applied)."""
    return await plex_titles(plex, EDITS, BOB_SERVER_TOKEN)


async def bob_sees_collection(plex: PlexSimulator, collection: str) -> bool:
    listed = await plex_rows(plex, COLLECTIONS, BOB_SERVER_TOKEN)
    return collection in {row["ratingKey"] for row in listed}


def rating_edits(plex: PlexSimulator, since: int = 0) -> list[dict[str, str]]:
    """The content-rating edits Plex received (after the first `since` edits of the
    section): `type`, `id` (comma-joined keys) and the rating, one per request."""
    found = []
    for request in plex.requests(EDITS, "PUT")[since:]:
        query = {k: v[0] for k, v in parse_qs(request.query).items()}
        if "contentRating.value" in query:
            found.append(query)
    return found


def edits_count(plex: PlexSimulator) -> int:
    return len(plex.requests(EDITS, "PUT"))


def ratings_in_section(plex: PlexSimulator) -> dict[str, str | None]:
    return {
        row["title"]: row.get("contentRating") for row in plex.items_in_section(YOUTUBE_SECTION)
    }


def collection_rating(plex: PlexSimulator, collection: str) -> str:
    with plex.lock:
        return plex.library.collections[int(collection)].content_rating


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = 45.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


def rated(rows: list[YoutubeDownload]) -> bool:
    return bool(rows) and all(
        r.rating_due_at is None and r.rating_claimed_until is None for r in rows
    )


async def two_delivered_downloads(
    app: MediaNestApp, bob: User, media: MediaServerSimulator
) -> list[YoutubeDownload]:
    """Bob's channel into a collection and a kids' channel into his playlist, delivered
    while no rating was set (and before his account was restricted)."""
    media.add_item("Clip Four", feed="kids")
    media.add_item("Clip Five", feed="kids")
    async with await signed_in_client(app, bob) as client:
        for url, delivery in ((media.feed_url(), "collection"), (media.feed_url("kids"), None)):
            body = {"url": url} | ({"delivery": delivery} if delivery else {})
            answer = await client.post("/api/youtube/download", json=body)
            assert answer.status_code == 201, answer.text
            await wait_for(app, all_finished(1 if delivery else 2), user_id=bob.id)
    rows = await wait_for(app, all_finished(2), user_id=bob.id)
    assert all(r.status == "completed" and not r.plex_pending and r.error is None for r in rows)
    assert rows[0].plex_collection_id is not None and rows[1].plex_playlist_id is not None
    return rows


@pytest.fixture
async def delivered(
    worker_app: MediaNestApp, bob: User, media: MediaServerSimulator
) -> list[YoutubeDownload]:
    """`two_delivered_downloads` with the app's own workers."""
    return await two_delivered_downloads(worker_app, bob, media)


def collection_of(rows: list[YoutubeDownload]) -> str:
    """The collection the first (the channel's) download was delivered into."""
    collection = rows[0].plex_collection_id
    assert collection is not None
    return collection


async def rate_g_with_the_first_edit_held(
    app: MediaNestApp, admin: User, plex: PlexSimulator
) -> int:
    """The admin sets G while Plex holds the first content-rating edit it receives: back
    once that edit waits at Plex; how many edits the section had before."""
    plex.hold_requests(EDITS, "PUT", times=1)
    before = edits_count(plex)
    await set_content_rating(app, admin, "G")

    async def held() -> bool:
        return plex.held.waiting == 1

    await eventually(held, "the first edit reached Plex")
    return before


async def test_setting_g_lets_a_kid_see_downloads_delivered_before_and_pg13_takes_them_away(
    worker_app: MediaNestApp,
    admin: User,
    bob: User,
    delivered: list[YoutubeDownload],
    plex: PlexSimulator,
) -> None:
    collection = collection_of(delivered)
    assert await bob_sees(plex) == sorted(CHANNEL + KIDS_CHANNEL)
    restrict_kid(plex, "G")  # the owner restricts the kid
    assert await bob_sees(plex) == []
    assert not await bob_sees_collection(plex, collection)
    before = edits_count(plex)

    config = await set_content_rating(worker_app, admin, "G")
    assert config["contentRatingProgress"]["total"] == 2

    async def kid_sees_all() -> bool:
        return await bob_sees(plex) == sorted(CHANNEL + KIDS_CHANNEL)

    await eventually(kid_sees_all, "bob sees both downloads once rated G")
    assert await bob_sees_collection(plex, collection)
    assert collection_rating(plex, collection) == "G"
    rows = await wait_for(worker_app, rated, user_id=bob.id)
    assert len(rows) == 2  # no new download was needed
    for row in plex.items_in_section(YOUTUBE_SECTION):
        stored = plex.item(int(row["ratingKey"])) or {}
        assert stored.get("contentRating") == "G"
        assert {"name": "contentRating", "locked": True} in stored.get("Field", [])
    # One edit per download (its items' ids at once) and one for the collection.
    edits = rating_edits(plex, before)
    assert sorted(e["type"] for e in edits) == ["1", "1", "18"], edits
    assert all(e["contentRating.locked"] == "1" for e in edits)
    async with await signed_in_client(worker_app, admin) as client:
        assert (await client.get(YOUTUBE_CONFIG)).json()["data"]["contentRatingProgress"] is None

    # The admin changes G to PG-13: everything is re-rated, and the kid loses it.
    await set_content_rating(worker_app, admin, "PG-13")

    async def kid_sees_none() -> bool:
        return await bob_sees(plex) == []

    await eventually(kid_sees_none, "bob loses the downloads rated PG-13")
    await wait_for(worker_app, rated, user_id=bob.id)
    assert set(ratings_in_section(plex).values()) == {"PG-13"}
    assert collection_rating(plex, collection) == "PG-13"

    # Cleared: nothing is marked, and the ratings given stay as they are.
    cleared_at = edits_count(plex)
    config = await set_content_rating(worker_app, admin, "")
    assert config["contentRating"] is None and config["contentRatingProgress"] is None
    assert await rerating.rate_due(worker_app.ctx) == 0
    assert rating_edits(plex, cleared_at) == []
    assert set(ratings_in_section(plex).values()) == {"PG-13"}


async def test_two_instances_and_their_workers_edit_each_download_once(
    worker_app: MediaNestApp,
    settings: Settings,
    admin: User,
    bob: User,
    delivered: list[YoutubeDownload],
    plex: PlexSimulator,
) -> None:
    """The app's own workers, two `medianest worker` processes (their own contexts, no
    Redis on SQLite: only the database is shared) and three direct looks, all at once."""
    before = edits_count(plex)
    listed = [plex.request_count(path, "GET") for path in (EDITS, COLLECTIONS)]
    stop = asyncio.Event()
    workers = [asyncio.create_task(run_standalone(settings, stop=stop)) for _ in range(2)]
    try:
        await set_content_rating(worker_app, admin, "G")
        looks = await asyncio.gather(*(rerating.rate_due(worker_app.ctx) for _ in range(3)))
        assert sum(looks) <= 2
        await wait_for(worker_app, rated, user_id=bob.id)
    finally:
        stop.set()
        await asyncio.gather(*workers)
    edits = rating_edits(plex, before)
    edited = [key for e in edits if e["type"] == "1" for key in e["id"].split(",")]
    items = [row["ratingKey"] for row in plex.items_in_section(YOUTUBE_SECTION)]
    assert sorted(edited) == sorted(items)  # each item once
    assert [e["id"] for e in edits if e["type"] == "18"] == [delivered[0].plex_collection_id]
    # One batch: the section's items and its collections listed once, by one worker.
    assert [plex.request_count(path, "GET") for path in (EDITS, COLLECTIONS)] == [
        listed[0] + 1,
        listed[1] + 1,
    ]
    assert await rerating.rate_due(worker_app.ctx) == 0


async def test_a_plex_down_during_the_batch_is_tried_again_later_not_in_a_loop(
    worker_app: MediaNestApp,
    admin: User,
    bob: User,
    delivered: list[YoutubeDownload],
    plex: PlexSimulator,
) -> None:
    """Plex goes down after the batch's first edit (the channel's videos): the next one
    (its collection) fails, the batch stops there, and both downloads wait a period."""
    restrict_kid(plex, "G")
    before = await rate_g_with_the_first_edit_held(worker_app, admin, plex)
    plex.set_fault("unavailable", path_prefix=EDITS)  # from now on: 503
    plex.release_requests()

    def waiting(rows: list[YoutubeDownload]) -> bool:
        period = timedelta(seconds=worker_app.ctx.settings.plex_audience_refresh_seconds / 2)
        return all(
            r.rating_claimed_until is None
            and r.rating_due_at is not None
            and r.rating_due_at > utcnow() + period
            for r in rows
        )

    rows = await wait_for(worker_app, waiting, user_id=bob.id)
    assert edits_count(plex) - before == 2  # the held edit, and the one Plex failed
    async with await signed_in_client(worker_app, admin) as client:
        progress = (await client.get(YOUTUBE_CONFIG)).json()["data"]["contentRatingProgress"]
        panel = await client.get("/admin/plex-downloads", headers=HTMX)
    assert progress["total"] == 2 and progress["done"] == 0 and progress["waitingUntil"]
    assert "Re-rating 0 of 2 downloads" in panel.text
    assert "Plex failed; the rest are tried again at" in panel.text
    # Further turns of every worker leave them alone until their time: no loop.
    asked = plex.request_count(EDITS)
    for _ in range(3):
        assert await rerating.rate_due(worker_app.ctx) == 0
    assert plex.request_count(EDITS) == asked

    plex.clear_fault()
    async with session_scope(worker_app.ctx.session_factory) as session:  # the period passes
        await session.execute(
            update(YoutubeDownload)
            .where(YoutubeDownload.id.in_([r.id for r in rows]))
            .values(rating_due_at=utcnow() - timedelta(seconds=1))
        )
    await wait_for(worker_app, rated, user_id=bob.id)
    assert await bob_sees(plex) == sorted(CHANNEL + KIDS_CHANNEL)
    collection = rows[0].plex_collection_id
    assert collection is not None and await bob_sees_collection(plex, collection)


async def delete_in_plex(plex: PlexSimulator, rating_key: str) -> None:
    """The owner deletes an item or a collection in Plex Web."""
    async with http_client(base_url=plex.url) as http:
        answer = await http.delete(
            f"/library/metadata/{rating_key}", headers={"X-Plex-Token": OWNER_TOKEN}
        )
    assert answer.status_code == 200, answer.text


def keys_titled(plex: PlexSimulator, titles: list[str]) -> list[str]:
    rows = plex.items_in_section(YOUTUBE_SECTION)
    return [row["ratingKey"] for row in rows if row["title"] in titles]


async def test_what_the_admin_deleted_in_plex_is_skipped_and_the_batch_goes_on(
    worker_app: MediaNestApp,
    admin: User,
    bob: User,
    delivered: list[YoutubeDownload],
    plex: PlexSimulator,
) -> None:
    collection = collection_of(delivered)
    # Deleted before the change: one video of the channel, and its collection.
    await delete_in_plex(plex, keys_titled(plex, ["002 - Clip Two"])[0])
    await delete_in_plex(plex, collection)
    # Deleted between the worker's listing and its edits: the first edit waits at Plex
    # while the owner deletes what the others name.
    before = await rate_g_with_the_first_edit_held(worker_app, admin, plex)
    held = rating_edits(plex, before)[0]["id"].split(",")
    for key in [k for k in keys_titled(plex, CHANNEL + KIDS_CHANNEL) if k not in held]:
        await delete_in_plex(plex, key)
    plex.release_requests()

    await wait_for(worker_app, rated, user_id=bob.id)
    edits = rating_edits(plex, before)
    assert all(e["id"] != collection for e in edits)
    assert len(edits) == 2  # the held one, and the one Plex refused (its items gone)
    kept = plex.items_in_section(YOUTUBE_SECTION)
    assert sorted(row["ratingKey"] for row in kept) == sorted(held)
    assert {row.get("contentRating") for row in kept} == {"G"}


async def test_the_panel_shows_the_progress_where_the_rating_is_set(
    app: MediaNestApp, admin_client: httpx.AsyncClient, alice: User, plex: PlexSimulator
) -> None:
    """Progress under the field ("Re-rating 0 of 2 downloads"), polled until done."""
    async with session_scope(app.ctx.session_factory) as session:
        for n in range(2):
            session.add(
                YoutubeDownload(
                    id=uuid.uuid4(),
                    user_id=alice.id,
                    url=f"https://example.invalid/{n}",
                    status="completed",
                    folder=str(app.ctx.settings.resolved_download_root / "alice" / f"gone {n}"),
                    items=[],
                )
            )
    page = await admin_client.put(
        "/admin/plex-downloads", data={"plexPath": "", "contentRating": "G"}, headers=HTMX
    )
    assert page.status_code == 200, page.text
    assert "Re-rating 0 of 2 downloads already in Plex as <strong>G</strong>." in page.text
    assert 'hx-get="/admin/plex-downloads/rating-progress"' in page.text
    assert "a kid allowed only G loses its videos when you change G to PG-13" in page.text
    assert "the ones already given stay as they are" in page.text
    assert await rerating.rate_due(app.ctx) == 2  # nothing of theirs is in Plex: done
    polled = await admin_client.get("/admin/plex-downloads/rating-progress", headers=HTMX)
    assert polled.status_code == 200
    assert "Every download already in Plex has the rating." in polled.text
    assert "hx-trigger" not in polled.text  # the polling stops
    async with session_scope(app.ctx.session_factory) as session:
        due = await session.scalars(select(YoutubeDownload.rating_due_at))
        assert list(due) == [None, None]


@pytest.mark.housekeeping  # the status monitor runs: it is what sees Plex come back
async def test_plex_seen_back_up_by_the_monitor_rates_what_waited_at_once_not_a_period_later(
    app_factory: Callable[..., Any],
    extras_settings: Callable[..., Settings],
    admin: User,
    bob: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
) -> None:
    """As a failed delivery (test_redelivery_plex_back.py): Plex down when the rating
    changes, the downloads wait a sweep period (an hour here), and the monitor's round
    that sees Plex answer again makes them due — the workers rate them without waiting."""
    app: MediaNestApp = await app_factory(
        extras_settings(
            run_worker_in_process=True,
            plex_audience_refresh_seconds=3600.0,
            health_check_interval_seconds=0.5,
            breaker_reset_seconds=1.0,
        )
    )
    await plex_seen(app, "online")
    await two_delivered_downloads(app, bob, media)
    restrict_kid(plex, "G")
    plex.set_fault("unavailable")  # 503 to every request, the health check's too
    await plex_seen(app, "offline")
    await set_content_rating(app, admin, "G")

    def waiting(rows: list[YoutubeDownload]) -> bool:
        later = utcnow() + timedelta(seconds=1800)
        return all(r.rating_due_at is not None and r.rating_due_at > later for r in rows)

    await wait_for(app, waiting, user_id=bob.id)
    plex.clear_fault()  # the monitor's next round sees Plex answer
    await wait_for(app, rated, user_id=bob.id)
    assert await bob_sees(plex) == sorted(CHANNEL + KIDS_CHANNEL)
