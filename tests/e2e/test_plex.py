"""Browsing Plex in the browser: library tabs, a paged poster grid, collections."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from medianest_simulators.suite import SimulatorSuite
from tests.e2e.flows import (
    AdminAccount,
    shoot,
    sign_in_admin,
    sign_in_plex_user,
)

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


def test_the_filter_is_live_and_items_open_in_the_plex_web_app(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite, screenshots: Path
) -> None:
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/plex?library=1")
    expect(page.get_by_role("button", name="Apply")).to_have_count(0)
    page.get_by_label("Title contains").fill("Sintel")
    # No button: the list follows the typing, and the address keeps the filter.
    cards = page.locator("#plex-items .poster-card")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Sintel")
    expect(page).to_have_url(re.compile(r"search=Sintel"))
    link = cards.first.get_by_role("link", name=re.compile("Open in Plex"))
    machine = simulators.info.plex_machine_identifier
    expect(link).to_have_attribute(
        "href",
        re.compile(
            re.escape(f"{simulators.info.plex_url}/web/index.html#!/server/{machine}/details?key=")
            + r"%2Flibrary%2Fmetadata%2F\d+$"
        ),
    )
    expect(link).to_have_attribute("target", "_blank")
    shoot(page, screenshots, "plex-live-filter")

    page.goto("/dashboard")
    card = page.locator('[data-service="plex"]')
    expect(card.get_by_role("link", name=re.compile("Open Plex"))).to_have_attribute(
        "href", f"{simulators.info.plex_url}/web/index.html"
    )
    kuma = page.locator('[data-service="uptime_kuma"]')
    expect(kuma.get_by_role("link", name=re.compile("Open Uptime Kuma"))).to_have_attribute(
        "href", f"{simulators.info.uptime_kuma_url}/dashboard"
    )
    overseerr = page.locator('[data-service="overseerr"]')
    expect(overseerr.get_by_role("link", name=re.compile("Open Overseerr"))).to_have_attribute(
        "href", f"{simulators.info.overseerr_url}/"
    )
    # Each link leads to a page (the demo's simulators stand in for the real ones).
    for service in ("plex", "overseerr", "uptime_kuma"):
        href = page.locator(f'[data-service="{service}"] footer a').get_attribute("href")
        assert href is not None
        answer = context.request.get(href)
        assert answer.ok and "<h1>" in answer.text(), (service, href, answer.status)


def test_the_browser_decodes_a_list_in_its_envelope_compressed_once_and_sent_again(
    new_context: Any, admin_account: AdminAccount
) -> None:
    """Chromium's own network stack reads what core/compression.py writes by hand: the
    list's shared part deflated once, the envelope's time in a stored block after it."""
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/plex")
    answers = page.evaluate(
        """async () => {
            const answers = [];
            for (const round of [1, 2, 3]) {
                const answer = await fetch('/api/plex/library/1/items', {cache: 'no-store'});
                answers.push({
                    encoding: answer.headers.get('content-encoding'),
                    body: await answer.json(),
                });
            }
            return answers;
        }"""
    )
    assert [answer["encoding"] for answer in answers] == ["gzip"] * 3
    bodies = [answer["body"] for answer in answers]
    assert all(body["success"] for body in bodies)
    assert len(bodies[0]["data"]) >= 8
    assert bodies[1]["data"] == bodies[2]["data"] == bodies[0]["data"]
    assert len({body["meta"]["timestamp"] for body in bodies}) == 3


def test_the_posters_of_library_pages_do_not_use_up_a_persons_requests(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite
) -> None:
    admin = new_context()
    sign_in_admin(admin, admin_account)
    csrf = {"X-CSRF-Token": next(c["value"] for c in admin.cookies() if c["name"] == "csrftoken")}
    # A budget a few library pages (with a poster a request) would use up: the package's
    # own (10,000 a minute) hides it.
    lowered = admin.request.put("/api/admin/config", data={"apiPerMinute": 20}, headers=csrf)
    assert lowered.ok, lowered.text()
    try:
        context = new_context(viewport={"width": 1366, "height": 3000})  # every poster shows
        sign_in_plex_user(context, simulators.info.plex_tv_url, "hana")
        page = context.new_page()
        # Each library page shows other posters: none comes from the browser's cache.
        context.new_cdp_session(page).send("Network.setCacheDisabled", {"cacheDisabled": True})
        posters: list[int] = []
        page.on(
            "response",
            lambda r: posters.append(r.status) if "/api/plex/image" in r.url else None,
        )
        for library in (1, 2, 1, 2):
            page.goto(f"/plex?library={library}")
            expect(page.locator("#plex-items .poster-card").first).to_be_visible()
            page.wait_for_load_state("networkidle")
        assert len(posters) > 20 and set(posters) <= {200, 304}, posters
    finally:
        restored = admin.request.put(
            "/api/admin/config", data={"apiPerMinute": 10_000}, headers=csrf
        )
        assert restored.ok, restored.text()
