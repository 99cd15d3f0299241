"""A double click on "Download" (or two tabs sending the same link at once): both
submissions pass the "already queued?" look before either row is committed, and the
unique index over active downloads keeps one. The other is a plain 409 on the page and
in the API, and it does not spend one of the user's downloads of the hour."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.youtube.models import YoutubeDownload
from medianest_simulators.media_server import MediaServerSimulator

PAGE = {"HX-Request": "1"}


async def downloads_of(app: MediaNestApp, user: User) -> int:
    async with session_scope(app.ctx.session_factory) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(YoutubeDownload)
            .where(YoutubeDownload.user_id == user.id)
        )
    return int(count or 0)


async def test_a_double_click_in_the_api_queues_one_download_and_counts_one_for_the_hour(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    both = await asyncio.gather(
        *(alice_client.post("/api/youtube/download", json={"url": media.feed_url()}) for _ in "ab")
    )
    assert sorted(r.status_code for r in both) == [201, 409], [r.text for r in both]
    assert await downloads_of(app, alice) == 1
    for n in range(4):  # five an hour: the refused click took none of them
        response = await alice_client.post(
            "/api/youtube/download", json={"url": media.feed_url(f"feed-{n}")}
        )
        assert response.status_code == 201, (n, response.text)
    limited = await alice_client.post(
        "/api/youtube/download", json={"url": media.feed_url("feed-5")}
    )
    assert limited.status_code == 429


async def test_a_double_click_on_the_page_says_already_queued_instead_of_an_error(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    both = await asyncio.gather(
        *(
            alice_client.post("/youtube/download", data={"url": media.feed_url()}, headers=PAGE)
            for _ in "ab"
        )
    )
    assert sorted(r.status_code for r in both) == [200, 409], [r.text[:300] for r in both]
    refused = next(r for r in both if r.status_code == 409)
    assert "already queued or downloading" in refused.text
    assert await downloads_of(app, alice) == 1
