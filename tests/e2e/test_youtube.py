"""YouTube downloads in the browser: clear errors, live progress to 100 %."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from medianest_simulators.suite import SimulatorSuite
from tests.e2e.flows import AdminAccount, shoot, sign_in_admin, wait_for_api

pytestmark = pytest.mark.e2e


def youtube_page(new_context: Any, admin_account: AdminAccount) -> Page:
    """The admin's /youtube page in a new context, its socket live."""
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/youtube")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    return page


def held_missing_item(simulators: SimulatorSuite, title: str) -> tuple[str, str]:
    """A video whose host answers 404, but only once `release_item` lets it: (slug, URL)."""
    slug = simulators.media.add_item(title, feed=None)
    simulators.media.set_item_status(slug, 404)
    simulators.media.hold_item(slug)
    return slug, simulators.media.item_url(slug)


def test_a_download_shows_live_progress_until_it_reaches_100_percent(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite, screenshots: Path
) -> None:
    page = youtube_page(new_context, admin_account)
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
    page = youtube_page(new_context, admin_account)
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
    page = youtube_page(new_context, admin_account)
    url = simulators.media.item_url("no-such-video")
    page.get_by_label("Playlist or video link").fill(url)
    page.get_by_role("button", name="Start download").click()
    # Its own row (a name that fails keeps its link as title), not whichever row is first
    # before the list shows the new one.
    row = page.locator(f'[data-title="{url}"]').first
    expect(row).to_have_attribute("data-state", "failed", timeout=30_000)
    failure = row.locator("[data-field=failure]")
    expect(failure.locator("p")).to_have_text(re.compile(r"^The (link leads nowhere|site)"))
    detail = failure.locator("details")
    expect(detail).not_to_have_attribute("open", "")
    expect(detail.locator("code")).to_be_hidden()
    detail.locator("summary").click()
    expect(detail.locator("code")).to_be_visible()
    shoot(page, screenshots, "youtube-failed-link")


def _row_state_in(html: str, url: str) -> str:
    match = re.search(r'data-state="(\w+)" data-title="' + re.escape(url) + '"', html)
    assert match, f"no row for {url} in the list"
    return match.group(1)


def test_a_download_that_fails_while_the_list_is_loading_shows_that_it_failed(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite
) -> None:
    """The list the new download brings is rendered before the download fails and arrives
    after the failure's event; no other event follows, so the row must catch up."""
    page = youtube_page(new_context, admin_account)
    page.evaluate(
        "() => { window.seenStates = [];"
        " MediaNest.socket.on('youtube:progress', d => window.seenStates.push(d.status)); }"
    )
    slug, url = held_missing_item(simulators, "Gone While Listing")
    held: list[tuple[Any, Any]] = []

    def hold_the_list(route: Any) -> None:
        if held:
            route.continue_()
        else:
            held.append((route, route.fetch()))  # rendered now, delivered later

    page.route("**/youtube/downloads", hold_the_list)
    try:
        page.get_by_label("Playlist or video link").fill(url)
        page.get_by_role("button", name="Start download").click()
        for _ in range(100):
            if held:
                break
            page.wait_for_timeout(50)
        assert held, "the page never asked for the new list"
        route, rendered = held[0]
        assert _row_state_in(rendered.text(), url) in ("queued", "downloading")
    finally:
        simulators.media.release_item(slug)
    page.wait_for_function("() => window.seenStates.includes('failed')", timeout=30_000)
    route.fulfill(response=rendered)
    row = page.locator(f'[data-title="{url}"]')
    expect(row).to_have_attribute("data-state", "failed", timeout=10_000)
    expect(row.locator("[data-field=failure]")).to_be_visible()


