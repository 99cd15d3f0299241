"""The account page creates personal API tokens: a thin form over the same service as
POST /api/auth/tokens (same schema, same cap, a signed-in browser only), the token shown
once in the answer to the POST (no-store), never in a list, a log, an address or the
database, and working as `Authorization: Bearer` afterwards."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.models import ApiToken, User
from medianest.auth.tokens import service as api_tokens
from medianest.db.engine import session_scope
from medianest.platform.models import AuditLog
from medianest.settings import Settings
from tests.factories.users import create_user, htmx_client, make_client, token_client
from tests.support.rate_windows import room_in_the_window

NEW_TOKEN = re.compile(r'id="new-api-token"[^>]*\svalue="(mn_[^"]+)"')
FORM = "/account/tokens"
LIMIT = 4


def _shown_token(html: str) -> str:
    found = NEW_TOKEN.search(html)
    assert found, html
    return found.group(1)


async def _bearer_works(client: httpx.AsyncClient, token: str) -> int:
    answer = await client.get("/api/auth/tokens", headers={"Authorization": f"Bearer {token}"})
    return answer.status_code


async def test_the_form_creates_a_token_shown_once_that_works_as_bearer(
    app: MediaNestApp, alice: User, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    page = await htmx_client(app, alice)
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        made = await page.post(FORM, data={"name": "  backup script ", "expiresInDays": "30"})
    assert made.status_code == 200, made.text
    assert made.headers["Cache-Control"] == "no-store"
    token = _shown_token(made.text)
    assert "It will not be shown again" in made.text
    assert 'data-token-id="' in made.text and "backup script" in made.text  # the list updated
    assert "Token created." in made.headers["HX-Trigger"]
    # Never in a log line, an address or the database.
    assert token not in repr(logs) and token not in caplog.text
    assert token not in str(made.url) and token not in made.headers.get("HX-Push-Url", "")
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.scalar(select(ApiToken).where(ApiToken.user_id == alice.id))
    assert row is not None and row.name == "backup script" and row.expires_at is not None
    assert token not in repr([getattr(row, c.key) for c in ApiToken.__table__.columns])
    async with session_scope(app.ctx.session_factory) as session:
        audited = await session.scalar(
            select(AuditLog).where(AuditLog.action == "auth.api_token_created")
        )
    # The service records it, for the form as for the API (the token itself never).
    assert audited is not None and audited.target == str(row.id) and audited.actor_id == alice.id
    assert token not in repr([getattr(audited, c.key) for c in AuditLog.__table__.columns])

    assert await _bearer_works(client, token) == 200
    # Shown once: the account page (a reload) lists it by name and prefix, never whole.
    reload = await page.get("/account")
    assert reload.status_code == 200
    assert "backup script" in reload.text and row.prefix in reload.text
    assert token not in reload.text and not NEW_TOKEN.search(reload.text)
    await page.aclose()


async def test_a_refused_name_is_said_next_to_the_field_as_the_api_refuses_it(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    page = await htmx_client(app, alice)
    for name, expires in (("   ", ""), ("x" * 101, ""), ("ok", "0"), ("ok", "3651"), ("ok", "a")):
        api = await alice_client.post(
            "/api/auth/tokens",
            json={"name": name, "expiresInDays": int(expires) if expires.isdigit() else expires}
            if expires
            else {"name": name},
        )
        refused = await page.post(FORM, data={"name": name, "expiresInDays": expires})
        assert api.status_code == refused.status_code == 422, (name, expires, refused.text)
        first = api.json()["error"]["details"]["fields"][0]
        field, message = first["field"], first["message"]
        element = "token-name-error" if field == "name" else "token-expiry-error"
        assert re.search(rf'id="{element}"[^>]*>{re.escape(message)}<', refused.text), refused.text
        assert 'aria-invalid="true"' in refused.text
        assert not NEW_TOKEN.search(refused.text)
        # What was typed stays in the fields.
        assert re.search(rf'id="token-name"[^>]*value="{re.escape(name)}"', refused.text)
        assert re.search(rf'id="token-expiry"[^>]*value="{expires}"', refused.text)
    # Nothing was created by either.
    async with session_scope(app.ctx.session_factory) as session:
        assert await api_tokens.list_tokens(session, user=alice) == []
    await page.aclose()


async def test_the_per_user_cap_refuses_the_form_with_the_apis_words(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    async with session_scope(app.ctx.session_factory) as session:
        for n in range(api_tokens.MAX_TOKENS_PER_USER):
            await api_tokens.create_token(session, user=alice, name=f"t{n}", expires_in_days=None)
    page = await htmx_client(app, alice)
    refused = await page.post(FORM, data={"name": "one too many"})
    api = await alice_client.post("/api/auth/tokens", json={"name": "one too many"})
    assert refused.status_code == api.status_code == 409
    assert api.json()["error"]["message"] in refused.text
    assert 'data-error-code="CONFLICT"' in refused.text and not NEW_TOKEN.search(refused.text)
    await page.aclose()


async def test_the_form_without_the_csrf_header_is_refused_and_creates_nothing(
    app: MediaNestApp, alice: User
) -> None:
    page = await htmx_client(app, alice)
    page.event_hooks["request"].clear()  # a cross-site form: the cookie, not the header
    refused = await page.post(FORM, data={"name": "forged"}, headers={"HX-Request": "true"})
    assert refused.status_code == 403
    assert "forged" not in refused.text and not NEW_TOKEN.search(refused.text)
    async with session_scope(app.ctx.session_factory) as session:
        assert await api_tokens.list_tokens(session, user=alice) == []
    await page.aclose()


async def test_signed_out_or_with_an_api_token_the_form_mints_nothing(
    app: MediaNestApp, alice: User
) -> None:
    anonymous = make_client(app)
    plain = await anonymous.post(FORM, data={"name": "x"}, headers={"Accept": "text/html"})
    assert plain.status_code == 303 and plain.headers["location"].startswith("/login")
    htmx = await anonymous.post(FORM, data={"name": "x"}, headers={"HX-Request": "true"})
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"].startswith("/login")
    await anonymous.aclose()
    # A leaked token cannot mint another through the page either (as the API: 403).
    script = await token_client(app, alice)
    minted = await script.post(FORM, data={"name": "child"}, headers={"HX-Request": "true"})
    assert minted.status_code == 403 and not NEW_TOKEN.search(minted.text)
    await script.aclose()


async def test_the_form_spends_the_same_per_user_budget_as_the_api_and_is_refused_alike(
    app_factory: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    limited: MediaNestApp = await app_factory(make_settings(rate_limit_api_per_minute=LIMIT))
    alice = await create_user(limited, "alice")
    page = await htmx_client(limited, alice)  # its GET of the dashboard spends one
    await room_in_the_window()
    answers = [await page.post(FORM, data={"name": f"t{n}"}) for n in range(LIMIT + 1)]
    created = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    assert refused and {a.status_code for a in refused} == {429}
    assert all('data-error-code="RATE_LIMIT_EXCEEDED"' in a.text for a in refused)
    assert all(int(a.headers["Retry-After"]) > 0 and not NEW_TOKEN.search(a.text) for a in refused)
    # The API shares the budget: refused the same way, with the envelope.
    api = await page.post("/api/auth/tokens", json={"name": "api"})
    assert api.status_code == 429 and api.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    async with session_scope(limited.ctx.session_factory) as session:
        assert len(await api_tokens.list_tokens(session, user=alice)) == len(created)
    await page.aclose()
