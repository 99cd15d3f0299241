"""The account page in the browser: signing out of the other devices, creating an API
token."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from medianest_simulators.suite import SimulatorSuite
from tests.e2e.flows import (
    DESKTOP,
    PHONE,
    AdminAccount,
    chromium_form_diagnostics,
    shoot,
    sign_in_admin,
    sign_in_plex_user,
)
from tests.e2e.test_accessibility import serious_violations
from tests.support.servers import ServedApp

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


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_creating_an_api_token_shows_it_once_copies_it_and_keeps_it_out_of_every_address(
    new_context: Any,
    simulators: SimulatorSuite,
    screenshots: Path,
    served: ServedApp,
    viewport: str,
) -> None:
    context = new_context(viewport=DESKTOP if viewport == "desktop" else PHONE)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served.url)
    sign_in_plex_user(context, simulators.info.plex_tv_url, "lena")
    page = context.new_page()
    addresses: list[str] = []
    page.on("request", lambda request: addresses.append(request.url))
    page.goto("/account")
    form = page.locator("#api-token-form")

    # An empty name is refused next to the field, as the API refuses it.
    form.get_by_role("button", name="Create token").click()
    expect(page.locator("#token-name-error")).to_have_text("Required.")
    expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")

    name = f"e2e {viewport} script"
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Expires after (days)").fill("30")
    page.locator("#api-token-form").get_by_role("button", name="Create token").click()
    box = page.locator("#new-api-token-box")
    expect(box).to_contain_text("It will not be shown again")
    field = page.get_by_label("New token")
    expect(field).to_have_value(re.compile(r"^mn_\S{20,}$"))
    expect(field).to_be_focused()
    token = field.input_value()
    expect(page.locator("#api-token-list")).to_contain_text(name)
    if viewport == "desktop":  # shoot() takes both widths
        shoot(page, screenshots, "account-api-token-created")

    box.get_by_role("button", name="Copy the new token").click()
    expect(page.locator(".toast")).to_contain_text(["Copied."])
    assert page.evaluate("navigator.clipboard.readText()") == token

    answer = httpx.get(
        f"{served.url}/api/auth/tokens", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200 and name in answer.text

    # Shown once: a reload lists it by name, never whole; no address ever carried it.
    page.reload()
    expect(page.locator("#api-token-list")).to_contain_text(name)
    expect(page.locator("#new-api-token-box")).to_have_count(0)
    assert token not in page.content()
    assert all(token not in address for address in [*addresses, page.url])
    assert page.evaluate("history.length") <= 2  # the form pushed no address


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_api_token_form_its_error_and_the_new_token_pass_axe(
    new_context: Any, simulators: SimulatorSuite, viewport: str
) -> None:
    # bypass_csp: axe is injected, which the app's strict CSP would rightly refuse (the
    # test above runs the form under the real CSP). Reduced motion: the toast's fade-in,
    # read half-way, would be a contrast finding of an instant.
    size = DESKTOP if viewport == "desktop" else PHONE
    context = new_context(bypass_csp=True, viewport=size, reduced_motion="reduce")
    sign_in_plex_user(context, simulators.info.plex_tv_url, "lena")
    page = context.new_page()
    page.goto("/account")
    form = page.locator("#api-token-form")
    page.get_by_label("Expires after (days)").fill("0")
    form.get_by_role("button", name="Create token").click()
    expect(page.locator("#token-name-error")).to_have_text("Required.")
    expect(page.locator("#token-expiry-error")).to_have_text("Enter 1 or more.")
    expect(page.get_by_label("Name", exact=True)).to_be_focused()
    assert serious_violations(page) == []
    page.get_by_label("Name", exact=True).fill(f"axe {viewport}")
    page.get_by_label("Expires after (days)").fill("")
    page.locator("#api-token-form").get_by_role("button", name="Create token").click()
    expect(page.get_by_label("New token")).to_have_value(re.compile(r"^mn_"))
    assert serious_violations(page) == []


def test_an_admin_changing_the_password_gives_password_managers_the_account_name(
    new_context: Any, admin_account: AdminAccount
) -> None:
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    diagnostics = chromium_form_diagnostics(page)
    page.goto("/account")
    form = page.locator("#change-password")
    expect(form.get_by_label("Current password")).to_be_visible()
    expect(form.locator('input[autocomplete="username"]')).to_have_value(admin_account.username)
    expect(form.locator('input[autocomplete="username"]')).to_be_hidden()
    page.reload()  # Chromium notes a form when the page is parsed: give it a second look
    expect(form.get_by_label("Current password")).to_be_visible()
    assert not [d for d in diagnostics if "username fields" in d], diagnostics
