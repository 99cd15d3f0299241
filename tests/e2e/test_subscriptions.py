"""YouTube subscriptions in the browser: a refused link explains why, a subscription is
checked at once and shows what it found, and it can be paused, resumed and removed; the
admin page shows yt-dlp's version and the queue breaker."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yt_dlp.version
from playwright.sync_api import expect

from medianest_simulators.suite import SimulatorSuite
from tests.e2e.flows import AdminAccount, shoot, sign_in_admin

pytestmark = pytest.mark.e2e


def test_a_subscription_is_checked_at_once_and_can_be_paused_resumed_and_removed(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite, screenshots: Path
) -> None:
    media = simulators.media
    media.add_feed("e2e-subscription", "Browser Subscription", [])
    media.add_item("Subscribed Clip", slug="e2e-subscribed-clip", feed="e2e-subscription")
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/youtube")
    page.get_by_role("link", name="Subscriptions").click()
    expect(page).to_have_url("/youtube/subscriptions")
    expect(page.locator("[data-quota=youtubeItemsPerDay] dd")).to_have_text("Unlimited")

    link = page.get_by_label("Playlist or channel link")
    link.fill("https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("#sub-url-error")).to_contain_text("not a single video")
    expect(page.get_by_label("Playlist or channel link")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Playlist or channel link").fill(media.feed_url("e2e-subscription"))
    page.get_by_label("Check every").select_option("12")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator(".toast").filter(has_text="Subscribed")).to_be_visible()
    row = page.locator("[data-subscription-id]").first
    expect(row).to_have_attribute("data-state", "active")
    # The first check runs at once; the list refreshes itself (or on reload).
    for _ in range(20):
        page.reload()
        row = page.locator("[data-subscription-id]").first
        if row.locator("[data-field=items-found]").inner_text() == "1":
            break
        page.wait_for_timeout(500)
    expect(row.locator("[data-field=items-found]")).to_have_text("1")
    expect(row).to_have_attribute("data-title", "Browser Subscription")
    # The list holds the moments; the browser counts: since the last check, until the
    # next (with the local time it falls at).
    expect(row.locator("[data-field=last-check]")).to_have_text(
        re.compile(r"^(just now|\d+ s ago)$")
    )
    expect(row.locator("[data-field=next-check]")).to_have_text(
        re.compile(r"^in 1[12] h( \d+ min)? \(.+\) · every 12 h$")
    )
    shoot(page, screenshots, "youtube-subscriptions")

    row.get_by_role("button", name="Pause").click()
    row = page.locator("[data-subscription-id]").first
    expect(row).to_have_attribute("data-state", "paused")
    expect(row.locator("[data-field=next-check]")).to_contain_text("paused")
    row.get_by_role("button", name="Resume").click()
    row = page.locator("[data-subscription-id]").first
    expect(row).to_have_attribute("data-state", "active")
    row.get_by_role("button", name="Check now").click()
    expect(page.locator(".toast").filter(has_text="Checking now")).to_be_visible()

    row.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("dialog").get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("[data-subscription-id]")).to_have_count(0)
    page.reload()
    expect(page.locator(".empty")).to_contain_text("No subscriptions yet")


def test_the_admin_page_shows_yt_dlp_and_the_queue_breaker(
    new_context: Any, admin_account: AdminAccount, screenshots: Path
) -> None:
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/admin#system")
    expect(page.locator("[data-field=ytdlp-version]")).to_have_text(yt_dlp.version.__version__)
    expect(page.locator("[data-breaker]")).to_have_attribute("data-breaker", "closed")
    shoot(page, screenshots, "admin-youtube-system")
