"""The account page in the browser: signing out of the other devices."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from medianest_simulators.suite import SimulatorSuite
from tests.e2e.flows import shoot, sign_in_plex_user

pytestmark = pytest.mark.e2e


def test_signing_out_other_devices_sends_the_other_browser_to_sign_in_and_keeps_this_one(
    new_context: Any, simulators: SimulatorSuite, screenshots: Path
) -> None:
    plex_tv = simulators.info.plex_tv_url
    laptop, phone = new_context(), new_context()
    sign_in_plex_user(laptop, plex_tv, "jade")
    sign_in_plex_user(phone, plex_tv, "jade")
    on_phone = phone.new_page()
    on_phone.goto("/youtube")
    expect(on_phone.locator("#conn")).to_have_attribute("data-state", "live")

    page = laptop.new_page()
    page.goto("/dashboard")
    page.locator(".usermenu summary").click()
    page.get_by_role("link", name="Account and devices").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_text("1 other session is active.")).to_be_visible()
    expect(page.get_by_text("API tokens stay")).to_be_visible()
    page.get_by_role("button", name="Sign out of other devices").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("This browser stays signed in")
    dialog.get_by_role("button", name="Sign out other devices").click()
    expect(page.locator("#other-sessions-result")).to_have_text("Signed out of 1 other session.")
    shoot(page, screenshots, "account-signed-out-others")

    # The phone's open page loses its socket and goes to sign-in; the laptop stays.
    expect(on_phone).to_have_url(re.compile(r"/login\?next=/youtube$"))
    page.reload()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_text("No other session is active.")).to_be_visible()
