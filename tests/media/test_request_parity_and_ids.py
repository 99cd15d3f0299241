"""A media request is one action: the page and the API store the same row and send
Overseerr the same request (as the user's linked Overseerr user). Overseerr's ids are
Overseerr's: one it hands out again after a reset replaces the stale local link."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.media.models import MediaRequest
from medianest.platform.models import AuditLog
from medianest_simulators import OverseerrSimulator
from tests.media.test_requests import RENDER_FARM, SPRITE_FRIGHT, link_to_overseerr_user


async def _rows(app: MediaNestApp) -> list[MediaRequest]:
    async with session_scope(app.ctx.session_factory) as session:
        return list(await session.scalars(select(MediaRequest).order_by(MediaRequest.created_at)))


def _stored_shape(row: MediaRequest) -> dict[str, Any]:
    return {
        "user": row.user_id,
        "title": row.title,
        "type": row.media_type,
        "tmdb": row.tmdb_id,
        "seasons": row.seasons,
        "status": str(row.status),
    }


def _sent_shape(overseerr_sim: OverseerrSimulator, overseerr_id: int) -> dict[str, Any]:
    upstream = overseerr_sim.media_requests[overseerr_id]
    return {
        "tmdb": upstream.media.title.tmdb_id,
        "requestedBy": upstream.requested_by.id,
        "seasons": sorted(upstream.seasons),
    }


async def test_the_page_and_the_api_request_a_title_the_same_way(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    await link_to_overseerr_user(admin_client, alice, 2)
    by_api = await alice_client.post(
        "/api/media/request", json={"mediaType": "tv", "tmdbId": RENDER_FARM, "seasons": [1]}
    )
    assert by_api.status_code == 201, by_api.text
    api_row = (await _rows(app))[0]
    api_sent = _sent_shape(overseerr_sim, by_api.json()["data"]["overseerrId"])
    # Same title again through the page, after the API's request is gone on both sides.
    async with session_scope(app.ctx.session_factory) as session:
        await session.delete(await session.get(MediaRequest, api_row.id))
    overseerr_sim.reset()
    by_page = await alice_client.post(
        "/media/request",
        data={"mediaType": "tv", "tmdbId": str(RENDER_FARM), "seasons": ["1"]},
        headers={"HX-Request": "true"},
    )
    assert by_page.status_code == 200, by_page.text
    (page_row,) = await _rows(app)
    assert page_row.overseerr_id is not None
    assert _stored_shape(page_row) == _stored_shape(api_row)
    assert _sent_shape(overseerr_sim, page_row.overseerr_id) == api_sent
    assert api_sent["requestedBy"] == 2  # the linked Overseerr user, on both paths


async def test_an_overseerr_id_handed_out_again_after_a_reset_replaces_the_stale_link(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    first = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
    )
    assert first.status_code == 201
    reused_id = first.json()["data"]["overseerrId"]
    overseerr_sim.reset()  # Overseerr reinstalled: its request ids start again
    second = await bob_client.post(
        "/api/media/request", json={"mediaType": "tv", "tmdbId": RENDER_FARM, "seasons": "all"}
    )
    assert second.status_code == 201, second.text
    assert second.json()["data"]["overseerrId"] == reused_id
    stale, fresh = await _rows(app)
    assert stale.user_id == alice.id and stale.overseerr_id is None
    assert fresh.overseerr_id == reused_id and fresh.tmdb_id == RENDER_FARM
    # Alice still sees her request (unlinked), and the swap is audited.
    mine = await alice_client.get(f"/api/media/requests/{first.json()['data']['id']}")
    assert mine.status_code == 200 and mine.json()["data"]["overseerrId"] is None
    async with session_scope(app.ctx.session_factory) as session:
        line = await session.scalar(
            select(AuditLog).where(AuditLog.action == "media_request.overseerr_id_reused")
        )
    assert line is not None and line.target == str(stale.id)
    assert line.details["overseerrId"] == reused_id
