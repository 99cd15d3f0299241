"""The download API without workers: who may do what, validation, limits, duplicates."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.platform.models import AuditLog
from medianest_simulators.media_server import MediaServerSimulator


async def test_anonymous_callers_get_401_everywhere(client: httpx.AsyncClient) -> None:
    some_id = "00000000-0000-0000-0000-000000000001"
    calls = [
        client.post("/api/youtube/download", json={"url": "https://youtu.be/dQw4w9WgXcQ"}),
        client.get("/api/youtube/downloads"),
        client.get(f"/api/youtube/downloads/{some_id}"),
        client.post(f"/api/youtube/downloads/{some_id}/cancel"),
        client.delete(f"/api/youtube/downloads/{some_id}"),
    ]
    for call in calls:
        response = await call
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_a_submission_is_stored_queued_before_anything_runs(
    alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    response = await alice_client.post(
        "/api/youtube/download", json={"url": media.feed_url(), "quality": "720p"}
    )
    assert response.status_code == 201
    created = response.json()["data"]
    assert created["status"] == "queued" and created["quality"] == "720p"
    assert media.request_count() == 0  # nothing was fetched by the API itself

    listed = (await alice_client.get("/api/youtube/downloads")).json()
    assert [d["id"] for d in listed["data"]] == [created["id"]]
    assert listed["meta"]["total"] == 1
    one = (await alice_client.get(f"/api/youtube/downloads/{created['id']}")).json()["data"]
    assert one["url"] == media.feed_url() and one["items"] == []


async def test_a_youtube_link_is_normalized_and_gets_the_default_quality(
    alice_client: httpx.AsyncClient,
) -> None:
    response = await alice_client.post(
        "/api/youtube/download",
        json={"url": "https://music.youtube.com/watch?v=dQw4w9WgXcQ&si=tracking"},
    )
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["url"] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    assert data["quality"] == "best"


async def test_the_same_link_while_queued_is_a_conflict(
    alice_client: httpx.AsyncClient, bob_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    first = await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    again = await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    assert again.status_code == 409
    assert again.json()["error"]["details"]["downloadId"] == first.json()["data"]["id"]
    # Another user may queue the same link.
    assert (
        await bob_client.post("/api/youtube/download", json={"url": media.feed_url()})
    ).status_code == 201


async def test_a_cancelled_link_can_be_queued_again(
    alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    first = await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    download_id = first.json()["data"]["id"]
    cancelled = await alice_client.post(f"/api/youtube/downloads/{download_id}/cancel")
    assert cancelled.json()["data"]["status"] == "cancelled"
    assert (
        await alice_client.post(f"/api/youtube/downloads/{download_id}/cancel")
    ).status_code == 409
    again = await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    assert again.status_code == 201


async def test_the_sixth_submission_within_an_hour_is_rate_limited(
    alice_client: httpx.AsyncClient, bob_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    for n in range(5):
        response = await alice_client.post(
            "/api/youtube/download", json={"url": media.feed_url(f"feed-{n}")}
        )
        assert response.status_code == 201, response.text
    limited = await alice_client.post(
        "/api/youtube/download", json={"url": media.feed_url("feed-6")}
    )
    assert limited.status_code == 429
    error = limited.json()["error"]
    assert error["code"] == "RATE_LIMIT_EXCEEDED"
    assert error["details"]["limit"] == 5 and 0 < error["details"]["retryAfter"] <= 3600
    assert int(limited.headers["Retry-After"]) == error["details"]["retryAfter"]
    # The limit is per user.
    assert (
        await bob_client.post("/api/youtube/download", json={"url": media.feed_url("feed-6")})
    ).status_code == 201


async def test_another_user_can_neither_list_read_cancel_nor_delete_a_download(
    alice_client: httpx.AsyncClient, bob_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    created = await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    download_id = created.json()["data"]["id"]

    assert (await bob_client.get("/api/youtube/downloads")).json()["data"] == []
    for response in (
        await bob_client.get(f"/api/youtube/downloads/{download_id}"),
        await bob_client.post(f"/api/youtube/downloads/{download_id}/cancel"),
        await bob_client.delete(f"/api/youtube/downloads/{download_id}"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
    still = await alice_client.get(f"/api/youtube/downloads/{download_id}")
    assert still.json()["data"]["status"] == "queued"


async def test_an_unknown_download_is_404_and_a_malformed_id_is_rejected(
    alice_client: httpx.AsyncClient,
) -> None:
    missing = await alice_client.get("/api/youtube/downloads/00000000-0000-0000-0000-000000000009")
    assert missing.status_code == 404
    malformed = await alice_client.get("/api/youtube/downloads/not-a-uuid")
    assert malformed.status_code in (400, 422)


async def test_downloads_are_paged_newest_first(
    alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    ids = []
    for n in range(3):
        response = await alice_client.post(
            "/api/youtube/download", json={"url": media.feed_url(f"paged-{n}")}
        )
        ids.append(response.json()["data"]["id"])
    first = (await alice_client.get("/api/youtube/downloads?page=1&pageSize=2")).json()
    second = (await alice_client.get("/api/youtube/downloads?page=2&pageSize=2")).json()
    assert first["meta"]["total"] == 3 and first["meta"]["pageSize"] == 2
    assert [d["id"] for d in first["data"] + second["data"]] == list(reversed(ids))


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": ""},
        {"url": "https://youtu.be/dQw4w9WgXcQ", "quality": "4k"},
        {"url": "https://youtu.be/dQw4w9WgXcQ", "extra": 1},
    ],
)
async def test_malformed_bodies_are_rejected(
    alice_client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await alice_client.post("/api/youtube/download", json=body)
    assert response.status_code in (400, 422)
    assert response.json()["success"] is False


async def audit_rows(app: MediaNestApp, action: str) -> list[AuditLog]:
    async with session_scope(app.ctx.session_factory) as session:
        return list(await session.scalars(select(AuditLog).where(AuditLog.action == action)))


async def test_an_admin_lists_reads_cancels_and_deletes_another_users_download_audited(
    app: MediaNestApp,
    admin: User,
    bob: User,
    admin_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    media: MediaServerSimulator,
) -> None:
    first = (await bob_client.post("/api/youtube/download", json={"url": media.feed_url()})).json()
    second = await bob_client.post("/api/youtube/download", json={"url": media.feed_url("f2")})
    ids = [first["data"]["id"], second.json()["data"]["id"]]

    assert (await admin_client.get("/api/youtube/downloads")).json()["data"] == []  # own only
    everyone = (await admin_client.get("/api/youtube/downloads?all=true")).json()
    assert sorted(d["id"] for d in everyone["data"]) == sorted(ids)
    assert {d["userId"] for d in everyone["data"]} == {str(bob.id)}
    bobs = (await admin_client.get(f"/api/youtube/downloads?userId={bob.id}")).json()
    assert bobs["meta"]["total"] == 2
    read = await admin_client.get(f"/api/youtube/downloads/{ids[0]}")
    assert read.status_code == 200 and read.json()["data"]["userId"] == str(bob.id)

    cancelled = await admin_client.post(f"/api/youtube/downloads/{ids[0]}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["data"]["status"] == "cancelled"
    deleted = await admin_client.delete(f"/api/youtube/downloads/{ids[1]}")
    assert deleted.status_code == 204
    assert (await bob_client.get(f"/api/youtube/downloads/{ids[1]}")).status_code == 404

    [cancel_row] = await audit_rows(app, "youtube.download.cancel")
    [delete_row] = await audit_rows(app, "youtube.download.delete")
    assert (cancel_row.actor_id, cancel_row.target) == (admin.id, f"youtube_download:{ids[0]}")
    assert (delete_row.actor_id, delete_row.target) == (admin.id, f"youtube_download:{ids[1]}")
    assert cancel_row.details["ownerId"] == str(bob.id)


async def test_an_owner_acting_on_their_own_download_is_not_audited(
    app: MediaNestApp, bob_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    created = await bob_client.post("/api/youtube/download", json={"url": media.feed_url()})
    download_id = created.json()["data"]["id"]
    assert (
        await bob_client.post(f"/api/youtube/downloads/{download_id}/cancel")
    ).status_code == 200
    assert (await bob_client.delete(f"/api/youtube/downloads/{download_id}")).status_code == 204
    assert await audit_rows(app, "youtube.download.cancel") == []
    assert await audit_rows(app, "youtube.download.delete") == []


async def test_a_user_may_not_list_other_users_downloads(
    alice: User, bob_client: httpx.AsyncClient
) -> None:
    for query in ("all=true", f"userId={alice.id}"):
        response = await bob_client.get(f"/api/youtube/downloads?{query}")
        assert response.status_code == 403, query
        assert response.json()["error"]["code"] == "PERMISSION_DENIED"


async def test_the_admin_page_shows_everyones_downloads_and_cancels_another_users(
    app: MediaNestApp,
    bob: User,
    admin_client: httpx.AsyncClient,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    media: MediaServerSimulator,
) -> None:
    created = await bob_client.post("/api/youtube/download", json={"url": media.feed_url()})
    download_id = created.json()["data"]["id"]
    html = {"Accept": "text/html"}

    mine = await admin_client.get("/youtube", headers=html)
    assert download_id not in mine.text and "Show every user&#39;s" in mine.text
    everyone = await admin_client.get("/youtube?all=true", headers=html)
    assert everyone.status_code == 200
    assert f'data-download-id="{download_id}"' in everyone.text
    assert '<span data-field="owner">bob</span>' in everyone.text
    assert (await alice_client.get("/youtube?all=true", headers=html)).status_code == 403

    cancelled = await admin_client.post(
        f"/youtube/downloads/{download_id}/cancel", headers={**html, "HX-Request": "true"}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert 'data-state="cancelled"' in cancelled.text
    [row] = await audit_rows(app, "youtube.download.cancel")
    assert row.details["ownerId"] == str(bob.id)


async def test_a_cancelled_download_can_be_resumed_once_and_only_by_its_owner(
    client: httpx.AsyncClient,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    media: MediaServerSimulator,
) -> None:
    first = await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    download_id = first.json()["data"]["id"]
    path = f"/api/youtube/downloads/{download_id}/resume"
    not_yet = await alice_client.post(path)
    assert not_yet.status_code == 409  # only a cancelled one resumes
    await alice_client.post(f"/api/youtube/downloads/{download_id}/cancel")
    assert (await client.post(path)).status_code == 401
    assert (await bob_client.post(path)).status_code == 404
    resumed = await alice_client.post(path)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["data"]["status"] == "queued"
    assert (await alice_client.post(path)).status_code == 409
    # The same link queued again by hand meanwhile: resuming would make two; refused.
    await alice_client.post(f"/api/youtube/downloads/{download_id}/cancel")
    again = await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    assert again.status_code == 201
    clash = await alice_client.post(path)
    assert clash.status_code == 409
    assert clash.json()["error"]["message"] == "This link is already queued or downloading."


async def test_the_page_offers_resume_on_a_cancelled_row(
    alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    first = await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    download_id = first.json()["data"]["id"]
    html = {"HX-Request": "true", "Accept": "text/html"}
    cancelled = await alice_client.post(f"/youtube/downloads/{download_id}/cancel", headers=html)
    assert f'hx-post="/youtube/downloads/{download_id}/resume"' in cancelled.text
    resumed = await alice_client.post(f"/youtube/downloads/{download_id}/resume", headers=html)
    assert resumed.status_code == 200
    assert 'data-state="queued"' in resumed.text
    assert "Download resumed." in resumed.headers["hx-trigger"]
    refused = await alice_client.post(f"/youtube/downloads/{download_id}/resume", headers=html)
    assert refused.status_code == 204  # the row stays; the reason comes as a toast
    assert "Only a cancelled download can be resumed." in refused.headers["hx-trigger"]