def test_a_download_that_fails_while_the_socket_is_down_shows_it_on_reconnect(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite
) -> None:
    page = youtube_page(new_context, admin_account)
    slug, url = held_missing_item(simulators, "Gone While Offline")
    try:
        page.get_by_label("Playlist or video link").fill(url)
        page.get_by_role("button", name="Start download").click()
        row = page.locator(f'[data-title="{url}"]')
        expect(row).to_have_attribute("data-state", "downloading", timeout=15_000)
        page.evaluate("() => MediaNest.socket.disconnect()")
        expect(page.locator("#conn")).not_to_have_attribute("data-state", "live")
    finally:
        simulators.media.release_item(slug)
    download_id = row.get_attribute("data-download-id")
    wait_for_api(
        page.context, f"/api/youtube/downloads/{download_id}", lambda d: d["status"] == "failed"
    )
    expect(row).to_have_attribute("data-state", "downloading")  # nothing told the page yet
    page.evaluate("() => MediaNest.socket.connect()")
    expect(row).to_have_attribute("data-state", "failed", timeout=10_000)


def _running_download_held_at_its_item(
    page: Page, simulators: SimulatorSuite, name: str, title: str
) -> tuple[str, Any]:
    """A download whose only item's host does not answer until released: (slug, row)."""
    simulators.media.add_feed(name, title, [])
    slug = simulators.media.add_item(f"{title} Clip", feed=name)
    simulators.media.hold_item(slug)
    page.get_by_label("Playlist or video link").fill(simulators.media.feed_url(name))
    page.get_by_role("button", name="Start download").click()
    row = page.locator(f'[data-title="{title}"]')
    expect(row).to_have_attribute("data-state", "downloading", timeout=15_000)
    # Its name, learned from the list after the row was made, reaches its buttons too.
    expect(row.get_by_role("button", name=f"Cancel {title}")).to_be_visible()
    return slug, row


def _swapped_while_asking(page: Page, download_id: str | None) -> None:
    """The row is read again (as a live event does) while the dialog is open; returns
    once the row the button belonged to is no longer on the page."""
    page.evaluate(
        """id => {
          const row = document.querySelector(`[data-download-id="${id}"]`);
          window.rowBeforeSwap = row;
          htmx.ajax('GET', row.dataset.refreshUrl, {target: row, swap: 'outerHTML'});
        }""",
        download_id,
    )
    page.wait_for_function("() => !document.body.contains(window.rowBeforeSwap)")


def test_a_cancel_confirmed_while_its_row_was_refreshed_still_cancels(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite
) -> None:
    """htmx drops a request whose element left the page; a row refreshed by a live event
    while the dialog was open must not swallow the confirmed cancel."""
    page = youtube_page(new_context, admin_account)
    slug, row = _running_download_held_at_its_item(page, simulators, "e2e-swap", "Swapped Shore")
    try:
        download_id = row.get_attribute("data-download-id")
        row.get_by_role("button", name="Cancel Swapped Shore").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("Stop downloading “Swapped Shore”?")
        _swapped_while_asking(page, download_id)
        with page.expect_response(
            lambda r: r.url.endswith(f"/youtube/downloads/{download_id}/cancel"), timeout=5_000
        ) as answered:
            dialog.get_by_role("button", name="Stop download").click()
        assert answered.value.status == 200
        expect(page.locator(".toast").filter(has_text="Download cancelled")).to_be_visible()
    finally:
        simulators.media.release_item(slug)
    expect(row).to_have_attribute("data-state", "cancelled", timeout=15_000)


def test_a_cancel_confirmed_after_the_download_finished_says_nothing_was_sent(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite
) -> None:
    page = youtube_page(new_context, admin_account)
    slug, row = _running_download_held_at_its_item(page, simulators, "e2e-done", "Finished Bay")
    try:
        row.get_by_role("button", name="Cancel Finished Bay").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("Stop downloading “Finished Bay”?")
    finally:
        simulators.media.release_item(slug)
    # It finishes while the question is open: its row comes back without a Cancel button.
    expect(row).to_have_attribute("data-state", "completed", timeout=30_000)
    expect(row.get_by_role("button", name=re.compile("^Cancel"))).to_have_count(0)
    dialog.get_by_role("button", name="Stop download").click()
    expect(page.locator(".toast").filter(has_text="nothing was sent")).to_be_visible()
    expect(row).to_have_attribute("data-state", "completed")
