"""Browsing Plex in the browser: library tabs, a paged poster grid, collections."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.flows import AdminAccount, shoot, sign_in_admin

pytestmark = pytest.mark.e2e


def test_a_user_pages_through_a_library_and_opens_a_collection(
    new_context: Any, admin_account: AdminAccount, screenshots: Path
) -> None:
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/plex")
    tabs = page.get_by_role("navigation", name="Libraries")
    expect(tabs.get_by_role("link", name="Movies")).to_have_attribute("aria-current", "page")
    grid = page.locator("#items-title + ul .poster-card")
    expect(grid).to_have_count(8)
    # Posters come through our proxy (the Plex token never reaches the browser).
    poster = page.locator("#items-title + ul img.poster-img").first
    expect(poster).to_have_attribute("src", re.compile(r"^/api/plex/image\?path="))
    poster.scroll_into_view_if_needed()
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=poster.element_handle()
    )
    shoot(page, screenshots, "plex")

    page.goto("/plex?library=1&pageSize=3")
    expect(page.get_by_text("Page 1 of 3")).to_be_visible()
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_text("Page 2 of 3")).to_be_visible()
    expect(grid).to_have_count(3)

    page.get_by_role("link", name="Blender Open Movies").first.click()
    expect(page.get_by_role("heading", name="Blender Open Movies")).to_be_visible()
    expect(page.locator(".poster-card")).to_have_count(4)
    shoot(page, screenshots, "plex-collection")
