"""ETag and 304 for what page scripts, htmx and API clients ask again and again: an
unchanged answer costs a header, a changed one comes back whole."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.core.conditional import body_etag, matches
from medianest.db.engine import session_scope
from medianest.media.models import MediaRequest
from medianest.youtube.models import YoutubeDownload

HTMX = {"HX-Request": "true"}


async def add_download_and_request(app: MediaNestApp, user: User) -> None:
    async with session_scope(app.ctx.session_factory) as session:
        session.add(YoutubeDownload(user_id=user.id, url="https://youtu.be/abcdefghijk"))
        session.add(
            MediaRequest(user_id=user.id, title="Sintel", media_type="movie", tmdb_id=45745)
        )


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/api/youtube/downloads", {}), ("/api/media/requests", {}), ("/youtube/downloads", HTMX)],
)
async def test_a_repeated_request_with_the_etag_gets_304_and_a_change_gets_200(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
) -> None:
    first = await alice_client.get(path, headers=headers)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert first.headers["cache-control"] == "private, no-cache"
    assert "Cookie" in first.headers["vary"]

    again = await alice_client.get(path, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "private, no-cache"

    await add_download_and_request(app, alice)
    changed = await alice_client.get(path, headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.content


async def test_if_none_match_accepts_a_list_strong_or_weak_tags_and_star(
    alice_client: httpx.AsyncClient,
) -> None:
    etag = (await alice_client.get("/api/youtube/downloads")).headers["etag"]
    opaque = etag.removeprefix("W/")
    for condition in (f'"other", {etag}', opaque, f'W/"x",{opaque}', "*"):
        answer = await alice_client.get(
            "/api/youtube/downloads", headers={"If-None-Match": condition}
        )
        assert answer.status_code == 304, condition
    other = await alice_client.get("/api/youtube/downloads", headers={"If-None-Match": 'W/"other"'})
    assert other.status_code == 200
    assert other.json()["success"] is True


async def test_the_envelope_timestamp_does_not_change_the_etag() -> None:
    one = b'{"success":true,"data":[],"meta":{"timestamp":"2026-12-04T21:00:00.1Z","version":"1"}}'
    two = b'{"success":true,"data":[],"meta":{"timestamp":"2026-12-04T21:00:09.9Z","version":"1"}}'
    other = (
        b'{"success":true,"data":[1],"meta":{"timestamp":"2026-12-04T21:00:09.9Z","version":"1"}}'
    )
    assert body_etag(one) == body_etag(two) != body_etag(other)
    assert matches(b'W/"a", ' + body_etag(one), body_etag(two))


@pytest.mark.housekeeping
async def test_the_polled_dashboard_status_revalidates_to_304(
    alice_client: httpx.AsyncClient,
) -> None:
    for _ in range(200):  # until the status monitor's first round is in the answer
        first = await alice_client.get("/api/dashboard/status")
        assert first.status_code == 200
        if first.json()["data"][0]["lastCheckAt"] is not None:
            break
        await asyncio.sleep(0.05)
    answers = [
        await alice_client.get(
            "/api/dashboard/status", headers={"If-None-Match": first.headers["etag"]}
        )
        for _ in range(3)  # the database's session read first, then the cached body
    ]
    for answer in answers:  # no service configured: the aggregate stays the same
        assert answer.status_code == 304
        assert answer.headers["etag"] == first.headers["etag"]


@pytest.mark.parametrize(
    "path", ["/api/media/requests", "/youtube/downloads", "/api/dashboard/status"]
)
async def test_a_kept_answer_is_tagged_once_and_as_a_made_one(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient, path: str
) -> None:
    """Answers sent again from the response cache (core/response_cache.py) are tagged by
    the ETag layer as the answer the route made was: one ETag, one Vary, one length, the
    same tag; and a revalidation of a kept answer is a 304 that still counted who asks."""
    headers = {} if path.startswith("/api/") else HTMX  # (a page's fragment, as htmx asks)
    await add_download_and_request(app, alice)
    made = await alice_client.get(path, headers=headers)
    kept = [await alice_client.get(path, headers=headers) for _ in range(3)]
    for answer in kept:
        assert answer.status_code == 200
        for name in ("etag", "vary", "cache-control"):
            assert answer.headers.get_list(name) == made.headers.get_list(name), name
        assert len(answer.headers.get_list("content-length")) == 1
        assert answer.content
    not_modified = await alice_client.get(
        path, headers={**headers, "If-None-Match": made.headers["etag"]}
    )
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers.get_list("etag") == [made.headers["etag"]]
    assert "content-length" not in not_modified.headers or (
        not_modified.headers["content-length"] == "0"
    )
    assert "x-ratelimit-remaining" in not_modified.headers  # who asks was counted


async def test_errors_navigations_and_answers_setting_cookies_get_no_etag(
    client: httpx.AsyncClient, alice_client: httpx.AsyncClient
) -> None:
    refused = await client.get("/api/youtube/downloads")
    assert refused.status_code == 401
    assert "etag" not in refused.headers
    page = await alice_client.get("/dashboard", headers={"Sec-Fetch-Mode": "navigate"})
    assert page.status_code == 200
    assert "etag" not in page.headers
    assert page.headers["cache-control"] == "no-store"


async def test_after_sign_out_a_revalidation_is_refused_never_answered_304(
    alice_client: httpx.AsyncClient,
) -> None:
    kept = await alice_client.get("/api/youtube/downloads")
    fragment = await alice_client.get("/youtube/downloads", headers=HTMX)
    cookies = dict(alice_client.cookies)
    signed_out = await alice_client.post("/api/auth/logout")
    assert signed_out.status_code == 200
    for name, value in cookies.items():  # the browser's old cookie, as a stale tab would send
        alice_client.cookies.set(name, value)
    api = await alice_client.get(
        "/api/youtube/downloads", headers={"If-None-Match": kept.headers["etag"]}
    )
    assert api.status_code == 401
    page = await alice_client.get(
        "/youtube/downloads", headers={**HTMX, "If-None-Match": fragment.headers["etag"]}
    )
    assert page.status_code != 304
    assert "etag" not in page.headers
