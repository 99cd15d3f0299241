"""Channels through the API: an Apprise URL saved encrypted and never shown again, events
checked against what the caller may choose, household channels for admins only, another
user's channel a 404, and "send test" reaching a real receiver (or saying why not)."""

from __future__ import annotations

import io
import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.db.engine import session_scope
from medianest.notifications import channels
from medianest.notifications.models import NotificationChannel
from medianest.settings import Settings
from tests.notifications.receivers import HttpReceiver

SECRET_PATH = "hook-9f8e7d6c5b4a-secret"


def json_url(receiver: HttpReceiver, path: str = SECRET_PATH) -> str:
    return f"json://127.0.0.1:{receiver.port}/{path}"


async def add(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/api/notifications/channels", json=body)


async def test_an_apprise_url_is_stored_encrypted_and_never_shown_again(
    app: MediaNestApp, alice_client: httpx.AsyncClient, webhook: HttpReceiver
) -> None:
    answer = await add(alice_client, url=json_url(webhook), events=["request.available"])
    assert answer.status_code == 201, answer.text
    channel = answer.json()["data"]
    assert channel["kind"] == "apprise" and channel["events"] == ["request.available"]
    assert channel["label"] == "json://127.0.0.1"
    listed = await alice_client.get("/api/notifications/channels")
    for text in (answer.text, listed.text):
        assert SECRET_PATH not in text
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.scalar(select(NotificationChannel))
        assert row is not None and SECRET_PATH not in row.secret and row.secret.startswith("v1:")


async def test_the_same_url_again_updates_the_one_channel(
    alice_client: httpx.AsyncClient, webhook: HttpReceiver
) -> None:
    first = (await add(alice_client, url=json_url(webhook), events=["download.failed"])).json()
    second = (await add(alice_client, url=json_url(webhook), events=["download.finished"])).json()
    assert first["data"]["id"] == second["data"]["id"]
    listed = (await alice_client.get("/api/notifications/channels")).json()["data"]
    assert [c["events"] for c in listed] == [["download.finished"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "nonsense://what", "events": ["request.available"]}, "url"),
        ({"url": "", "events": ["request.available"]}, "url"),
        ({"url": "json://example.com/x", "events": ["no.such.event"]}, "events"),
        ({"url": "json://example.com/x", "events": []}, "events"),
        # A plain user may not choose an admin event.
        ({"url": "json://example.com/x", "events": ["service.down"]}, "events"),
    ],
)
async def test_bad_channels_get_a_400_saying_which_field(
    alice_client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    answer = await add(alice_client, **body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == field


@pytest.mark.parametrize(
    "body",
    [
        {"events": ["request.available"]},
        {"url": "json://example.com/x", "subscription": {"endpoint": "https://x"}},
        {"url": "json://example.com/x", "extra": True},
        {"url": "x" * 3000},
    ],
)
async def test_malformed_channel_bodies_are_refused_without_a_500(
    alice_client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    answer = await add(alice_client, **body)
    assert 400 <= answer.status_code < 500 and answer.json()["success"] is False


async def test_private_addresses_are_refused_to_plain_users_unless_allowed(
    app_factory: Any, make_settings: Any, alice: Any, admin: Any
) -> None:
    from tests.factories.users import signed_in_client

    app: MediaNestApp = await app_factory(make_settings(run_notification_worker=False))
    async with await signed_in_client(app, alice) as alice_client:
        for url in (
            "json://127.0.0.1:8080/x",
            "ntfy://localhost/topic",
            "json://[::1]/x",
            "json://10.0.0.5/x",
        ):
            answer = await add(alice_client, url=url, events=["request.available"])
            assert answer.status_code == 400, url
        assert (await add(alice_client, url="ntfy://ntfy.sh/alice-topic")).status_code == 201
    async with await signed_in_client(app, admin) as admin_client:
        # Admins may point the household at the LAN (a home ntfy server).
        answer = await add(admin_client, url="ntfy://192.168.1.20/house", household=True)
        assert answer.status_code == 201


async def test_only_admins_add_household_channels_and_only_admins_see_them(
    alice_client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    refused = await add(alice_client, url="ntfy://ntfy.sh/x", household=True)
    assert refused.status_code == 403
    made = await add(
        admin_client,
        url="discord://1234567890/abcdefTOKENxyz",
        household=True,
        events=["request.available", "service.down"],
    )
    assert made.status_code == 201 and made.json()["data"]["household"] is True
    assert "abcdefTOKENxyz" not in made.text and "1234567890" not in made.text
    assert (await alice_client.get("/api/notifications/channels")).json()["data"] == []
    household_id = made.json()["data"]["id"]
    assert (
        await alice_client.delete(f"/api/notifications/channels/{household_id}")
    ).status_code == 404


async def test_another_users_channel_is_not_found(
    alice_client: httpx.AsyncClient, bob_client: httpx.AsyncClient
) -> None:
    channel = (await add(alice_client, url="ntfy://ntfy.sh/alice")).json()["data"]
    assert (
        await bob_client.delete(f"/api/notifications/channels/{channel['id']}")
    ).status_code == 404
    answer = await bob_client.post(f"/api/notifications/channels/{channel['id']}/test")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "NOT_FOUND"
    assert (
        await alice_client.delete(f"/api/notifications/channels/{channel['id']}")
    ).status_code == 204
    assert (await alice_client.get("/api/notifications/channels")).json()["data"] == []


async def test_send_test_reaches_the_receiver_and_records_a_failure_with_its_reason(
    alice_client: httpx.AsyncClient, webhook: HttpReceiver
) -> None:
    channel = (await add(alice_client, url=json_url(webhook))).json()["data"]
    answer = await alice_client.post(f"/api/notifications/channels/{channel['id']}/test")
    assert answer.json()["data"] == {"ok": True, "reason": ""}
    received = await webhook.wait_for(1)
    assert received[0].path == f"/{SECRET_PATH}"
    assert received[0].json()["title"] == "MediaNest test"

    webhook.answer = 503
    answer = await alice_client.post(f"/api/notifications/channels/{channel['id']}/test")
    result = answer.json()["data"]
    assert result["ok"] is False and "503" in result["reason"]
    assert SECRET_PATH not in answer.text
    listed = (await alice_client.get("/api/notifications/channels")).json()["data"][0]
    assert listed["lastStatus"] == "failed" and "503" in listed["lastError"]


async def test_settings_allow_private_hosts_is_off_by_default() -> None:
    assert Settings(_env_file=None).notifications_allow_private_hosts is False


async def test_a_failing_channel_puts_no_part_of_its_url_in_the_logs(
    alice_client: httpx.AsyncClient, webhook: HttpReceiver
) -> None:
    # A handler on the root logger, as configure_logging installs, at DEBUG (the most
    # an operator can ask for); pytest's own capture handlers are not the app's.
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        channel = (await add(alice_client, url=json_url(webhook))).json()["data"]
        webhook.answer = 503
        answer = await alice_client.post(f"/api/notifications/channels/{channel['id']}/test")
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
    assert answer.json()["data"]["ok"] is False
    assert "503" in answer.json()["data"]["reason"]  # the reason still reaches the user
    assert "notification" in written.getvalue()  # the request was logged...
    assert SECRET_PATH not in written.getvalue()  # ...without the channel's secret path


async def test_a_sixth_test_within_a_minute_is_refused_and_sends_nothing(
    alice_client: httpx.AsyncClient, bob_client: httpx.AsyncClient, webhook: HttpReceiver
) -> None:
    # Before: every press sent at once, so a user pressing "test" on channels whose host
    # trickles its answer could keep all the Apprise send threads busy.
    channel = (await add(alice_client, url=json_url(webhook))).json()["data"]
    test_url = f"/api/notifications/channels/{channel['id']}/test"
    for _ in range(channels.TESTS_PER_MINUTE):
        assert (await alice_client.post(test_url)).json()["data"]["ok"] is True
    assert len(await webhook.wait_for(channels.TESTS_PER_MINUTE)) == 5

    refused = await alice_client.post(test_url)
    assert refused.status_code == 429, refused.text
    error = refused.json()["error"]
    assert error["code"] == "RATE_LIMIT_EXCEEDED"
    assert error["message"] == channels.TESTS_LIMITED_MESSAGE
    assert error["details"]["limit"] == 5 and error["details"]["window"] == 60
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # The send happens within the answer: none was made for the refused press.
    assert len(webhook.received) == 5
    listed = (await alice_client.get("/api/notifications/channels")).json()["data"][0]
    assert listed["lastStatus"] == "ok"

    # Per user: bob's tests are his own count.
    bobs = (await add(bob_client, url=json_url(webhook, "bob-hook"))).json()["data"]
    tested = await bob_client.post(f"/api/notifications/channels/{bobs['id']}/test")
    assert tested.json()["data"]["ok"] is True
    assert len(await webhook.wait_for(6)) == 6


async def test_a_new_channel_hears_removals_by_default_as_it_hears_declines(
    alice_client: httpx.AsyncClient, webhook: HttpReceiver
) -> None:
    """Both say "this request will not come": the API's default events and the page's
    ticked boxes hold both (channels from before `request.removed` get it in nr_1)."""
    made = await add(alice_client, url=json_url(webhook))
    assert made.status_code == 201, made.text
    assert {"request.declined", "request.removed"} <= set(made.json()["data"]["events"])
    page = await alice_client.get("/notifications")
    for event in ("request.declined", "request.removed"):
        assert f'name="events" value="{event}" checked>' in page.text
