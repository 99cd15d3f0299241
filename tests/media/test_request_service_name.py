"""The request service is called what it calls itself: a Seerr household reads "Seerr",
one whose admin renamed Overseerr ("Application Title") reads that name, on the
dashboard, the media page, a refusal and a notification. The name is learned from its
public settings (`GET /api/v1/settings/public` `applicationTitle`) by the status check;
a hostile title is shown as capped plain text; a settings route that does not answer
leaves "Overseerr". Real sockets to the Overseerr simulator, the real status monitor."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.dashboard.monitor import StatusMonitor
from medianest.integrations.service_names import MAX_NAME_CHARS
from medianest.media import sync
from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator
from medianest_simulators.overseerr_data import API_KEY, AUTO_APPROVE_TV
from medianest_simulators.overseerr_data import User as OverseerrUser
from tests.factories.users import signed_in_client

SPRITE_FRIGHT = 400007
PUBLIC_SETTINGS = "/api/v1/settings/public"
HTML = {"Accept": "text/html"}
CARD_TITLE = re.compile(r'<h2 id="svc-overseerr">(.*?)</h2>', re.S)


async def checked(app: MediaNestApp) -> dict[str, object]:
    """One round of the status monitor for Overseerr (what runs every interval)."""
    entries = await StatusMonitor(app.ctx).check(["overseerr"])
    entry = next(e for e in entries if e.service == "overseerr")
    return {"status": entry.status, "error": entry.error}


async def card_title(client: httpx.AsyncClient) -> str:
    page = await client.get("/dashboard", headers=HTML)
    assert page.status_code == 200, page.text
    found = CARD_TITLE.search(page.text)
    assert found is not None
    return found.group(1)


async def media_page(client: httpx.AsyncClient) -> str:
    page = await client.get("/media", headers=HTML)
    assert page.status_code == 200, page.text
    return page.text


async def test_a_seerr_is_called_seerr_on_the_dashboard_and_the_media_page(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    overseerr_sim.behave_as_seerr()  # a new Seerr: its default title
    assert (await checked(app))["status"] == "online"
    assert await card_title(alice_client) == "Seerr"
    page = await media_page(alice_client)
    assert 'data-busy-text="Searching Seerr…"' in page
    assert "Overseerr" not in page


async def test_a_renamed_overseerr_is_called_by_its_name_in_a_refusal(
    app: MediaNestApp,
    alice: User,
    alice_in_overseerr: OverseerrUser,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    overseerr_sim.set_application_title("Family Requests")
    await checked(app)
    assert await card_title(alice_client) == "Family Requests"
    overseerr_sim.set_permissions(alice_in_overseerr.id, AUTO_APPROVE_TV)  # no REQUEST
    answer = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
    )
    assert answer.status_code == 403, answer.text
    error = answer.json()["error"]
    assert error["code"] == "PERMISSION_DENIED"  # the codes stay as they are
    assert error["message"] == (
        "Family Requests refused the request: You do not have permission to make movie requests."
    )


async def test_a_request_removed_in_a_renamed_overseerr_is_told_with_its_name(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    overseerr_sim.set_application_title("Family Requests")
    await checked(app)
    made = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
    )
    assert made.status_code == 201, made.text
    overseerr_id = made.json()["data"]["overseerrId"]
    async with httpx.AsyncClient(base_url=overseerr_sim.url, headers={"X-Api-Key": API_KEY}) as h:
        assert (await h.delete(f"/api/v1/request/{overseerr_id}")).status_code == 204
    assert await sync.reconcile(app.ctx) == 1
    told = (await alice_client.get("/api/notifications")).json()["data"]["items"]
    assert [item["title"] for item in told] == ["“Sprite Fright” was removed in Family Requests"]


async def test_a_hostile_title_is_shown_as_short_escaped_plain_text(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    hostile = (
        '<script>alert("x")</script>\x00\x1b[31m\u202eRequests\r\n<img src=x onerror=1>'
        + "A" * 10_000
    )
    overseerr_sim.set_application_title(hostile)
    assert (await checked(app))["status"] == "online"
    shown = await card_title(alice_client)
    assert shown.startswith("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
    plain = html.unescape(shown)
    assert len(plain) <= MAX_NAME_CHARS and plain.endswith("…")
    assert not any(ord(ch) < 32 or ch == "\u202e" for ch in plain)
    page = await media_page(alice_client)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "A" * MAX_NAME_CHARS not in page


@pytest.mark.parametrize("fault", ["hang", "error"])
async def test_an_overseerr_whose_settings_route_does_not_answer_stays_overseerr_and_online(
    app: MediaNestApp,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
    fault: str,
) -> None:
    overseerr_sim.set_application_title("Family Requests")
    overseerr_sim.set_fault(fault, path_prefix=PUBLIC_SETTINGS)
    assert await checked(app) == {"status": "online", "error": None}
    assert overseerr_sim.request_count(PUBLIC_SETTINGS, "GET") >= 1  # it was asked
    assert await card_title(alice_client) == "Overseerr"
    assert "Searching Overseerr…" in await media_page(alice_client)


async def test_seerrs_refusals_name_seerr_and_keep_their_codes(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    """A title TMDB does not know, then "Enable CSRF Protection" on (Seerr: Settings →
    Network): each message names Seerr, each code is the one the API documents."""
    overseerr_sim.behave_as_seerr()
    await checked(app)
    unknown = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": 123456789}
    )
    assert unknown.status_code == 404, unknown.text
    error = unknown.json()["error"]
    assert error["code"] == "NOT_FOUND"
    assert error["message"].startswith("Seerr could not retrieve the movie with TMDB id")
    overseerr_sim.set_csrf_protection(True)
    blocked = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
    )
    assert blocked.status_code == 503, blocked.text
    error = blocked.json()["error"]
    assert error["code"] == "OVERSEERR_WRITES_BLOCKED"
    assert error["message"].startswith("Seerr is blocking requests from other apps")
    assert "Overseerr" not in error["message"]


async def test_another_instance_calls_it_by_the_name_the_checking_one_learned(
    app: MediaNestApp,
    app_factory: Callable[..., Any],
    settings: Settings,
    alice: User,
    backend: str,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """Only the instance holding the monitor's lease checks; the others read the name it
    learned from the shared cache (Redis), within a few seconds, without checking."""
    if backend != "postgres":
        pytest.skip("instances share the name through Redis (the postgres backend)")
    other: MediaNestApp = await app_factory(settings)
    async with await signed_in_client(other, alice) as elsewhere:
        assert await card_title(elsewhere) == "Overseerr"
        overseerr_sim.behave_as_seerr()
        await checked(app)
        deadline = time.monotonic() + 8.0
        while (shown := await card_title(elsewhere)) != "Seerr" and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert shown == "Seerr"
    assert overseerr_sim.request_count(PUBLIC_SETTINGS, "GET") == 1  # asked by one only


async def test_the_admin_pages_call_a_renamed_overseerr_by_its_name(
    app: MediaNestApp, admin_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    overseerr_sim.set_application_title("Family Requests")
    await checked(app)
    page = await admin_client.get("/admin", headers=HTML)
    assert page.status_code == 200, page.text
    assert '<h2 id="webhook-title">Family Requests webhook</h2>' in page.text
    assert "Send test from Family Requests" in page.text
    assert "Overseerr" not in re.sub(r"<[^>]*>", " ", page.text)  # the words, not the markup


async def test_the_notification_choices_call_a_renamed_overseerr_by_its_name(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    """The channel form, a channel's row and the centre's settings list the events by
    their words: "removed in" names the service as the household knows it."""
    overseerr_sim.set_application_title("Family Requests")
    await checked(app)
    made = await alice_client.post(
        "/api/notifications/channels",
        json={"url": "ntfy://ntfy.sh/alice-only", "events": ["request.removed"]},
    )
    assert made.status_code == 201, made.text
    page = await alice_client.get("/notifications", headers=HTML)
    assert page.status_code == 200, page.text
    assert page.text.count("A request of mine was removed in Family Requests") == 3
    assert "Overseerr" not in re.sub(r"<[^>]*>", " ", page.text)


async def test_the_admin_user_row_calls_a_renamed_overseerr_by_its_name(
    app: MediaNestApp,
    admin_client: httpx.AsyncClient,
    alice: User,
    alice_in_overseerr: OverseerrUser,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """Linking a user: the toast says which Family Requests user; a bad id's hint says
    where Family Requests shows it."""
    overseerr_sim.set_application_title("Family Requests")
    await checked(app)
    hx = {"HX-Request": "true", **HTML}
    linked = await admin_client.put(
        f"/admin/users/{alice.id}",
        data={"overseerr_user_id": str(alice_in_overseerr.id)},
        headers=hx,
    )
    assert linked.status_code == 200, linked.text
    toast = json.loads(linked.headers["HX-Trigger"])["toast"]["message"]
    assert toast == f"alice: Family Requests user is now {alice_in_overseerr.id}."
    refused = await admin_client.put(
        f"/admin/users/{alice.id}", data={"overseerr_user_id": "0"}, headers=hx
    )
    assert refused.status_code == 422, refused.text
    words = html.unescape(re.sub(r"<[^>]*>", " ", refused.text))
    assert "The Family Requests user id is the number in the user's address in Family" in words
    assert "Overseerr" not in words + refused.headers.get("HX-Trigger", "")


async def test_a_check_of_the_old_server_ending_after_a_move_does_not_rename_the_new_one(
    app: MediaNestApp,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """The old server's check is waiting for its title when the admin saves a Seerr's
    URL and the Seerr is checked: when the old answer comes, the Seerr keeps its name."""
    overseerr_sim.set_application_title("Requests")
    overseerr_sim.hold_requests(PUBLIC_SETTINGS, "GET", times=1)
    old_check = asyncio.create_task(checked(app))
    deadline = time.monotonic() + 10.0
    while overseerr_sim.request_count(PUBLIC_SETTINGS, "GET") < 1:
        assert time.monotonic() < deadline, "the old server's check never asked for its title"
        await asyncio.sleep(0.02)
    with OverseerrSimulator() as seerr:
        seerr.behave_as_seerr()
        moved = await admin_client.put(
            "/api/admin/services/overseerr",
            json={"url": seerr.url, "apiKey": API_KEY, "enabled": True},
        )
        assert moved.status_code == 200, moved.text
        await checked(app)
        assert await card_title(alice_client) == "Seerr"
        overseerr_sim.release_requests()
        await old_check
        assert await card_title(alice_client) == "Seerr"
