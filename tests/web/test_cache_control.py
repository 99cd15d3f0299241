"""A page a browser showed is never stored (Back after sign-out must not show the
previous user's data); what scripts and htmx fetch is kept only to be revalidated (ETag,
core/conditional.py), and a revalidation after sign-out is refused. Static files keep
their own caching."""

from __future__ import annotations

import httpx

from medianest.app import MediaNestApp

NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Accept": "text/html,*/*;q=0.8"}
OLD_BROWSER_NAVIGATE = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def test_signed_in_pages_and_api_answers_opened_as_pages_are_no_store(
    alice_client: httpx.AsyncClient,
) -> None:
    for path in ("/dashboard", "/media", "/youtube", "/api/auth/session", "/api/dashboard/status"):
        for headers in (NAVIGATE, OLD_BROWSER_NAVIGATE):
            response = await alice_client.get(path, headers=headers)
            assert response.status_code == 200, path
            assert response.headers["cache-control"] == "no-store", path
            assert "etag" not in response.headers, path


async def test_what_scripts_fetch_is_kept_only_to_be_revalidated(
    alice_client: httpx.AsyncClient,
) -> None:
    for path, headers in (
        ("/api/youtube/downloads", {"Sec-Fetch-Mode": "cors", "Accept": "application/json"}),
        ("/api/dashboard/status", {"Accept": "application/json"}),
        ("/youtube/downloads", {"HX-Request": "true", "Sec-Fetch-Mode": "cors"}),
    ):
        response = await alice_client.get(path, headers=headers)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "private, no-cache", path
        assert {"Cookie", "HX-Request", "Sec-Fetch-Mode"} <= {
            v.strip() for v in response.headers["vary"].split(",")
        }, path


async def test_errors_and_anonymous_pages_are_no_store_too(client: httpx.AsyncClient) -> None:
    for path in ("/login", "/api/auth/session", "/api/media/requests"):
        assert (await client.get(path)).headers["cache-control"] == "no-store", path


async def test_static_files_keep_their_own_caching(
    app: MediaNestApp, client: httpx.AsyncClient
) -> None:
    response = await client.get("/static/app.css")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
