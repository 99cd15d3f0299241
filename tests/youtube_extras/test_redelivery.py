"""A friend's subscription keeps downloading while the owner has left the "YouTube" library
out of their share: the downloads complete with "Downloaded, but not delivered to Plex".
When the owner shares the library (plex.tv `shared_servers`, read by the audience sweep),
what waited is delivered — into their private playlist or the collection — without the
friend doing anything, and the note goes. Once, however many sweeps and workers look at
the same moment; a Plex that fails at that moment keeps the note, and the delivery is
tried again later, not in a loop.

Plex follows plex.tv's shares here (`follow_plextv`), as Plex Media Server does. The sweep
is called as its loop calls it (`follow_share_changes`); the download workers run in the
app (the embedded mode) and find what is due at their next turn."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.auth.plex_sign_in.share_changes import follow_share_changes
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest.worker import run_standalone
from medianest.youtube.models import YoutubeDownload
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.media_server import MediaServerSimulator
from medianest_simulators.plex_library import MOVIES_SECTION, SHOWS_SECTION, YOUTUBE_SECTION
from medianest_simulators.plextv_models import ALICE_SERVER_TOKEN, MACHINE_IDENTIFIER
from tests.factories.users import signed_in_client
from tests.support.http import http_client
from tests.youtube_extras.conftest import all_finished, wait_for

NOT_DELIVERED = "Downloaded, but not delivered to Plex"


@pytest.fixture
def shares(plex_shares: PlexTvSimulator) -> PlexTvSimulator:
    return plex_shares


def share_alice(plextv: PlexTvSimulator, *sections: int) -> None:
    """python-plexapi `updateFriend(sections=)`: the libraries alice's share includes."""
    plextv.share_server("alice", MACHINE_IDENTIFIER, ALICE_SERVER_TOKEN, sections=sections)


async def playlist_titles(plex: PlexSimulator, playlist_id: str) -> list[str]:
    """The playlist's entries as alice's Plex lists them (a duplicate shows twice)."""
    async with http_client(base_url=plex.url) as http:
        answer = await http.get(
            f"/playlists/{playlist_id}/items",
            headers={"X-Plex-Token": ALICE_SERVER_TOKEN, "Accept": "application/json"},
        )
    assert answer.status_code == 200, answer.text
    return [m["title"] for m in answer.json()["MediaContainer"].get("Metadata", [])]


async def a_download_left_undelivered(
    app: MediaNestApp,
    client: httpx.AsyncClient,
    shares: PlexTvSimulator,
    media: MediaServerSimulator,
    *,
    alice: User,
    delivery: str = "playlist",
) -> list[YoutubeDownload]:
    """Alice subscribes while the library is shared (the first download is delivered);
    the owner narrows her share; the next check's download completes with the note."""
    share_alice(shares, MOVIES_SECTION, YOUTUBE_SECTION)
    await follow_share_changes(app.ctx)  # the sweep has seen the shares as they are
    created = await client.post(
        "/api/youtube/subscriptions",
        json={"url": media.feed_url(), "intervalHours": 24, "delivery": delivery},
    )
    assert created.status_code == 201, created.text
    first = await wait_for(app, all_finished(1), user_id=alice.id)
    assert first[0].status == "completed" and first[0].error is None, first[0].error
    share_alice(shares, MOVIES_SECTION)  # the owner leaves "YouTube" out
    assert await follow_share_changes(app.ctx)
    media.add_item("Clip Four")
    check = f"/api/youtube/subscriptions/{created.json()['data']['id']}/check"
    assert (await client.post(check)).status_code == 202
    rows = await wait_for(app, all_finished(2), user_id=alice.id)
    assert rows[1].status == "completed", rows[1].status
    assert rows[1].error is not None and rows[1].error.startswith(NOT_DELIVERED), rows[1].error
    return rows


@pytest.fixture
async def undelivered(
    shares: PlexTvSimulator, worker_app: MediaNestApp, alice: User, media: MediaServerSimulator
) -> list[YoutubeDownload]:
    """`a_download_left_undelivered` in the embedded mode, alice's client closed again."""
    async with await signed_in_client(worker_app, alice) as client:
        return await a_download_left_undelivered(worker_app, client, shares, media, alice=alice)


def playlist_of(rows: list[YoutubeDownload]) -> str:
    """The subscription's one playlist, which its first download was delivered into."""
    playlist = rows[0].plex_playlist_id
    assert playlist is not None
    return playlist


async def share_youtube(shares: PlexTvSimulator, app: MediaNestApp) -> None:
    """The owner shares "YouTube" with alice again; the sweep notices at its next round."""
    share_alice(shares, MOVIES_SECTION, YOUTUBE_SECTION)
    assert await follow_share_changes(app.ctx)


def clip_four(titles: list[str]) -> int:
    """How often the new video is listed (Plex titles it after its file, "004 - Clip Four")."""
    return sum(1 for title in titles if title.endswith("Clip Four"))


