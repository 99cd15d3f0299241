"""Administration in the browser: role changes with confirmation, service tests, and the
403 page for people who are not administrators."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from medianest_simulators.plextv_models import MACHINE_IDENTIFIER
from medianest_simulators.suite import SimulatorSuite
from tests.e2e.flows import AdminAccount, shoot, sign_in_admin, sign_in_plex_user

pytestmark = pytest.mark.e2e


def test_an_admin_makes_a_user_an_administrator_after_confirming(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite, screenshots: Path
) -> None:
    sign_in_plex_user(new_context(), simulators.info.plex_tv_url, "bob")  # now bob exists
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/admin")
    row = page.locator("tr[data-username=bob]")
    role = row.get_by_label("Role of bob")
    expect(role).to_have_value("user")
    shoot(page, screenshots, "admin")

    role.select_option("admin")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Change the role of bob?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(role).to_have_value("user")

    role.select_option("admin")
    page.get_by_role("dialog").get_by_role("button", name="Change role").click()
    expect(page.locator(".toast").filter(has_text="bob: role is now admin")).to_be_visible()
    page.reload()
    expect(page.locator("tr[data-username=bob]").get_by_label("Role of bob")).to_have_value("admin")

    # Bob's requests are to be made in Overseerr as Overseerr's user 3 (his
    # account there; MediaNest asks Overseerr that it exists).
    overseerr = page.locator("tr[data-username=bob]").get_by_label("Overseerr user id of bob")
    if overseerr.input_value() != "":  # linked by his first request (same Plex account)
        overseerr.fill("")
        overseerr.press("Tab")
        toast = page.locator(".toast").filter(has_text="bob: Overseerr user is now not linked")
        expect(toast).to_be_visible()
        overseerr = page.locator("tr[data-username=bob]").get_by_label("Overseerr user id of bob")
    overseerr.fill("3")
    overseerr.press("Tab")  # leaving the field is the change
    expect(page.locator(".toast").filter(has_text="bob: Overseerr user is now 3")).to_be_visible()
    page.reload()
    expect(
        page.locator("tr[data-username=bob]").get_by_label("Overseerr user id of bob")
    ).to_have_value("3")


def test_a_status_change_confirmed_while_the_table_was_read_again_still_applies(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite
) -> None:
    """The table is read again (a search) while the question is open: the status chosen
    goes from the new row's status select, not the role select beside it, and not the
    value the new row was rendered with."""
    simulators.plextv.add_user("frank", email="frank@medianest.test")
    simulators.plextv.share_server("frank", MACHINE_IDENTIFIER, "sim-pms-frank-share-0042")
    # Just invited: plex.tv's list, read by an earlier sign-in, is asked again on a miss at
    # most every 10 s (auth/plex_sign_in/access.py), so he may have to try again.
    for attempt in range(8):
        try:
            sign_in_plex_user(new_context(), simulators.info.plex_tv_url, "frank")
            break
        except AssertionError:
            if attempt == 7:
                raise
            time.sleep(2)
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/admin")
    status = page.locator("tr[data-username=frank]").get_by_label("Status of frank")
    status.select_option("disabled")
    expect(page.get_by_role("dialog")).to_contain_text("Change the status of frank?")
    page.evaluate(
        """() => {
          window.selectBeforeSwap = document.querySelector('tr[data-username=frank] select[name=status]');
          htmx.ajax('GET', '/admin/users', {target: '#users-table'});
        }"""
    )
    page.wait_for_function("() => !document.body.contains(window.selectBeforeSwap)")
    page.get_by_role("dialog").get_by_role("button", name="Change status").click()
    expect(page.locator(".toast").filter(has_text="frank: status is now disabled")).to_be_visible()
    page.reload()
    row = page.locator("tr[data-username=frank]")
    expect(row.get_by_label("Status of frank")).to_have_value("disabled")
    expect(row.get_by_label("Role of frank")).to_have_value("user")


def test_an_admin_tests_a_service_and_sees_the_result_with_its_latency(
    new_context: Any, admin_account: AdminAccount, screenshots: Path
) -> None:
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/admin#services")
    form = page.locator("[data-service-form=overseerr]")
    expect(form.get_by_label("API key")).to_have_attribute("placeholder", re.compile("saved"))
    expect(form.get_by_label("API key")).to_have_value("")
    form.get_by_role("button", name="Test Overseerr").click()
    result = form.locator("[data-test-status]")
    expect(result).to_have_attribute("data-test-status", "online")
    expect(result).to_contain_text(re.compile(r"Reachable · \d+ ms"))

    form.get_by_label("URL").fill("ftp://nowhere")
    form.get_by_role("button", name="Save Overseerr").click()
    expect(page.locator("#overseerr-url-error")).to_contain_text("http:// or https://")
    # The refused field takes the keyboard once the answer settles (htmx's autofocus, 20 ms
    # after the swap): typing elsewhere before that sent the keys into it ("0ftp://...").
    expect(form.get_by_label("URL")).to_be_focused()
    shoot(page, screenshots, "admin-services")

    settings = page.locator("#settings-form")
    settings.get_by_label("Media requests per user per hour").fill("0")
    settings.get_by_role("button", name="Save system settings").click()
    expect(page.locator("#set-requestsPerHour-error")).not_to_be_empty()
    settings.get_by_label("Media requests per user per hour").fill("30")
    settings.get_by_role("button", name="Save system settings").click()
    expect(page.locator(".toast").filter(has_text="System settings saved")).to_be_visible()

    quotas = page.locator("#quotas-form")
    users = quotas.get_by_role("group", name="Users")
    users.get_by_label("YouTube items per day").fill("-3")
    quotas.get_by_role("button", name="Save quotas").click()
    expect(page.locator("#quota-user-youtubeItemsPerDay-error")).not_to_be_empty()
    page.locator("#quotas-form").get_by_role("group", name="Users").get_by_label(
        "YouTube items per day"
    ).fill("25")
    page.locator("#quotas-form").get_by_role("button", name="Save quotas").click()
    expect(page.locator(".toast").filter(has_text="Quotas saved")).to_be_visible()
    expect(page.locator("#quota-user-youtubeItemsPerDay")).to_have_value("25")
    expect(page.locator("#quota-admin-youtubeItemsPerDay")).to_have_value("")
    shoot(page, screenshots, "admin-quotas")


def test_a_user_who_is_not_an_administrator_gets_a_403_page_for_admin(
    new_context: Any, simulators: SimulatorSuite, screenshots: Path
) -> None:
    context = new_context()
    sign_in_plex_user(context, simulators.info.plex_tv_url, "alice")
    page = context.new_page()
    response = page.goto("/admin")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="You cannot open this page")).to_be_visible()
    shoot(page, screenshots, "forbidden")


def test_a_slow_connection_test_says_testing_then_warns_that_it_is_slow(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite, screenshots: Path
) -> None:
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/admin#services")
    form = page.locator("[data-service-form=overseerr]")
    simulators.overseerr.set_fault("slow", delay=2.2, path_prefix="/api/v1/status")
    try:
        button = form.get_by_role("button", name="Test Overseerr")
        button.click()
        busy = form.locator("[data-busy]")
        expect(busy).to_have_text("Testing Overseerr…")
        expect(button).to_be_disabled()
        shoot(page, screenshots, "admin-service-testing")
        result = form.locator("[data-test-status]")
        expect(result).to_have_attribute("data-test-status", "online", timeout=15_000)
        expect(busy).to_have_count(0)
        expect(button).to_be_enabled()
        expect(result.locator("[data-test-slow]")).to_contain_text("Slow: it took 2.")
        shoot(page, screenshots, "admin-service-slow")
    finally:
        simulators.overseerr.clear_fault()


def test_a_fraction_in_a_count_quota_is_refused_in_plain_words(
    new_context: Any, admin_account: AdminAccount
) -> None:
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/admin#quotas")
    quotas = page.locator("#quotas-form")
    quotas.get_by_role("group", name="Users").get_by_label("YouTube items per day").fill("2.5")
    quotas.get_by_role("button", name="Save quotas").click()
    expect(page.locator("#quota-user-youtubeItemsPerDay-error")).to_have_text(
        "Enter a whole number, like 3."
    )


def test_a_refused_admin_form_puts_the_keyboard_on_the_field_to_correct(
    new_context: Any, admin_account: AdminAccount
) -> None:
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/admin#settings")
    settings = page.locator("#settings-form")
    field = settings.get_by_label("API requests per user per minute")
    field.fill("0")
    settings.get_by_role("button", name=re.compile("Save")).focus()
    page.keyboard.press("Enter")
    # The form comes back in place of the one sent (the pressed button with it): the
    # keyboard goes on at the refused field, not at the top of the page.
    field = settings.get_by_label("API requests per user per minute")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_be_focused()
    services = page.locator("[data-service-form=overseerr]")
    url = services.get_by_label("URL")
    saved_url = url.input_value()
    url.fill("ftp://nowhere")
    services.get_by_role("button", name="Save Overseerr").focus()
    page.keyboard.press("Enter")
    expect(services.get_by_label("URL")).to_have_attribute("aria-invalid", "true")
    expect(services.get_by_label("URL")).to_be_focused()
    services.get_by_label("URL").fill(saved_url)
    services.get_by_role("button", name="Save Overseerr").click()
    expect(services.get_by_label("URL")).not_to_have_attribute("aria-invalid", "true")
