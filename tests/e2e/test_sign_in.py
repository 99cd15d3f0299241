"""Signing in through the browser: Plex PIN, password, forced change, redirects, error pages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from medianest_simulators.suite import SimulatorSuite
from tests.e2e.flows import AdminAccount, shoot, sign_in_plex_user, sign_in_with_plex

pytestmark = pytest.mark.e2e


def test_the_bootstrap_admin_must_choose_a_new_password_before_anything_else(
    admin_account: AdminAccount,
) -> None:
    assert admin_account.saw_forced_change
    assert admin_account.password != "admin"


def test_a_plex_user_signs_in_by_approving_the_pin_on_plex_tv(
    new_context: Any, screenshots: Path
) -> None:
    page = sign_in_with_plex(new_context(), "alice")
    expect(page.get_by_role("heading", name="Hello, alice")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Media")).to_be_visible()
    expect(nav.get_by_role("link", name="Admin")).to_have_count(0)


def test_the_sign_in_page_shows_the_code_the_wait_state_and_a_retry_after_expiry(
    new_context: Any, screenshots: Path
) -> None:
    page = new_context().new_page()
    page.goto("/login")
    page.get_by_role("button", name="Sign in with Plex").click()
    expect(page.get_by_test_id("pin-code")).not_to_be_empty()
    expect(page.get_by_text("The code expires in")).to_be_visible()
    shoot(page, screenshots, "login-plex-waiting")
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("button", name="Sign in with Plex")).to_be_visible()


def test_an_anonymous_visitor_is_sent_to_sign_in_and_returned_afterwards(
    new_context: Any, admin_account: AdminAccount
) -> None:
    page = new_context().new_page()
    page.goto("/youtube")
    expect(page).to_have_url(re.compile(r"/login\?next=/youtube$"))
    page.get_by_text("Sign in with a password", exact=True).click()
    page.get_by_label("Username").fill(admin_account.username)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator('[data-error-for="password"]')).to_contain_text(
        "Wrong username or password"
    )
    page.get_by_label("Password").fill(admin_account.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/youtube$"))


def test_an_unknown_address_shows_a_friendly_404_page(new_context: Any, screenshots: Path) -> None:
    page = new_context().new_page()
    response = page.goto("/no-such-page")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    shoot(page, screenshots, "not-found")


def test_after_sign_out_back_and_the_pages_fetches_show_nothing_of_the_previous_user(
    new_context: Any, simulators: SimulatorSuite
) -> None:
    context = new_context()
    sign_in_plex_user(context, simulators.info.plex_tv_url, "alice")
    page = context.new_page()
    page.goto("/dashboard")
    expect(page.get_by_role("heading", name="Hello, alice")).to_be_visible()
    page.goto("/youtube")
    expect(page.get_by_role("heading", name="YouTube downloads")).to_be_visible()
    fetched = """url => fetch(url, {headers: {'HX-Request': 'true'}, credentials: 'same-origin'})
        .then(r => r.status)"""
    # Kept by the browser to be revalidated (ETag, private, no-cache): the second time
    # the browser asks with the ETag it kept.
    assert page.evaluate(fetched, "/youtube/downloads") == 200
    with page.expect_request(re.compile(r"/youtube/downloads$")) as asked:
        assert page.evaluate(fetched, "/youtube/downloads") == 200
    assert asked.value.all_headers().get("if-none-match", "").startswith('W/"')

    page.locator(".usermenu summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"/login\?next=/youtube$"))
    expect(page.get_by_role("heading", name="YouTube downloads")).to_have_count(0)
    page.go_back()
    expect(page).to_have_url(re.compile(r"/login\?next=/dashboard$"))
    expect(page.get_by_role("heading", name="Hello, alice")).to_have_count(0)
    # The fragment the browser kept is revalidated and refused, not shown from the cache.
    assert page.evaluate(fetched, "/youtube/downloads") != 200


def test_signing_out_in_one_tab_sends_the_others_to_sign_in_at_once(
    new_context: Any, simulators: SimulatorSuite
) -> None:
    context = new_context()
    sign_in_plex_user(context, simulators.info.plex_tv_url, "alice")
    other = context.new_page()
    other.goto("/youtube")
    expect(other.locator("#conn")).to_have_attribute("data-state", "live")
    page = context.new_page()
    page.goto("/dashboard")
    page.locator(".usermenu summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    # The other tab, untouched, does not keep alice's downloads on screen.
    expect(other).to_have_url(re.compile(r"/login\?next=/youtube$"))
    expect(other.get_by_role("heading", name="YouTube downloads")).to_have_count(0)