def tried_again(rows: list[YoutubeDownload]) -> bool:
    """The second download's delivery was tried and is due no more."""
    return rows[1].plex_due_at is None and rows[1].plex_claimed_until is None


def delivered(download_id: uuid.UUID) -> Any:
    def condition(rows: list[YoutubeDownload]) -> bool:
        row = next(r for r in rows if r.id == download_id)
        return row.error is None

    return condition


async def test_sharing_the_library_delivers_the_friends_waiting_download_into_her_playlist(
    shares: PlexTvSimulator,
    worker_app: MediaNestApp,
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
) -> None:
    async with await signed_in_client(worker_app, alice) as client:
        rows = await a_download_left_undelivered(worker_app, client, shares, media, alice=alice)
        playlist = playlist_of(rows)
        assert clip_four(await playlist_titles(plex, playlist)) == 0
        await share_youtube(shares, worker_app)
        rows = await wait_for(worker_app, delivered(rows[1].id), user_id=alice.id)
        listed = (await client.get(f"/api/youtube/downloads/{rows[1].id}")).json()["data"]
    assert listed["error"] is None  # the note is gone, for her page too
    assert rows[1].plex_playlist_id == playlist  # the subscription's one playlist
    assert clip_four(await playlist_titles(plex, playlist)) == 1


async def test_sharing_the_library_delivers_into_the_collection_too(
    shares: PlexTvSimulator,
    worker_app: MediaNestApp,
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
) -> None:
    async with await signed_in_client(worker_app, alice) as client:
        rows = await a_download_left_undelivered(
            worker_app, client, shares, media, alice=alice, delivery="collection"
        )
    collection = rows[0].plex_collection_id
    assert collection is not None
    before = plex.collection_items(int(collection))
    await share_youtube(shares, worker_app)
    rows = await wait_for(worker_app, delivered(rows[1].id), user_id=alice.id)
    after = plex.collection_items(int(collection))
    assert rows[1].plex_collection_id == collection
    titles = [plex.item(key)["title"] for key in after if key not in before]  # type: ignore[index]
    assert clip_four(titles) == 1 and len(titles) == 1


async def test_a_worker_of_another_process_delivers_what_the_servers_sweep_marked(
    shares: PlexTvSimulator,
    app: MediaNestApp,
    settings: Settings,
    alice: User,
    alice_client: httpx.AsyncClient,
    media: MediaServerSimulator,
    plex: PlexSimulator,
) -> None:
    """`serve` runs the sweep, `medianest worker` the downloads (here in the test process,
    with its own context: on SQLite no Redis, nothing shared but the database)."""
    stop = asyncio.Event()
    worker = asyncio.create_task(run_standalone(settings, stop=stop))
    try:
        rows = await a_download_left_undelivered(app, alice_client, shares, media, alice=alice)
        await share_youtube(shares, app)  # the server's sweep, not the worker's
        rows = await wait_for(app, delivered(rows[1].id), user_id=alice.id)
    finally:
        stop.set()
        await worker
    assert rows[1].plex_pending is False
    assert rows[0].plex_playlist_id is not None
    assert clip_four(await playlist_titles(plex, rows[0].plex_playlist_id)) == 1


async def test_sweeps_and_workers_at_the_same_moment_deliver_it_once(
    shares: PlexTvSimulator,
    worker_app: MediaNestApp,
    alice: User,
    plex: PlexSimulator,
    undelivered: list[YoutubeDownload],
) -> None:
    """Two instances' sweeps see the change at once and both mark the download due; the
    app's own workers and two more (as other processes) look for it at the same moment."""
    from medianest.youtube.jobs import redelivery  # not on main: the test fails there

    rows = undelivered
    playlist = playlist_of(rows)
    share_alice(shares, MOVIES_SECTION, YOUTUBE_SECTION)
    told: list[tuple[str, str, dict[str, Any]]] = []

    async def emit(user_id: str, event: str, data: dict[str, Any]) -> None:
        told.append((user_id, event, data))

    swept = await asyncio.gather(*(follow_share_changes(worker_app.ctx) for _ in range(2)))
    assert any(swept)
    counts = await asyncio.gather(*(redelivery.deliver_due(worker_app.ctx, emit) for _ in range(3)))
    assert sum(counts) <= 1
    rows = await wait_for(worker_app, delivered(rows[1].id), user_id=alice.id)
    # Every look is over: nothing is due or claimed any more, and nobody adds it again.
    again = await asyncio.gather(*(redelivery.deliver_due(worker_app.ctx, emit) for _ in range(2)))
    assert again == [0, 0]
    assert rows[1].plex_pending is False and rows[1].plex_due_at is None
    assert clip_four(await playlist_titles(plex, playlist)) == 1
    # Her open pages read the row again (its note gone), whoever delivered it.
    assert all(user == str(alice.id) and data["noteChanged"] for user, _, data in told)


