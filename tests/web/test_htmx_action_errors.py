"""A page action (an htmx form or button that changes something) refused before its
handler ran (the per-user API budget, CSRF, a busy database) leaves the page as it is:
`HX-Reswap: none` keeps the form and what was typed, `HX-Trigger` says why in the toast
(with the wait for a 429); a session that ended goes to sign-in (`HX-Redirect`). What a
page's handler answers itself (a field's error) is swapped in place as before."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection

from medianest.app import MediaNestApp
from medianest.auth.models import Role, User
from medianest.auth.tokens import service as api_tokens
from medianest.db.engine import session_scope
from medianest.settings import Settings
from tests.factories.users import create_user, htmx_client
from tests.support.rate_windows import room_in_the_window

# Four real page forms, each as its page sends it (method, address, what was typed).
TOKEN_FORM = ("POST", "/account/tokens", {"name": "my typed backup script", "expiresInDays": "30"})
SUBSCRIBE_FORM = (
    "POST",
    "/youtube/subscriptions",
    {"url": "https://www.youtube.com/playlist?list=PLtyped", "intervalHours": "6"},
)
REQUEST_BUTTON = ("POST", "/media/request", {"mediaType": "movie", "tmdbId": "550"})
SETTINGS_FORM = ("PUT", "/admin/settings", {"apiPerMinute": "77", "youtubePerHour": "9"})
FORMS = {
    "api-token": TOKEN_FORM,
    "subscribe": SUBSCRIBE_FORM,
    "media-request": REQUEST_BUTTON,
    "admin-settings": SETTINGS_FORM,
}
WAIT = re.compile(r"Try again in (\d+ (s|min)|\d+ min \d+ s)\.")


def _toast(answer: httpx.Response) -> dict[str, Any]:
    """The toast the answer fires (app.js listens for `toast`), and that it swaps nothing."""
    assert answer.headers.get("HX-Reswap") == "none", (answer.status_code, answer.headers)
    toast: dict[str, Any] = json.loads(answer.headers["HX-Trigger"])["toast"]
    assert toast["type"] == "error" and toast["status"] == answer.status_code
    return toast


async def _send(page: httpx.AsyncClient, form: tuple[str, str, dict[str, str]]) -> httpx.Response:
    method, path, typed = form
    return await page.request(method, path, data=typed)


async def _spend_budget(page: httpx.AsyncClient) -> None:
    """Use up the user's per-user API budget with real requests (any path counts)."""
    for _ in range(50):
        if (await page.get("/api/auth/session")).status_code == 429:
            return
    raise AssertionError("the budget never ran out")


@pytest.mark.parametrize("form", FORMS)
async def test_a_form_refused_by_the_api_budget_keeps_the_page_and_says_the_wait(
    app_factory: Callable[..., Any], make_settings: Callable[..., Settings], form: str
) -> None:
    limited: MediaNestApp = await app_factory(make_settings(rate_limit_api_per_minute=4))
    role = Role.ADMIN if form == "admin-settings" else Role.USER
    person = await create_user(limited, "pat", role=role)
    await room_in_the_window()
    page = await htmx_client(limited, person)
    await _spend_budget(page)
    refused = await _send(page, FORMS[form])
    assert refused.status_code == 429
    toast = _toast(refused)
    assert toast["code"] == "RATE_LIMIT_EXCEEDED"
    wait = int(refused.headers["Retry-After"])
    assert 0 < wait <= 60 and WAIT.search(toast["message"]), toast
    assert "Too many requests." in toast["message"]
    await page.aclose()


@pytest.mark.parametrize("form", ["api-token", "subscribe"])
async def test_a_form_whose_csrf_check_fails_keeps_the_page_and_says_to_reload(
    app: MediaNestApp, alice: User, form: str
) -> None:
    page = await htmx_client(app, alice)
    page.cookies.set("csrftoken", "from-another-tab")  # the cookie changed under the page
    page.event_hooks["request"].clear()
    page.headers.update({"HX-Request": "true", "X-CSRF-Token": "the-page-s-old-token"})
    refused = await _send(page, FORMS[form])
    assert refused.status_code == 403
    toast = _toast(refused)
    assert toast["code"] == "CSRF_FAILED" and "Reload the page" in toast["message"]
    assert "CSRF token" not in toast["message"]  # the API's words, not a person's
    async with session_scope(app.ctx.session_factory) as session:
        assert await api_tokens.list_tokens(session, user=alice) == []
    await page.aclose()


@asynccontextmanager
async def _every_connection_held(app: MediaNestApp) -> AsyncIterator[None]:
    """Check out every connection the pool gives (a database at capacity)."""
    held: list[AsyncConnection] = []
    try:
        while len(held) < 100:
            try:
                held.append(await app.ctx.engine.connect())
            except PoolTimeout:
                break
        yield
    finally:
        for connection in held:
            await connection.close()


@pytest.mark.parametrize("form", ["api-token", "subscribe"])
async def test_a_form_refused_while_the_database_is_busy_keeps_the_page(
    app_factory: Callable[..., Any], make_settings: Callable[..., Settings], form: str
) -> None:
    busy: MediaNestApp = await app_factory(make_settings(database_pool_timeout_seconds=0.3))
    person = await create_user(busy, "pat")
    page = await htmx_client(busy, person)
    async with _every_connection_held(busy):
        refused = await _send(page, FORMS[form])
    assert refused.status_code == 503, refused.text
    toast = _toast(refused)
    assert toast["code"] == "SERVICE_BUSY" and "busy" in toast["message"]
    # Once a connection is free the same form goes through (the page kept it to send again).
    if form == "api-token":
        again = await _send(page, FORMS[form])
        assert again.status_code == 200 and "HX-Reswap" not in again.headers
    await page.aclose()


async def test_what_a_page_answers_itself_is_still_swapped_where_it_was_asked(
    app: MediaNestApp, alice: User
) -> None:
    page = await htmx_client(app, alice)
    refused = await page.post("/account/tokens", data={"name": ""})
    assert refused.status_code == 422 and "HX-Reswap" not in refused.headers
    assert 'data-error-for="name">' in refused.text  # next to the field, in the new form
    # A region loaded with GET still shows its error there, with Try again.
    gone = await page.get("/youtube/downloads/00000000-0000-0000-0000-000000000000/row")
    assert gone.status_code == 404 and "HX-Reswap" not in gone.headers
    await page.aclose()


async def test_a_form_sent_after_the_session_ended_sends_the_browser_to_sign_in(
    app: MediaNestApp, alice: User
) -> None:
    page = await htmx_client(app, alice)
    await page.post("/api/auth/logout")
    ended = await page.post(
        "/account/tokens", data={"name": "typed"}, headers={"HX-Current-URL": "http://t/account"}
    )
    assert ended.status_code == 204 and ended.headers["HX-Redirect"] == "/login?next=/account"
    await page.aclose()
