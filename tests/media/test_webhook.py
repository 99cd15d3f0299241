"""The Overseerr webhook: shared-secret authentication, payload validation and status
sync of our requests (direct posts here; real deliveries in test_status_push.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from medianest.app import MediaNestApp
from medianest.db.engine import session_scope
from medianest.integrations.models import ServiceConfig
from medianest.media.models import MediaRequest
from medianest.settings import Settings
from medianest_simulators.overseerr_webhook import webhook_payload
from tests.media.conftest import WEBHOOK_SECRET

Hook = Callable[..., Any]
TEST_NOTIFICATION = webhook_payload("TEST_NOTIFICATION", None, None)


def notification(kind: str, *, request_id: int | None, tmdb_id: int, status: str) -> dict[str, Any]:
    """Overseerr's default template, as strings, about one movie."""
    payload = dict(TEST_NOTIFICATION)
    payload |= {
        "notification_type": kind,
        "subject": "Sprite Fright (2021)",
        "media": {
            "media_type": "movie",
            "tmdbId": str(tmdb_id),
            "tvdbId": "",
            "status": status,
            "status4k": "UNKNOWN",
        },
        "request": None
        if request_id is None
        else {"request_id": str(request_id), "requestedBy_email": "owner@medianest.test"},
    }
    return payload


async def make_request(client: httpx.AsyncClient, tmdb_id: int = 400007) -> dict[str, Any]:
    answer = await client.post("/api/media/request", json={"mediaType": "movie", "tmdbId": tmdb_id})
    assert answer.status_code == 201
    data: dict[str, Any] = answer.json()["data"]
    return data


async def status_of(client: httpx.AsyncClient, request_id: str) -> dict[str, Any]:
    data: dict[str, Any] = (await client.get(f"/api/media/requests/{request_id}")).json()["data"]
    return data


@pytest.mark.parametrize("authorization", [None, "", "wrong-secret", WEBHOOK_SECRET + "x"])
async def test_webhook_without_the_right_secret_is_401(
    hook: Hook, authorization: str | None
) -> None:
    answer = await hook(TEST_NOTIFICATION, authorization=authorization)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_test_notification_is_acknowledged(hook: Hook) -> None:
    answer = await hook(TEST_NOTIFICATION)
    assert answer.status_code == 200
    assert answer.json()["data"] == {"received": "TEST_NOTIFICATION", "updated": 0}


async def test_secret_may_come_as_a_bearer_value(hook: Hook) -> None:
    answer = await hook(TEST_NOTIFICATION, authorization=f"Bearer {WEBHOOK_SECRET}")
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b'{"event": "no type"}',
        b'{"notification_type": 5}',
        # Nested deeper than the JSON decoder recurses (2 kB, well under the size limit).
        b'{"notification_type": "MEDIA_AVAILABLE", "extra": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    ],
)
async def test_malformed_payload_is_400(hook: Hook, raw: bytes) -> None:
    answer = await hook(None, raw=raw)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_malformed_payload_without_secret_is_still_401(hook: Hook) -> None:
    answer = await hook(None, raw=b"{not json", authorization=None)
    assert answer.status_code == 401


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_status_changes_follow_the_notifications(
    hook: Hook, alice_client: httpx.AsyncClient
) -> None:
    made = await make_request(alice_client)
    steps = [
        ("MEDIA_APPROVED", "PENDING", "approved"),
        ("MEDIA_APPROVED", "PROCESSING", "processing"),
        ("MEDIA_AVAILABLE", "AVAILABLE", "available"),
    ]
    for kind, media_status, expected in steps:
        answer = await hook(
            notification(kind, request_id=made["overseerrId"], tmdb_id=400007, status=media_status)
        )
        assert answer.status_code == 200
        assert answer.json()["data"]["updated"] == 1
        assert (await status_of(alice_client, made["id"]))["status"] == expected
    final = await status_of(alice_client, made["id"])
    assert final["completedAt"] is not None


async def test_declined_and_failed_notifications(
    hook: Hook, alice_client: httpx.AsyncClient
) -> None:
    declined = await make_request(alice_client, 400007)
    failed = await make_request(alice_client, 400006)
    await hook(
        notification(
            "MEDIA_DECLINED", request_id=declined["overseerrId"], tmdb_id=400007, status="UNKNOWN"
        )
    )
    await hook(
        notification(
            "MEDIA_FAILED", request_id=failed["overseerrId"], tmdb_id=400006, status="PROCESSING"
        )
    )
    assert (await status_of(alice_client, declined["id"]))["status"] == "declined"
    assert (await status_of(alice_client, failed["id"]))["status"] == "failed"


async def test_notification_without_a_known_request_id_matches_by_title(
    hook: Hook, alice_client: httpx.AsyncClient, bob_client: httpx.AsyncClient
) -> None:
    made = await make_request(alice_client)
    answer = await hook(
        notification("MEDIA_AVAILABLE", request_id=None, tmdb_id=400007, status="AVAILABLE")
    )
    assert answer.json()["data"]["updated"] == 1
    assert (await status_of(alice_client, made["id"]))["status"] == "available"


