"""The dashboard in the browser: service cards that change live over Socket.IO."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from medianest.auth.cookies import CSRF_COOKIE, REMEMBER_COOKIE
from medianest_simulators.suite import SimulatorSuite
from medianest_simulators.uptime_kuma_socket import KUMA_VERSION
from tests.e2e.flows import (
    AdminAccount,
    shoot,
    sign_in_admin,
    sign_in_plex_user,
)
from tests.support.servers import ServedApp

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


def test_an_admin_switches_uptime_kuma_to_live_and_a_monitor_going_down_shows_at_once(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite, screenshots: Path
) -> None:
    context = new_context()
    sign_in_admin(context, admin_account)
    admin = context.new_page()
    admin.goto("/admin#services")
    form = admin.locator("[data-service-form=uptime_kuma]")
    form.get_by_label("Source").select_option("socket")
    form.get_by_label("Kuma username").fill("admin")
    form.get_by_label("Kuma password").fill("admin123")
    form.get_by_role("button", name="Test Uptime Kuma").click()
    result = form.locator("[data-test-status]")
    expect(result).to_have_attribute("data-test-status", "online")
    expect(result).to_contain_text(re.compile(rf"version {re.escape(KUMA_VERSION)} · \d+ monitors"))
    form.get_by_role("button", name="Save Uptime Kuma").click()
    expect(
        admin.locator("[data-service-form=uptime_kuma]").get_by_label("Kuma password")
    ).to_have_attribute("placeholder", re.compile("saved"))
    shoot(admin, screenshots, "admin-kuma-live")
    try:
        page = context.new_page()
        page.goto("/dashboard")
        card = page.locator('[data-service="uptime_kuma"]')
        expect(card.locator('[data-field="source-label"]')).to_have_text("Live", timeout=15_000)
        # The card says the server's link is live; the page's own socket must be too (on a
        # loaded machine it connects after the page has rendered) before a push can reach it.
        expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15_000)
        simulators.uptime_kuma.set_monitor("Website", up=False)
        expect(
            card.locator('[data-field="monitors"] li').filter(has_text="Website")
        ).to_contain_text("down", timeout=5_000)  # (pushed: "Live" above says the source)
        shoot(page, screenshots, "dashboard-kuma-live")
    finally:
        simulators.uptime_kuma.set_monitor("Website", up=True)
        admin.goto("/admin#services")
        form = admin.locator("[data-service-form=uptime_kuma]")
        form.get_by_label("Source").select_option("")
        form.get_by_role("button", name="Save Uptime Kuma").click()
        expect(admin.locator("[data-service-form=uptime_kuma] .badge").first).to_be_visible()


def test_a_user_made_an_administrator_with_the_page_open_stays_live(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite
) -> None:
    context = new_context()
    sign_in_plex_user(context, simulators.info.plex_tv_url, "fern")
    page = context.new_page()
    page.goto("/dashboard")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    first_socket = page.evaluate("window.MediaNest.socket.id")
    admin = new_context()
    sign_in_admin(admin, admin_account)
    fern = next(
        u
        for u in admin.request.get("/api/admin/users?search=fern").json()["data"]
        if u["username"] == "fern"
    )
    csrf = next(c["value"] for c in admin.cookies() if c["name"] == "csrftoken")
    promoted = admin.request.put(
        f"/api/admin/users/{fern['id']}", data={"role": "admin"}, headers={"X-CSRF-Token": csrf}
    )
    assert promoted.ok, promoted.text()
    # The server closes the socket that came in as a plain user; the page comes back
    # with the new role instead of saying "Reconnecting…" for good.
    page.wait_for_function(
        "id => window.MediaNest.socket.connected && window.MediaNest.socket.id !== id",
        arg=first_socket,
    )
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator("#conn")).to_have_text("Live")


def test_a_page_whose_session_ran_out_comes_back_live_through_remember_me(
    new_context: Any, admin_account: AdminAccount, served: ServedApp
) -> None:
    context = new_context()
    signed_in = context.request.post(
        "/api/auth/admin",
        data={
            "username": admin_account.username,
            "password": admin_account.password,
            "rememberMe": True,
        },
    )
    assert signed_in.ok, signed_in.text()
    page = context.new_page()
    page.goto("/dashboard")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    first_socket = page.evaluate("window.MediaNest.socket.id")
    # The session ends while the browser's remember-me token stands, as at its idle
    # limit or lifetime: here a client holding only the session cookie signs it out.
    kept = {c["name"]: c["value"] for c in context.cookies() if c["name"] != REMEMBER_COOKIE}
    other = new_context()
    other.add_cookies([{"name": k, "value": v, "url": served.url} for k, v in kept.items()])
    ended = other.request.post("/api/auth/logout", headers={"X-CSRF-Token": kept[CSRF_COOKIE]})
    assert ended.ok, ended.text()
    # The socket is dropped and refused; the page's request signs it in again by its
    # remember-me cookie, and the socket comes back with the new session (before: the
    # page stayed "Offline" until reloaded).
    page.wait_for_function(
        "id => window.MediaNest.socket.connected && window.MediaNest.socket.id !== id",
        arg=first_socket,
    )
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    assert page.url.endswith("/dashboard")
