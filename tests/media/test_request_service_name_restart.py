"""The request service's own name survives a restart: a household that renamed Overseerr
"Requests" (Settings → General → "Application Title") reads "Requests" on the first page
a restarted MediaNest serves, before any status check ran, with Redis and without (a
new app instance on the same database). The name is stored when it changes, not at each
check, and belongs to the server it was learned of: pointed at another server (a Seerr),
the old server's name is never shown again, here or after a restart. Real sockets to the
Overseerr simulators, the real status monitor's check."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.integrations.service_names import MAX_NAME_CHARS, server_of
from medianest.integrations.service_store import SERVICE_NAMES_KEY
from medianest.platform import stored_settings
from medianest.platform.models import SystemSetting
from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator
from medianest_simulators.overseerr_data import API_KEY
from tests.factories.users import signed_in_client
from tests.media.test_request_service_name import (
    PUBLIC_SETTINGS,
    card_title,
    checked,
    media_page,
)


@pytest.fixture(params=["without Redis", "with Redis"])
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """Each test twice: the instances share no cache (each its own memory), then Redis."""
    if request.param == "without Redis":
        return settings.model_copy(update={"redis_url": None})
    if settings.redis_url is None:
        pytest.skip("Redis runs beside the postgres backend")
    return settings


async def first_page_title(app: MediaNestApp, user: User) -> str:
    async with await signed_in_client(app, user) as browser:
        return await card_title(browser)


async def test_a_restarted_instance_says_the_households_name_on_its_first_page(
    app: MediaNestApp,
    app_factory: Callable[..., Any],
    settings: Settings,
    alice: User,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    overseerr_sim.set_application_title("Requests")
    assert (await checked(app))["status"] == "online"
    assert await card_title(alice_client) == "Requests"
    asked = overseerr_sim.request_count(PUBLIC_SETTINGS, "GET")
    restarted: MediaNestApp = await app_factory(settings)
    async with await signed_in_client(restarted, alice) as browser:
        assert await card_title(browser) == "Requests"
        assert 'data-busy-text="Searching Requests…"' in await media_page(browser)
    assert overseerr_sim.request_count(PUBLIC_SETTINGS, "GET") == asked  # no check ran


async def test_the_name_is_stored_when_it_changes_not_at_every_check(
    app: MediaNestApp, overseerr_sim: OverseerrSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[Any] = []
    save = stored_settings.save

    async def counted(session: AsyncSession, key: str, value: Any) -> None:
        if key == SERVICE_NAMES_KEY:
            written.append(value)
        await save(session, key, value)

    monkeypatch.setattr(stored_settings, "save", counted)
    overseerr_sim.set_application_title("Requests")
    for _ in range(3):
        await checked(app)
    overseerr_sim.set_application_title("Family Requests")
    for _ in range(2):
        await checked(app)
    assert [value["overseerr"]["name"] for value in written] == ["Requests", "Family Requests"]
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.get(SystemSetting, SERVICE_NAMES_KEY)
        assert row is not None and row.value["overseerr"]["name"] == "Family Requests"
        assert overseerr_sim.url not in str(row.value)  # the server as a digest only


async def test_pointed_at_another_server_the_name_follows_that_server(
    app: MediaNestApp,
    app_factory: Callable[..., Any],
    settings: Settings,
    alice: User,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """The admin moves from a renamed Overseerr to a new Seerr: until the Seerr is
    checked the service is "Overseerr" (never the old server's "Requests"), here and after
    a restart; once checked, "Seerr", and a restart keeps "Seerr"."""
    overseerr_sim.set_application_title("Requests")
    await checked(app)
    assert await card_title(alice_client) == "Requests"
    with OverseerrSimulator() as seerr:
        seerr.behave_as_seerr()
        moved = await admin_client.put(
            "/api/admin/services/overseerr",
            json={"url": seerr.url, "apiKey": API_KEY, "enabled": True},
        )
        assert moved.status_code == 200, moved.text
        assert await card_title(alice_client) == "Overseerr"
        assert await first_page_title(await app_factory(settings), alice) == "Overseerr"
        assert (await checked(app))["status"] == "online"
        assert seerr.request_count(PUBLIC_SETTINGS, "GET") == 1
        assert await card_title(alice_client) == "Seerr"
        assert await first_page_title(await app_factory(settings), alice) == "Seerr"


async def test_two_instances_learning_the_name_at_once_both_keep_it(
    app: MediaNestApp,
    app_factory: Callable[..., Any],
    settings: Settings,
    alice: User,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """Two instances check at the same moment (one's monitor, the other's Test button):
    both store the first name (one insert wins); neither check fails; a restart has it."""
    other: MediaNestApp = await app_factory(settings)
    overseerr_sim.set_application_title("Requests")
    outcomes = await asyncio.gather(checked(app), checked(other))
    assert [outcome["status"] for outcome in outcomes] == ["online", "online"]
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.get(SystemSetting, SERVICE_NAMES_KEY)
        assert row is not None and row.value["overseerr"]["name"] == "Requests"
    assert await first_page_title(await app_factory(settings), alice) == "Requests"


async def test_a_hand_edited_stored_name_is_shown_as_short_plain_text(
    app: MediaNestApp,
    app_factory: Callable[..., Any],
    settings: Settings,
    alice: User,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """The row is data like the title it came from: a hostile name is capped and escaped;
    a value of another layout is logged and the usual name applies; the app starts."""
    hostile = '<script>alert("x")</script>\u202e\x1b[31m' + "A" * 500
    async with session_scope(app.ctx.session_factory) as session:
        await stored_settings.save(
            session,
            SERVICE_NAMES_KEY,
            {"overseerr": {"name": hostile, "server": server_of(overseerr_sim.url)}},
        )
    shown = await first_page_title(await app_factory(settings), alice)
    assert shown.startswith("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
    plain = html.unescape(shown)
    assert len(plain) <= MAX_NAME_CHARS and not any(ord(c) < 32 or c == "\u202e" for c in plain)
    async with session_scope(app.ctx.session_factory) as session:
        await stored_settings.save(session, SERVICE_NAMES_KEY, ["not", "names"])
    assert await first_page_title(await app_factory(settings), alice) == "Overseerr"
