"""The request service's name is stored in the database when it changes
(integrations/service_names.py): a database whose host went silent must not hold the
check that learned it. The check answers, the name is used at once, and it is stored at
the first check after the database is back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from medianest.app import MediaNestApp
from medianest.db.engine import session_scope
from medianest.integrations.service_store import SERVICE_NAMES_KEY
from medianest.platform.models import SystemSetting
from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator
from medianest_simulators.overseerr_data import API_KEY
from tests.faults.support import TcpProxy


async def stored_name(app: MediaNestApp) -> object:
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.get(SystemSetting, SERVICE_NAMES_KEY)
        return row.value["overseerr"]["name"] if row is not None else None


@pytest.mark.timeout(90)
async def test_a_silent_database_does_not_hold_the_check_that_learned_a_new_name(
    proxied_pg_url: tuple[str, TcpProxy],
    make_settings: Callable[..., Settings],
    app_factory: Callable[[Settings], Any],
    overseerr: OverseerrSimulator,
) -> None:
    url, proxy = proxied_pg_url
    app: MediaNestApp = await app_factory(
        make_settings(database_url=url, overseerr_url=overseerr.url, overseerr_api_key=API_KEY)
    )
    integrations = app.ctx.integrations
    saved = integrations.configs()["overseerr"]
    overseerr.set_application_title("Requests")
    assert (await integrations.probe(saved)).status == "online"
    assert await stored_name(app) == "Requests"
    overseerr.set_application_title("Family Requests")
    await proxy.blackhole()
    try:
        health = await integrations.probe(saved)  # the admin's Test: answers, not stuck
        assert health.status == "online"
        assert integrations.display_name("overseerr") == "Family Requests"
    finally:
        await proxy.restore()
    assert (await integrations.probe(saved)).status == "online"
    assert await stored_name(app) == "Family Requests"
