"""Changing a user is one action: the admin page's row (an htmx PUT carrying the CSRF
cookie's value, as app.js sends it: `htmx_client`) and `PUT /api/admin/users/{id}` (a personal API
token, as a script calls it) store the same role, status and Overseerr link, end the
same sessions, write the same audit lines and ask Overseerr the same questions; both
refuse the same bad values with 422 and store nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import func, select

from medianest.app import MediaNestApp
from medianest.auth.models import AuthSession, User
from medianest.db.engine import session_scope
from medianest.platform.models import AuditLog
from medianest_simulators import OverseerrSimulator
from tests.factories.users import (
    create_user,
    signed_in_client,
)

# (what, the page row's field as htmx sends it, the same change as a JSON body)
CHANGES: tuple[tuple[str, dict[str, str], dict[str, Any]], ...] = (
    ("promote", {"role": "admin"}, {"role": "admin"}),
    ("demote", {"role": "user"}, {"role": "user"}),
    ("disable", {"status": "disabled"}, {"status": "disabled"}),
    ("enable", {"status": "active"}, {"status": "active"}),
    ("link", {"overseerr_user_id": "2"}, {"overseerrUserId": 2}),
    ("relink", {"overseerr_user_id": "3"}, {"overseerrUserId": 3}),
    ("unlink", {"overseerr_user_id": ""}, {"overseerrUserId": None}),
)


async def _page_put(browser: httpx.AsyncClient, user: User, form: dict[str, str]) -> httpx.Response:
    # What htmx sends for a changed select or box of the row.
    return await browser.put(f"/admin/users/{user.id}", data=form)


async def _stored(app: MediaNestApp, user: User) -> dict[str, Any]:
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.get(User, user.id)
        assert row is not None
        sessions = await session.scalar(
            select(func.count()).select_from(AuthSession).where(AuthSession.user_id == user.id)
        )
        audits = await session.scalars(select(AuditLog).where(AuditLog.target == str(user.id)))
        return {
            "role": row.role,
            "status": row.status,
            "overseerr_user_id": row.overseerr_user_id,
            "sessions": sessions,
            # Order-free: two lines of one change may share a timestamp.
            "audit": sorted(
                json.dumps([a.action, a.details, str(a.actor_id), a.ip], sort_keys=True)
                for a in audits
            ),
        }


def _user_lookups(overseerr: OverseerrSimulator) -> list[str]:
    """What MediaNest asked Overseerr about its users (the status poll asks other things)."""
    return [e.path for e in overseerr.log.entries() if e.path.startswith("/api/v1/user/")]


async def test_each_user_change_from_the_page_stores_and_asks_what_the_api_does(
    seeded_app: MediaNestApp,
    browser: httpx.AsyncClient,
    script: httpx.AsyncClient,
    overseerr: OverseerrSimulator,
) -> None:
    dora = await create_user(seeded_app, "dora")  # changed from the page
    eric = await create_user(seeded_app, "eric")  # changed through the API
    async with (
        await signed_in_client(seeded_app, dora) as dora_browser,
        await signed_in_client(seeded_app, eric) as eric_browser,
    ):
        for what, form, body in CHANGES:
            asked_before = len(_user_lookups(overseerr))
            by_page = await _page_put(browser, dora, form)
            asked_by_page = _user_lookups(overseerr)[asked_before:]
            by_api = await script.put(f"/api/admin/users/{eric.id}", json=body)
            asked_by_api = _user_lookups(overseerr)[asked_before + len(asked_by_page) :]

            assert by_page.status_code == 200, (what, by_page.text)
            assert by_api.status_code == 200, (what, by_api.text)
            assert f'data-user-id="{dora.id}"' in by_page.text  # the row, swapped in place
            page_stored, api_stored = (
                await _stored(seeded_app, dora),
                await _stored(seeded_app, eric),
            )
            assert page_stored == api_stored, what
            assert asked_by_page == asked_by_api, what
            if what == "disable":
                # Both ended the user's sessions at once.
                assert page_stored["sessions"] == 0
                assert (await dora_browser.get("/api/auth/session")).status_code == 401
                assert (await eric_browser.get("/api/auth/session")).status_code == 401

    final = await _stored(seeded_app, dora)
    assert (final["role"], final["status"], final["overseerr_user_id"]) == ("user", "active", None)
    assert len(final["audit"]) == len(CHANGES)  # one line a change
    # Linking asked Overseerr whether its user exists; unlinking asked nothing.
    assert _user_lookups(overseerr).count("/api/v1/user/2") == 2
    assert _user_lookups(overseerr).count("/api/v1/user/3") == 2


async def test_a_refused_user_change_is_422_from_page_and_api_and_stores_nothing(
    seeded_app: MediaNestApp, browser: httpx.AsyncClient, script: httpx.AsyncClient
) -> None:
    dora = await create_user(seeded_app, "dora")
    before = await _stored(seeded_app, dora)
    refused = (
        ({"role": "owner"}, {"role": "owner"}),
        ({"status": "banned"}, {"status": "banned"}),
        ({"overseerr_user_id": "0"}, {"overseerrUserId": 0}),
        ({"overseerr_user_id": "two"}, {"overseerrUserId": "two"}),
        ({"overseerr_user_id": "2147483648"}, {"overseerrUserId": 2_147_483_648}),
    )
    for form, body in refused:
        by_page = await _page_put(browser, dora, form)
        by_api = await script.put(f"/api/admin/users/{dora.id}", json=body)
        assert by_page.status_code == by_api.status_code == 422, (form, by_page.text, by_api.text)
        assert by_api.json()["error"]["code"] == "VALIDATION_ERROR"
        assert 'role="alert"' in by_page.text  # the reason, in the row
    assert await _stored(seeded_app, dora) == before


async def test_a_page_change_without_the_csrf_header_is_refused_and_stores_nothing(
    seeded_app: MediaNestApp, browser: httpx.AsyncClient
) -> None:
    dora = await create_user(seeded_app, "dora")
    before = await _stored(seeded_app, dora)
    browser.event_hooks["request"].clear()  # a request another site's page makes
    forged = await browser.put(
        f"/admin/users/{dora.id}", data={"role": "admin"}, headers={"HX-Request": "true"}
    )
    assert forged.status_code == 403
    assert "CSRF" in forged.text
    assert await _stored(seeded_app, dora) == before
