"""Resuming a cancelled download while the same link is submitted again (two tabs, or a
click on "Resume" and a paste of the link): both pass the "already queued?" look before
either writes, and the unique index over active downloads keeps one. The other is a
plain refusal (409 in the API, a toast on the page), never a 500.

The resume is held right after its look until the other request has answered, so the
two always race the same way (both looked, the other wrote first), on either database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.youtube.downloads import active
from medianest.youtube.models import YoutubeDownload
from medianest_simulators.media_server import MediaServerSimulator

PAGE = {"HX-Request": "true", "Accept": "text/html"}


class Race:
    """Once armed, the next "already active?" look (the resume's) passes, then holds its
    request until `go` is set: another request can write meanwhile."""

    def __init__(self) -> None:
        self.armed = False
        self.looked = asyncio.Event()
        self.go = asyncio.Event()

    async def after_look(self) -> None:
        if not self.armed:
            return
        self.armed = False
        self.looked.set()
        async with asyncio.timeout(10):
            await self.go.wait()

    async def meanwhile(self, request: Awaitable[httpx.Response]) -> httpx.Response:
        """`request` sent once the held one has looked; the held one goes on after it."""
        async with asyncio.timeout(10):
            await self.looked.wait()
        try:
            return await request
        finally:
            self.go.set()


@pytest.fixture
def race(monkeypatch: pytest.MonkeyPatch) -> Race:
    race = Race()
    real: Callable[..., Awaitable[None]] = active.refuse_if_already_active

    async def look_then_wait(*args: Any, **kwargs: Any) -> None:
        await real(*args, **kwargs)
        await race.after_look()

    monkeypatch.setattr(active, "refuse_if_already_active", look_then_wait)
    return race


async def statuses(app: MediaNestApp, user: User) -> list[str]:
    async with session_scope(app.ctx.session_factory) as session:
        rows = await session.scalars(
            select(YoutubeDownload.status).where(YoutubeDownload.user_id == user.id)
        )
        return sorted(rows)


async def cancelled_download(client: httpx.AsyncClient, url: str) -> str:
    first = await client.post("/api/youtube/download", json={"url": url})
    download_id = str(first.json()["data"]["id"])
    cancelled = await client.post(f"/api/youtube/downloads/{download_id}/cancel")
    assert cancelled.json()["data"]["status"] == "cancelled"
    return download_id


async def test_resume_racing_a_new_submission_of_the_link_is_a_plain_409(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    media: MediaServerSimulator,
    race: Race,
) -> None:
    download_id = await cancelled_download(alice_client, media.feed_url())
    race.armed = True
    resumed, submitted = await asyncio.gather(
        alice_client.post(f"/api/youtube/downloads/{download_id}/resume"),
        race.meanwhile(alice_client.post("/api/youtube/download", json={"url": media.feed_url()})),
    )
    assert submitted.status_code == 201, submitted.text
    assert resumed.status_code == 409, resumed.text
    assert resumed.json()["error"]["message"] == "This link is already queued or downloading."
    # One active download of the link; the refused resume left its row cancelled.
    assert (await statuses(app, alice)).count("queued") == 1


async def test_resume_on_the_page_racing_a_submission_answers_with_a_toast(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    media: MediaServerSimulator,
    race: Race,
) -> None:
    download_id = await cancelled_download(alice_client, media.feed_url())
    race.armed = True
    resumed, submitted = await asyncio.gather(
        alice_client.post(f"/youtube/downloads/{download_id}/resume", headers=PAGE),
        race.meanwhile(
            alice_client.post("/youtube/download", data={"url": media.feed_url()}, headers=PAGE)
        ),
    )
    assert submitted.status_code == 200, submitted.text[:300]
    assert resumed.status_code == 204, resumed.text[:300]  # the row stays; a toast says why
    assert "already queued or downloading" in resumed.headers["hx-trigger"]
    assert (await statuses(app, alice)).count("queued") == 1


async def test_a_double_click_on_resume_queues_it_once(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    media: MediaServerSimulator,
    race: Race,
) -> None:
    download_id = await cancelled_download(alice_client, media.feed_url())
    race.armed = True
    path = f"/api/youtube/downloads/{download_id}/resume"
    both = await asyncio.gather(alice_client.post(path), race.meanwhile(alice_client.post(path)))
    assert sorted(r.status_code for r in both) == [200, 409], [r.text for r in both]
    assert await statuses(app, alice) == ["queued"]
