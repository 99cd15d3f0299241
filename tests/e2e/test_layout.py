"""Layout at a desktop (1366 px) and a phone (390 px) width: nothing is cut off, the
service cards use the whole width, and a table wider than the phone says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from medianest_simulators.suite import SimulatorSuite
from tests.e2e.flows import (
    DESKTOP,
    PHONE,
    AdminAccount,
    screenshot,
    sign_in_admin,
    sign_in_plex_user,
)

pytestmark = pytest.mark.e2e

CUT_TEXT = """(selector) => [...document.querySelectorAll(selector)]
    .filter(el => el.scrollWidth > el.clientWidth + 1)
    .map(el => el.textContent.trim())"""


def cut_off(page: Page, selector: str) -> list[str]:
    found: list[str] = page.evaluate(CUT_TEXT, selector)
    return found


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_dashboard_tiles_and_labels_are_never_cut(
    new_context: Any, admin_account: AdminAccount, screenshots: Path, viewport: str
) -> None:
    size = DESKTOP if viewport == "desktop" else PHONE
    context = new_context(viewport=size)
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/dashboard")
    expect(page.locator('[data-service="plex"]')).to_have_attribute("data-status", "online")
    assert cut_off(page, ".stats dd, .stats dt, .status-label") == []
    labels = page.locator(".status-label")
    for index in range(labels.count()):  # one line each ("Not configured" does not wrap)
        box = labels.nth(index).bounding_box()
        assert box is not None and box["height"] < 30, labels.nth(index).inner_text()
    cards = page.locator("#service-cards")
    last = page.locator("#service-cards > *").last
    grid_box, last_box = cards.bounding_box(), last.bounding_box()
    assert grid_box is not None and last_box is not None
    # The cards share the whole row: the last one ends where the grid ends.
    assert abs((last_box["x"] + last_box["width"]) - (grid_box["x"] + grid_box["width"])) < 2
    screenshot(page, screenshots / f"layout-dashboard-{viewport}.png")


def test_the_users_table_on_a_phone_says_it_scrolls_sideways(
    new_context: Any, admin_account: AdminAccount, screenshots: Path
) -> None:
    context = new_context(viewport=PHONE)
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/admin#users")
    wrap = page.locator("#users-table .table-wrap")
    expect(wrap).to_be_visible()
    assert wrap.evaluate("el => el.scrollWidth > el.clientWidth")
    expect(page.locator("#users-scroll-hint")).to_be_visible()
    screenshot(page, screenshots / "layout-admin-users-phone.png")
    desktop = new_context(viewport=DESKTOP)
    sign_in_admin(desktop, admin_account)
    wide = desktop.new_page()
    wide.goto("/admin#users")
    expect(wide.locator("#users-scroll-hint")).to_be_hidden()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_section_link_shows_its_heading_below_the_sticky_top_bar(
    new_context: Any, admin_account: AdminAccount, viewport: str
) -> None:
    context = new_context(viewport=DESKTOP if viewport == "desktop" else PHONE)
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/admin")
    sections = page.get_by_role("navigation", name="Admin sections")
    for name in ("Services", "System settings", "Quotas"):
        sections.get_by_role("link", name=name).click()
        heading = page.get_by_role("heading", name=name, exact=True, level=2)
        expect(heading).to_be_in_viewport()
        bar, box = page.locator(".topbar").bounding_box(), heading.bounding_box()
        assert bar is not None and box is not None
        assert box["y"] >= bar["y"] + bar["height"], f"{name} is under the top bar"


def test_my_requests_fit_a_phone_without_a_column_cut_off(
    new_context: Any, simulators: SimulatorSuite
) -> None:
    context = new_context(viewport=PHONE, has_touch=True)
    sign_in_plex_user(context, simulators.info.plex_tv_url, "ivy")  # requests of her own
    found = context.request.get("/api/media/search?query=Chronicles").json()["data"]
    show = next(r for r in found if r["title"] == "The Loopback Chronicles")
    csrf = {"X-CSRF-Token": next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")}
    made = context.request.post(
        "/api/media/request",
        data={"mediaType": "tv", "tmdbId": show["tmdbId"], "seasons": [1]},
        headers=csrf,
    )
    assert made.ok, made.text()
    page = context.new_page()
    page.goto("/media")
    table = page.locator("#requests-list .table-wrap")
    expect(table.get_by_role("columnheader", name="Requested")).to_be_visible()
    # The columns fit a 390 px phone: "Requested" is not half hidden behind the edge.
    assert table.evaluate("el => el.scrollWidth <= el.clientWidth"), table.evaluate(
        "el => [el.scrollWidth, el.clientWidth]"
    )
