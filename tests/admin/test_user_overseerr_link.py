"""Linking a user to an Overseerr user is one action: the admin page and the API both
ask Overseerr whether that user exists, refuse one it does not know with the same
reason, and store the same link for one it knows."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest_simulators import OverseerrSimulator
from tests.factories.users import create_user


async def _link(app: MediaNestApp, username: str) -> int | None:
    async with session_scope(app.ctx.session_factory) as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None
        return user.overseerr_user_id


async def test_page_and_api_refuse_an_overseerr_user_that_does_not_exist(
    seeded_app: MediaNestApp, seeded_admin: httpx.AsyncClient, overseerr: OverseerrSimulator
) -> None:
    dora = await create_user(seeded_app, "dora")
    by_api = await seeded_admin.put(f"/api/admin/users/{dora.id}", json={"overseerrUserId": 999})
    by_page = await seeded_admin.put(
        f"/admin/users/{dora.id}", data={"overseerr_user_id": "999"}, headers={"HX-Request": "1"}
    )
    assert by_api.status_code == 400
    assert by_api.json()["error"]["message"].startswith("Overseerr has no user 999.")
    assert by_page.status_code == 400
    assert "Overseerr has no user 999." in by_page.text
    assert await _link(seeded_app, "dora") is None
    # Both asked Overseerr.
    assert len(overseerr.log.entries("/api/v1/user/999", "GET")) == 2


async def test_page_and_api_store_the_same_link_to_a_known_overseerr_user(
    seeded_app: MediaNestApp, seeded_admin: httpx.AsyncClient
) -> None:
    dora = await create_user(seeded_app, "dora")
    eric = await create_user(seeded_app, "eric")
    by_api = await seeded_admin.put(f"/api/admin/users/{dora.id}", json={"overseerrUserId": 2})
    by_page = await seeded_admin.put(
        f"/admin/users/{eric.id}", data={"overseerr_user_id": "2"}, headers={"HX-Request": "1"}
    )
    assert by_api.status_code == 200 and by_page.status_code == 200
    assert await _link(seeded_app, "dora") == await _link(seeded_app, "eric") == 2
    # Unlinking needs no Overseerr answer.
    unlinked = await seeded_admin.put(f"/api/admin/users/{dora.id}", json={"overseerrUserId": None})
    assert unlinked.status_code == 200 and await _link(seeded_app, "dora") is None
