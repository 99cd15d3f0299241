"""The HTML pages over HTTP (no browser): who may open what, redirects, error pages,
fragments with their real status, CSRF on page actions, and the strict-CSP promise."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

from medianest.app import MediaNestApp
from medianest.auth.models import Role, User
from medianest.settings import Settings
from tests.factories.users import create_user, make_client, signed_in_client

HTML = {"Accept": "text/html"}
HX = {"HX-Request": "true", "Accept": "text/html"}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


async def test_an_anonymous_visitor_is_redirected_to_sign_in_with_the_page_to_return_to(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/media?query=sintel", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/media%3Fquery%3Dsintel"


async def test_an_anonymous_fragment_request_gets_an_hx_redirect_to_the_page_it_came_from(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/media/search?query=x", headers={**HX, "HX-Current-URL": "http://testserver/media"}
    )
    assert response.status_code == 204
    assert response.headers["hx-redirect"] == "/login?next=/media"


async def test_the_login_page_refuses_to_send_people_to_another_site_afterwards(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/login?next=//evil.example/x", headers=HTML)
    assert response.status_code == 200
    assert 'data-next="/dashboard"' in response.text
    assert "evil.example" not in response.text


async def test_a_signed_in_user_is_sent_from_the_login_page_to_the_dashboard(
    alice_client: httpx.AsyncClient,
) -> None:
    response = await alice_client.get("/login", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"


async def test_a_user_gets_a_403_page_with_the_navigation_for_the_admin_page(
    alice_client: httpx.AsyncClient,
) -> None:
    response = await alice_client.get("/admin", headers=HTML)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "You cannot open this page" in response.text
    assert ">alice<" in response.text
    assert 'href="/admin"' not in response.text  # no admin link for a user


async def test_an_unknown_page_is_a_404_page_but_an_unknown_api_path_stays_json(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/no/such/page", headers=HTML)
    assert page.status_code == 404
    assert "Page not found" in page.text
    api = await client.get("/api/no/such/thing", headers=HTML)
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "NOT_FOUND"


async def test_a_signed_in_users_404_page_leads_back_to_the_dashboard(
    alice_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    page = await alice_client.get("/no/such/page", headers=HTML)
    assert page.status_code == 404
    assert '<a class="btn btn-primary" href="/dashboard">Back to the dashboard</a>' in page.text
    assert "Go to sign-in" not in page.text
    assert "Try again" not in page.text  # a missing page does not appear by retrying
    anonymous = await client.get("/no/such/page", headers=HTML)
    assert "Go to sign-in" in anonymous.text


async def test_a_page_whose_service_is_missing_says_who_fixes_it_and_offers_try_again(
    alice_client: httpx.AsyncClient,
) -> None:
    page = await alice_client.get("/plex?sort=title", headers=HTML)
    assert page.status_code == 503
    assert "Plex is not set up yet — ask an admin to configure it." in page.text
    assert 'href="/plex?sort=title" data-action="try-again">Try again</a>' in page.text
    assert 'href="/dashboard">Back to the dashboard</a>' in page.text
    collection = await alice_client.get("/plex/collections/7", headers=HTML)
    assert collection.status_code == 503
    assert 'href="/plex/collections/7" data-action="try-again">Try again</a>' in collection.text
    assert 'href="/dashboard">Back to the dashboard</a>' in collection.text
    # The reference is for an admin, folded away behind a toggle.
    assert "<summary>Details for an admin</summary>" in collection.text


async def test_the_first_admin_sign_in_is_sent_to_the_password_change_page(
    app: MediaNestApp,
) -> None:
    from sqlalchemy import select

    from medianest.db.engine import session_scope

    async with session_scope(app.ctx.session_factory) as session:
        bootstrap = await session.scalar(select(User).where(User.username == "admin"))
    assert bootstrap is not None and bootstrap.must_change_password
    async with await signed_in_client(app, bootstrap) as admin:
        response = await admin.get("/youtube", headers=HTML)
        assert response.status_code == 303
        assert response.headers["location"] == "/change-password"
        page = await admin.get("/change-password", headers=HTML)
        assert page.status_code == 200
        assert "Choose a new password" in page.text


async def test_every_page_renders_for_an_admin_without_a_single_inline_script(
    admin_client: httpx.AsyncClient,
) -> None:
    for path in ("/dashboard", "/media", "/youtube", "/admin", "/change-password", "/plex"):
        response = await admin_client.get(path, headers=HTML)
        # Plex is not configured in this app: the page says so with a 503.
        assert response.status_code == (503 if path == "/plex" else 200), path
        assert INLINE_SCRIPT.search(response.text) is None, path
        assert "<html" in response.text


async def test_static_files_are_linked_with_a_content_hash_and_cached_for_a_year(
    alice_client: httpx.AsyncClient,
) -> None:
    page = await alice_client.get("/dashboard", headers=HTML)
    match = re.search(r'src="(/static/app\.js\?v=([0-9a-f]{12}))"', page.text)
    assert match is not None
    script = await alice_client.get(match.group(1))
    assert script.status_code == 200
    assert "immutable" in script.headers["cache-control"]
    import hashlib

    assert hashlib.sha256(script.content).hexdigest()[:12] == match.group(2)
    for vendored in ("vendor/htmx.min.js", "vendor/socket.io.min.js"):
        assert f"/static/{vendored}?v=" in page.text


async def test_a_page_action_without_the_csrf_header_is_refused(
    app: MediaNestApp, alice: User
) -> None:
    async with await signed_in_client(app, alice) as signed_in:
        del signed_in.headers["X-CSRF-Token"]
        response = await signed_in.post(
            "/youtube/download", data={"url": "https://www.youtube.com/watch?v=abc"}, headers=HX
        )
    assert response.status_code == 403
    assert 'data-error-code="CSRF_FAILED"' in response.text


async def test_a_bad_youtube_link_is_explained_next_to_the_field(
    alice_client: httpx.AsyncClient,
) -> None:
    response = await alice_client.post(
        "/youtube/download", data={"url": "ftp://example.com/x", "quality": "720p"}, headers=HX
    )
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.text
    assert 'id="yt-url-error"' in response.text
    assert "ftp://example.com/x" in response.text  # the input keeps what was typed


async def test_the_youtube_rate_limit_shows_the_time_left_and_disables_the_button(
    app_factory: Callable[[Settings], Any], make_settings: Callable[..., Settings]
) -> None:
    app = await app_factory(make_settings(rate_limit_youtube_per_hour=1))
    user = await create_user(app, "carol", plex_id="2001")
    async with await signed_in_client(app, user) as carol:
        first = await carol.post(
            "/youtube/download",
            data={"url": "https://www.youtube.com/watch?v=aaaaaaaaaaa"},
            headers=HX,
        )
        assert first.status_code == 200
        assert "Download queued" in first.headers["hx-trigger"]
        second = await carol.post(
            "/youtube/download",
            data={"url": "https://www.youtube.com/watch?v=bbbbbbbbbbb"},
            headers=HX,
        )
    assert second.status_code == 429
    assert second.headers["retry-after"]
    assert "data-countdown-until=" in second.text
    assert re.search(r'id="yt-submit"[^>]*disabled', second.text)
    assert re.search(r"Try again in <strong[^>]*>\d+ (h|min)", second.text)


async def test_an_admin_changes_a_role_and_cannot_demote_the_last_admin(
    app: MediaNestApp, admin: User, admin_client: httpx.AsyncClient, alice: User
) -> None:
    promoted = await admin_client.put(
        f"/admin/users/{alice.id}", data={"role": "admin"}, headers=HX
    )
    assert promoted.status_code == 200
    assert "alice: role is now admin" in promoted.headers["hx-trigger"]
    assert re.search(r'<option value="admin" selected', promoted.text)
    demoted = await admin_client.put(f"/admin/users/{alice.id}", data={"role": "user"}, headers=HX)
    assert demoted.status_code == 200
    last = await admin_client.put(f"/admin/users/{admin.id}", data={"role": "user"}, headers=HX)
    assert last.status_code == 409
    assert "last active administrator" in last.text
    assert re.search(r'<option value="admin" selected', last.text)  # the row shows what is stored


async def test_an_admin_links_a_user_to_an_overseerr_user_in_the_row(
    admin_client: httpx.AsyncClient, alice: User
) -> None:
    url = f"/admin/users/{alice.id}"
    linked = await admin_client.put(url, data={"overseerr_user_id": " 12 "}, headers=HX)
    assert linked.status_code == 200
    assert "alice: Overseerr user is now 12" in linked.headers["hx-trigger"]
    assert re.search(r'id="overseerr-[^"]+" name="overseerr_user_id"[^>]*value="12"', linked.text)
    for bad in ("0", "-3", "twelve", "1e3", str(2**31)):
        refused = await admin_client.put(url, data={"overseerr_user_id": bad}, headers=HX)
        assert refused.status_code == 422, bad  # as the API answers the same value
        assert "Overseerr user id" in refused.text
        assert re.search(r'name="overseerr_user_id"[^>]*value="12"', refused.text)  # as stored
    unlinked = await admin_client.put(url, data={"overseerr_user_id": ""}, headers=HX)
    assert "alice: Overseerr user is now not linked" in unlinked.headers["hx-trigger"]
    assert re.search(r'name="overseerr_user_id"[^>]*value=""', unlinked.text)


async def test_media_search_without_overseerr_says_so_in_the_results_area(
    alice_client: httpx.AsyncClient,
) -> None:
    response = await alice_client.get("/media/search?query=sintel", headers=HX)
    assert response.status_code == 503
    assert 'class="alert alert-error"' in response.text
    assert "Overseerr is not set up yet — ask an admin to configure it." in response.text
    assert 'hx-get="/media/search?query=sintel"' in response.text  # "Try again"


async def test_an_anonymous_visitor_cannot_reach_any_page_fragment(
    app: MediaNestApp,
) -> None:
    other = await create_user(app, "dave", role=Role.USER)
    async with make_client(app) as anonymous:
        for method, path in (
            ("GET", "/dashboard/cards"),
            ("GET", "/youtube/downloads"),
            ("GET", "/media/requests"),
            ("GET", "/admin/users"),
            ("PUT", f"/admin/users/{other.id}"),
            ("POST", "/admin/services/plex/test"),
            ("POST", "/dashboard/refresh"),
        ):
            response = await anonymous.request(method, path, headers=HX)
            assert response.status_code == 204, path
            assert response.headers["hx-redirect"].startswith("/login"), path


async def test_the_dashboard_shows_the_user_what_is_left_of_their_quotas(
    alice_client: httpx.AsyncClient,
) -> None:
    page = await alice_client.get("/dashboard", headers=HTML)
    assert page.status_code == 200
    assert "What is left" in page.text
    for name in ("youtubeItemsPerDay", "youtubeGbPerWeek", "mediaRequestsPerWeek"):
        assert f'data-quota="{name}"' in page.text


async def test_the_refresh_button_checks_and_a_second_press_says_to_wait(
    alice_client: httpx.AsyncClient, bob_client: httpx.AsyncClient
) -> None:
    first = await alice_client.post("/dashboard/refresh", headers=HX)
    second = await bob_client.post("/dashboard/refresh", headers=HX)

    assert first.status_code == 200 and 'data-service="uptime_kuma"' in first.text
    assert second.status_code == 200  # the cards as they are, and a note
    assert "checked moments ago" in second.headers["hx-trigger"]
    assert 'data-service="uptime_kuma"' in second.text


def test_templates_word_a_download_failure_as_the_youtube_package_does() -> None:
    # web/ imports no domain: the app's page composition hands youtube's wording over.
    import medianest.pages  # noqa: F401
    from medianest.web.templating import templates
    from medianest.youtube.ytdlp.failure_words import describe

    raw = "ERROR: [youtube] abc: Private video. Sign in if you've been granted access"
    rendered = templates().env.from_string("{{ (error | download_failure).summary }}")
    assert rendered.render(error=raw) == describe(raw).summary != raw


def test_a_filter_added_after_the_first_page_still_reaches_the_templates() -> None:
    # The environment is made by the first page; a filter given later joins it there.
    from medianest.web import templating

    templating.templates()
    templating.add_filter("shouted", str.upper)
    try:
        assert templating.templates().env.from_string("{{ 'up' | shouted }}").render() == "UP"
    finally:
        templating._filters.pop("shouted")
        templating.templates().env.filters.pop("shouted")
