"""The dashboard in the browser: service cards that change live over Socket.IO."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from medianest.simulators.suite import SimulatorSuite
from tests.e2e.flows import AdminAccount, shoot, sign_in_admin

pytestmark = pytest.mark.e2e


def test_the_dashboard_shows_a_service_going_offline_and_back_without_a_reload(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite, screenshots: Path
) -> None:
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/dashboard")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    card = page.locator('[data-service="overseerr"]')
    expect(card).to_have_attribute("data-status", "online", timeout=10_000)
    shoot(page, screenshots, "dashboard")
    page.emulate_media(color_scheme="dark")
    shoot(page, screenshots, "dashboard-dark")
    page.emulate_media(color_scheme="light")
    simulators.overseerr.set_fault("error")
    try:
        expect(card).to_have_attribute("data-status", "offline", timeout=10_000)
        expect(card.locator(".status-label")).to_have_text("Offline")
        expect(page.locator(".toast").filter(has_text="Overseerr is offline")).to_be_visible()
        shoot(page, screenshots, "dashboard-service-offline")
    finally:
        simulators.overseerr.clear_fault()
    expect(card).to_have_attribute("data-status", "online", timeout=15_000)
