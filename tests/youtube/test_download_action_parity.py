"""Cancelling and deleting a download are one action each: the downloads page and the
JSON API store the same outcome, audit an admin's change to another user's download the
same way, send Plex the same removal and rescan, and refuse strangers alike."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.platform.models import AuditLog
from medianest.youtube.models import YoutubeDownload
from medianest_simulators import PlexSimulator
from medianest_simulators.media_server import MediaServerSimulator
from tests.youtube.conftest import client_for, files_under, finished, wait_for_download

PAGE = {"HX-Request": "1"}


async def _submit(client: httpx.AsyncClient, url: str) -> str:
    response = await client.post("/api/youtube/download", json={"url": url})
    assert response.status_code == 201, response.text
    download_id: str = response.json()["data"]["id"]
    return download_id


async def _stored(app: MediaNestApp, download_id: str) -> dict[str, Any] | None:
    async with session_scope(app.ctx.session_factory) as session:
        job = await session.get(YoutubeDownload, uuid.UUID(download_id))
        if job is None:
            return None
        audit = await session.scalars(
            select(AuditLog).where(AuditLog.target == f"youtube_download:{download_id}")
        )
        return {
            "status": job.status,
            "cancel_requested": job.cancel_requested,
            "completed": job.completed_at is not None,
            "audit": [(a.action, a.actor_id, a.details["status"]) for a in audit],
        }


async def test_cancelling_from_the_page_stores_what_the_api_stores(
    app: MediaNestApp, alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    # No workers run here: both downloads stay queued until cancelled.
    by_page = await _submit(alice_client, media.feed_url())
    by_api = await _submit(alice_client, media.feed_url("second"))

    page = await alice_client.post(f"/youtube/downloads/{by_page}/cancel", headers=PAGE)
    api = await alice_client.post(f"/api/youtube/downloads/{by_api}/cancel")
    assert page.status_code == 200, page.text
    assert api.status_code == 200, api.text
    assert api.json()["data"]["status"] == "cancelled"
    stored_page, stored_api = await _stored(app, by_page), await _stored(app, by_api)
    assert stored_page == stored_api
    assert stored_page == {
        "status": "cancelled",
        "cancel_requested": True,
        "completed": True,
        "audit": [],  # the owner's own change is not audited
    }

    # Cancelling again: the same refusal from both.
    again_page = await alice_client.post(f"/youtube/downloads/{by_page}/cancel", headers=PAGE)
    again_api = await alice_client.post(f"/api/youtube/downloads/{by_api}/cancel")
    assert again_page.status_code == again_api.status_code == 409
    assert again_api.json()["error"]["message"] in again_page.text
    assert await _stored(app, by_page) == await _stored(app, by_api) == stored_page


async def test_an_admin_cancelling_another_users_download_is_audited_alike(
    app: MediaNestApp,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    admin: User,
    media: MediaServerSimulator,
) -> None:
    by_page = await _submit(alice_client, media.feed_url())
    by_api = await _submit(alice_client, media.feed_url("second"))

    page = await admin_client.post(f"/youtube/downloads/{by_page}/cancel", headers=PAGE)
    api = await admin_client.post(f"/api/youtube/downloads/{by_api}/cancel")
    assert page.status_code == 200 and api.status_code == 200
    stored_page, stored_api = await _stored(app, by_page), await _stored(app, by_api)
    assert stored_page == stored_api
    assert stored_page is not None
    assert stored_page["audit"] == [("youtube.download.cancel", admin.id, "queued")]


async def test_strangers_cannot_cancel_or_delete_from_page_or_api(
    app: MediaNestApp,
    client: httpx.AsyncClient,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    media: MediaServerSimulator,
) -> None:
    download_id = await _submit(alice_client, media.feed_url())
    before = await _stored(app, download_id)
    page = f"/youtube/downloads/{download_id}"
    api = f"/api/youtube/downloads/{download_id}"
    for method, path in (("POST", f"{page}/cancel"), ("DELETE", page)):
        assert (await bob_client.request(method, path, headers=PAGE)).status_code == 404
        anonymous = await client.request(method, path, headers=PAGE)
        assert anonymous.status_code == 204 and "HX-Redirect" in anonymous.headers
    for method, path in (("POST", f"{api}/cancel"), ("DELETE", api)):
        assert (await bob_client.request(method, path)).status_code == 404
        assert (await client.request(method, path)).status_code == 401
    assert await _stored(app, download_id) == before


async def test_deleting_from_the_page_removes_and_tells_plex_what_the_api_does(
    worker_app: MediaNestApp,
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
    download_root: Path,
) -> None:
    media.add_feed("second", "Second Channel", ["clip-one", "clip-two"])
    async with await client_for(worker_app, alice) as client:
        by_page = await _submit(client, media.feed_url())
        by_api = await _submit(client, media.feed_url("second"))
        done = {
            download_id: await wait_for_download(client, download_id, finished)
            for download_id in (by_page, by_api)
        }
        assert [d["status"] for d in done.values()] == ["completed", "completed"], done
        collections = {i: int(d["plexCollectionId"]) for i, d in done.items()}
        assert all(c in plex.library.collections for c in collections.values())
        folders = {
            by_page: download_root / str(alice.id) / "Loopback Test Channel",
            by_api: download_root / str(alice.id) / "Second Channel",
        }
        assert all(files_under(folder) for folder in folders.values())
        rescans_before = len(plex.requests(path="/library/sections/3/refresh"))

        page = await client.delete(f"/youtube/downloads/{by_page}", headers=PAGE)
        assert page.status_code == 200, page.text
        api = await client.delete(f"/api/youtube/downloads/{by_api}")
        assert api.status_code == 204, api.text

    for download_id in (by_page, by_api):
        assert await _stored(worker_app, download_id) is None
        assert files_under(folders[download_id]) == []
        assert collections[download_id] not in plex.library.collections
    # Each asked Plex to rescan its own folder (a delivery's own late rescan may add one).
    rescanned = {
        parse_qs(r.query)["path"][0]
        for r in plex.requests(path="/library/sections/3/refresh")[rescans_before:]
    }
    assert rescanned == {str(f.resolve()) for f in folders.values()}