async def test_someone_elses_request_making_the_title_available_fulfils_ours(
    hook: Hook, alice_client: httpx.AsyncClient
) -> None:
    """A request id we do not know is another request; the title being wholly in Plex
    (media status AVAILABLE) still fulfils ours, whatever that notification's type."""
    made = await make_request(alice_client)
    answer = await hook(
        notification("MEDIA_AVAILABLE", request_id=9999, tmdb_id=400007, status="AVAILABLE")
    )
    assert answer.json()["data"]["updated"] == 1
    assert (await status_of(alice_client, made["id"]))["status"] == "available"


async def test_repeated_notification_changes_nothing_more(
    hook: Hook, alice_client: httpx.AsyncClient
) -> None:
    made = await make_request(alice_client)
    payload = notification(
        "MEDIA_DECLINED", request_id=made["overseerrId"], tmdb_id=400007, status="UNKNOWN"
    )
    assert (await hook(payload)).json()["data"]["updated"] == 1
    assert (await hook(payload)).json()["data"]["updated"] == 0


async def test_notifications_about_unknown_titles_or_issues_change_nothing(hook: Hook) -> None:
    unknown = await hook(
        notification("MEDIA_AVAILABLE", request_id=999, tmdb_id=1, status="AVAILABLE")
    )
    issue = await hook(TEST_NOTIFICATION | {"notification_type": "ISSUE_CREATED"})
    assert unknown.json()["data"]["updated"] == 0
    assert issue.status_code == 200
    assert issue.json()["data"]["updated"] == 0


async def test_secret_from_the_overseerr_service_config_replaces_the_setting(
    app: MediaNestApp, hook: Hook
) -> None:
    async with session_scope(app.ctx.session_factory) as session:
        await session.execute(
            update(ServiceConfig)
            .where(ServiceConfig.service_name == "overseerr")
            .values(config_data={"webhookSecret": "from-the-admin"})
        )
    assert (await hook(TEST_NOTIFICATION)).status_code == 401
    assert (await hook(TEST_NOTIFICATION, authorization="from-the-admin")).status_code == 200


async def test_webhook_is_refused_when_no_secret_is_configured(
    app_factory: Callable[[Settings], Any], make_settings: Callable[..., Settings]
) -> None:
    app: MediaNestApp = await app_factory(make_settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for authorization in ("", "anything"):
            answer = await client.post(
                "/api/webhooks/overseerr",
                json=TEST_NOTIFICATION,
                headers={"Authorization": authorization},
            )
            assert answer.status_code == 401


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_webhook_never_touches_rows_of_other_media_types(
    app: MediaNestApp, hook: Hook, alice_client: httpx.AsyncClient
) -> None:
    made = await make_request(alice_client)
    payload = notification("MEDIA_AVAILABLE", request_id=None, tmdb_id=400007, status="AVAILABLE")
    payload["media"]["media_type"] = "tv"
    assert (await hook(payload)).json()["data"]["updated"] == 0
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.get(MediaRequest, uuid.UUID(made["id"]))
        assert row is not None and row.status == "pending"


async def test_out_of_order_and_replayed_notifications_never_move_a_request_back(
    hook: Hook, alice_client: httpx.AsyncClient
) -> None:
    made = await make_request(alice_client)
    oid = made["overseerrId"]
    approved = notification("MEDIA_APPROVED", request_id=oid, tmdb_id=400007, status="PENDING")
    available = notification("MEDIA_AVAILABLE", request_id=oid, tmdb_id=400007, status="AVAILABLE")
    pending = notification("MEDIA_PENDING", request_id=oid, tmdb_id=400007, status="PENDING")
    assert (await hook(available)).json()["data"]["updated"] == 1
    # Late and replayed deliveries: the approval sent before, the request's first event.
    for late in (approved, pending, approved, available):
        answer = await hook(late)
        assert answer.status_code == 200
        assert answer.json()["data"]["updated"] == 0
    assert (await status_of(alice_client, made["id"]))["status"] == "available"


def _with_ids(request_id: Any, tmdb_id: Any) -> dict[str, Any]:
    payload = notification("MEDIA_AVAILABLE", request_id=1, tmdb_id=1, status="AVAILABLE")
    payload["request"]["request_id"] = request_id
    payload["media"]["tmdbId"] = tmdb_id
    return payload


@pytest.mark.parametrize(
    ("request_id", "tmdb_id"),
    [
        ("²", "400007"),  # a superscript digit: str.isdigit() says yes, int() says no
        ("٣", "400007"),  # an Arabic-Indic digit: int() reads it as 3
        ("1" * 23, "400007"),  # OverflowError at the database
        (10**23, "400007"),
        ("7", "9" * 5000),  # beyond int()'s digit limit
        ("7", -5),
        ("7", "12abc"),
    ],
)
async def test_malformed_ids_with_the_right_secret_are_400_never_500(
    hook: Hook, request_id: Any, tmdb_id: Any
) -> None:
    answer = await hook(_with_ids(request_id, tmdb_id))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_a_lone_surrogate_with_the_right_secret_is_400_never_500(hook: Hook) -> None:
    raw = (
        b'{"notification_type": "MEDIA_AVAILABLE", "subject": "\\ud800",'
        b' "media": {"media_type": "movie", "tmdbId": "400007", "status": "\\udfff"}}'
    )
    answer = await hook(None, raw=raw)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
