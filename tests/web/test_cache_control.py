"""Signed-in pages and API answers are never stored by a browser or proxy (Back after
sign-out must not show the previous user's data); static files keep their caching."""

from __future__ import annotations

import httpx

from medianest.app import MediaNestApp


async def test_signed_in_pages_and_api_answers_are_no_store(
    alice_client: httpx.AsyncClient,
) -> None:
    for path in ("/dashboard", "/media", "/youtube", "/api/auth/session", "/api/dashboard/status"):
        response = await alice_client.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "no-store", path


async def test_errors_and_anonymous_pages_are_no_store_too(client: httpx.AsyncClient) -> None:
    for path in ("/login", "/api/auth/session", "/api/media/requests"):
        assert (await client.get(path)).headers["cache-control"] == "no-store", path


async def test_static_files_keep_their_own_caching(
    app: MediaNestApp, client: httpx.AsyncClient
) -> None:
    response = await client.get("/static/app.css")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
