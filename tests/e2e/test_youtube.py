"""YouTube downloads in the browser: clear errors, live progress to 100 %."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from medianest_simulators.suite import SimulatorSuite
from tests.e2e.flows import AdminAccount, shoot, sign_in_admin

pytestmark = pytest.mark.e2e


def test_a_download_shows_live_progress_until_it_reaches_100_percent(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite, screenshots: Path
) -> None:
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/youtube")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    shoot(page, screenshots, "youtube")

    page.get_by_label("Playlist or video link").fill("https://example.com/not-youtube")
    page.get_by_role("button", name="Start download").click()
    error = page.locator("#yt-url-error")
    expect(error).not_to_be_empty()
    expect(page.get_by_label("Playlist or video link")).to_have_attribute("aria-invalid", "true")

    simulators.media.set_throttle(8_000)
    try:
        page.get_by_label("Playlist or video link").fill(simulators.info.feed_url)
        page.get_by_label("720p").check()
        page.get_by_role("button", name="Start download").click()
        expect(page.locator(".toast").filter(has_text="Download queued")).to_be_visible()
        row = page.locator("[data-download-id]").first
        expect(row).to_have_attribute("data-state", "downloading", timeout=15_000)
        bar = row.get_by_role("progressbar")
        expect(bar).not_to_have_attribute("aria-valuenow", "0", timeout=15_000)
        partial = int(bar.get_attribute("aria-valuenow") or 0)
        shoot(page, screenshots, "youtube-downloading")
    finally:
        simulators.media.set_throttle(None)
    expect(row).to_have_attribute("data-state", "completed", timeout=30_000)
    assert 0 < partial < 100, "the bar should have moved before it was full"
    expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(row.locator("[data-field=percent]")).to_have_text("100 %")
    shoot(page, screenshots, "youtube-completed")


def test_progress_never_goes_back_and_an_opened_item_list_stays_open(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite, screenshots: Path
) -> None:
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/youtube")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    # A playlist of its own: the default feed is already on disk from the test before,
    # and files already there skip the downloading phase this test watches.
    simulators.media.add_feed("e2e-progress", "Progress Watch", [])
    for title in ("Watch One", "Watch Two", "Watch Three"):
        simulators.media.add_item(title, feed="e2e-progress")
    simulators.media.set_throttle(20_000)
    try:
        page.get_by_label("Playlist or video link").fill(simulators.media.feed_url("e2e-progress"))
        page.get_by_role("button", name="Start download").click()
        row = page.locator("[data-download-id]").first
        expect(row).to_have_attribute("data-state", "downloading", timeout=15_000)
        row.locator("details summary").click()
        seen: list[int] = []
        for _ in range(400):
            state = row.get_attribute("data-state")
            seen.append(int(row.get_by_role("progressbar").get_attribute("aria-valuenow") or 0))
            if state in ("completed", "failed"):
                break
            page.wait_for_timeout(100)
    finally:
        simulators.media.set_throttle(None)
    expect(row).to_have_attribute("data-state", "completed", timeout=30_000)
    assert seen == sorted(seen), f"the bar went backwards: {seen}"
    # Several refreshes later (one per item, one at the end) the list is still open.
    expect(row.locator("details")).to_have_attribute("open", "")
    shoot(page, screenshots, "youtube-items-open")


def test_a_failed_link_says_what_happened_in_plain_words_with_the_details_folded(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite, screenshots: Path
) -> None:
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/youtube")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    page.get_by_label("Playlist or video link").fill(simulators.media.item_url("no-such-video"))
    page.get_by_role("button", name="Start download").click()
    row = page.locator("[data-download-id]").first
    expect(row).to_have_attribute("data-state", "failed", timeout=30_000)
    failure = row.locator("[data-field=failure]")
    expect(failure.locator("p")).to_have_text(re.compile(r"^The (link leads nowhere|site)"))
    detail = failure.locator("details")
    expect(detail).not_to_have_attribute("open", "")
    expect(detail.locator("code")).to_be_hidden()
    detail.locator("summary").click()
    expect(detail.locator("code")).to_be_visible()
    shoot(page, screenshots, "youtube-failed-link")