async def test_a_plex_down_at_that_moment_keeps_the_note_and_is_tried_again_later(
    shares: PlexTvSimulator,
    worker_app: MediaNestApp,
    alice: User,
    plex: PlexSimulator,
    undelivered: list[YoutubeDownload],
) -> None:
    rows = undelivered
    playlist = playlist_of(rows)
    refresh = f"/library/sections/{YOUTUBE_SECTION}/refresh"
    plex.set_fault("unavailable", path_prefix=refresh)  # Plex answers 503 to the scan
    await share_youtube(shares, worker_app)

    def failed_again(rows: list[YoutubeDownload]) -> bool:
        error = rows[1].error or ""
        return "Plex collection was not updated" in error and rows[1].plex_claimed_until is None

    rows = await wait_for(worker_app, failed_again, user_id=alice.id)
    # Kept, and due only a sweep's period later (MEDIANEST_PLEX_AUDIENCE_REFRESH_SECONDS).
    assert rows[1].plex_pending is True and rows[1].plex_due_at is not None
    period = worker_app.ctx.settings.plex_audience_refresh_seconds
    assert rows[1].plex_due_at > utcnow() + timedelta(seconds=period / 2)
    scans = plex.request_count(refresh)
    assert scans >= 1
    plex.clear_fault()
    # The period passes (its due time is moved back instead of waiting it out).
    async with session_scope(worker_app.ctx.session_factory) as session:
        await session.execute(
            update(YoutubeDownload)
            .where(YoutubeDownload.id == rows[1].id)
            .values(plex_due_at=utcnow() - timedelta(seconds=1))
        )
    rows = await wait_for(worker_app, delivered(rows[1].id), user_id=alice.id)
    assert rows[1].plex_pending is False
    assert clip_four(await playlist_titles(plex, playlist)) == 1


async def test_a_library_still_not_shared_keeps_the_note_until_the_next_change(
    shares: PlexTvSimulator,
    worker_app: MediaNestApp,
    alice: User,
    plex: PlexSimulator,
    undelivered: list[YoutubeDownload],
) -> None:
    """The owner changes alice's share but still leaves "YouTube" out: the delivery is
    tried, refused again, and waits for the next change (nothing due)."""
    rows = undelivered
    share_alice(shares, MOVIES_SECTION, SHOWS_SECTION)  # TV Shows added, YouTube still left out
    assert await follow_share_changes(worker_app.ctx)

    rows = await wait_for(worker_app, tried_again, user_id=alice.id)
    assert rows[1].plex_pending is True
    assert rows[1].error is not None and rows[1].error.startswith(NOT_DELIVERED)


async def test_the_admin_delivers_a_users_waiting_downloads_again_from_the_plex_panel(
    shares: PlexTvSimulator,
    worker_app: MediaNestApp,
    admin: User,
    alice: User,
    client: httpx.AsyncClient,
    media: MediaServerSimulator,
    plex: PlexSimulator,
) -> None:
    """The panel lists whose downloads wait for Plex; "Deliver again" delivers them at once
    (no sweep needed). Only for admins, and for users that exist."""
    async with await signed_in_client(worker_app, alice) as alice_client:
        rows = await a_download_left_undelivered(
            worker_app, alice_client, shares, media, alice=alice
        )
        path = f"/api/admin/youtube/plex/redeliver/{alice.id}"
        assert (await client.post(path)).status_code == 401
        refused = await alice_client.post(path)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "PERMISSION_DENIED"
    playlist = playlist_of(rows)
    async with await signed_in_client(worker_app, admin) as admin_client:
        info = (await admin_client.get("/api/admin/youtube/plex")).json()["data"]
        assert info["undelivered"] == [
            {"userId": str(alice.id), "username": "alice", "downloads": 1}
        ]
        panel = await admin_client.get("/admin/plex-downloads", headers={"HX-Request": "true"})
        assert 'data-undelivered-user="alice"' in panel.text
        assert f'hx-post="/admin/plex-downloads/redeliver/{alice.id}"' in panel.text
        unknown = await admin_client.post(f"/api/admin/youtube/plex/redeliver/{uuid.uuid4()}")
        assert unknown.status_code == 404 and unknown.json()["success"] is False
        # Still not shared: tried at once, and the note stays.
        again = await admin_client.post(path)
        assert again.status_code == 202, again.text
        assert again.json()["data"] == {"downloads": 1}
        rows = await wait_for(worker_app, tried_again, user_id=alice.id)
        assert rows[1].plex_pending is True and rows[1].error is not None
        assert rows[1].error.startswith(NOT_DELIVERED)
        # The owner shares the library and the admin does not wait for the sweep.
        share_alice(shares, MOVIES_SECTION, YOUTUBE_SECTION)
        clicked = await admin_client.post(
            f"/admin/plex-downloads/redeliver/{alice.id}", headers={"HX-Request": "true"}
        )
        assert clicked.status_code == 200, clicked.text
        assert "1 download of alice to deliver again." in clicked.headers["HX-Trigger"]
        rows = await wait_for(worker_app, delivered(rows[1].id), user_id=alice.id)
        info = (await admin_client.get("/api/admin/youtube/plex")).json()["data"]
    assert info["undelivered"] == []
    assert clip_four(await playlist_titles(plex, playlist)) == 1
