"""Downloads into Plex in the browser: the delivery choice on the form, the finished row's
link to its collection or playlist, own playlists and the data age on the Plex page,
privacy between users, the admin's "Plex and downloads" section and an admin stopping
another user's download while watching it live."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from medianest_simulators.suite import SimulatorSuite
from tests.e2e.flows import PHONE, AdminAccount, screenshot, shoot, sign_in_admin, sign_in_plex_user

pytestmark = pytest.mark.e2e

YOUTUBE_LIBRARY = "3"  # the Plex simulator's section scanning the download folder


def add_feed(simulators: SimulatorSuite, name: str, title: str, clips: list[str]) -> str:
    """A playlist of its own on the media host (titles no other test downloads)."""
    simulators.media.add_feed(name, title, [])
    for clip in clips:
        simulators.media.add_item(clip, feed=name)
    return simulators.media.feed_url(name)


def plex_user_page(new_context: Any, simulators: SimulatorSuite, username: str) -> Page:
    context: BrowserContext = new_context()
    sign_in_plex_user(context, simulators.info.plex_tv_url, username)
    return context.new_page()


def fits(page: Page, *, width: dict[str, int] = PHONE) -> bool:
    """Nothing on the page is wider than the screen at `width` (no sideways scrolling)."""
    original = page.viewport_size
    page.set_viewport_size(width)
    page.wait_for_timeout(80)  # let the layout settle after the resize
    fitting = bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))
    if original:
        page.set_viewport_size(original)
    return fitting


def start_download(page: Page, url: str, delivery_label: str) -> Locator:
    """Submit the form with a delivery choice; returns the new download's row."""
    page.goto("/youtube")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    page.get_by_label("Playlist or video link").fill(url)
    page.get_by_role("group", name="In Plex").get_by_label(delivery_label).check()
    before = page.locator("[data-download-id]").count()
    page.get_by_role("button", name="Start download").click()
    expect(page.locator("[data-download-id]")).to_have_count(before + 1)
    return page.locator("[data-download-id]").first


def test_the_delivery_choice_sets_the_wording_and_the_row_opens_the_private_playlist(
    new_context: Any, simulators: SimulatorSuite, screenshots: Path
) -> None:
    url = add_feed(simulators, "e2e-ferries", "Ferry Crossings", ["Morning Ferry", "Night Ferry"])
    page = plex_user_page(new_context, simulators, "alice")
    page.goto("/youtube")
    choice = page.get_by_role("group", name="In Plex")
    # The same three choices as a subscription, none forced on the user.
    expect(choice.get_by_role("radio")).to_have_count(3)
    expect(choice.get_by_label("Server default")).to_be_checked()
    expect(choice.get_by_label("My private playlist")).to_be_visible()
    expect(choice.get_by_label("Shared collection")).to_be_visible()

    simulators.media.set_throttle(20_000)
    try:
        row = start_download(page, url, "My private playlist")
        expect(
            page.locator(".toast").filter(has_text="it goes to your private playlist.")
        ).to_be_visible()
        expect(row).to_have_attribute("data-state", re.compile("queued|downloading"))
        expect(row).to_contain_text("Goes to Plex as your private playlist.")
        expect(row).not_to_contain_text("shared collection")
        shoot(page, screenshots, "plex-downloads-playlist-running")
    finally:
        simulators.media.set_throttle(None)
    expect(row).to_have_attribute("data-state", "completed", timeout=60_000)
    link = row.locator("[data-field=plex-link]")
    expect(link).to_have_text("In Plex as your private playlist: open it")
    expect(link.get_by_role("link")).to_have_attribute("href", re.compile(r"^/plex/playlists/\d+$"))
    shoot(page, screenshots, "plex-downloads-playlist-done")
    assert fits(page), "the downloads page is wider than a phone"

    link.get_by_role("link", name="open it").click()
    expect(page).to_have_url(re.compile(r"/plex/playlists/\d+$"))
    expect(page.get_by_role("heading", name="Ferry Crossings")).to_be_visible()
    expect(page.get_by_text("Your playlist · 2 items")).to_be_visible()
    cards = page.locator(".poster-card")
    expect(cards).to_have_count(2)
    expect(cards.nth(0)).to_contain_text("Morning Ferry")
    expect(cards.nth(1)).to_contain_text("Night Ferry")
    shoot(page, screenshots, "plex-downloads-playlist-page")
    assert fits(page), "the playlist page is wider than a phone"

    # The Plex page lists her own playlists, says when its data was read and can refresh.
    page.goto(f"/plex?library={YOUTUBE_LIBRARY}")
    own = page.locator("section[aria-labelledby=playlists-title]")
    expect(own.get_by_role("heading", name="My playlists")).to_be_visible()
    expect(own.get_by_role("link", name="Ferry Crossings")).to_be_visible()
    expect(own).to_contain_text("2 items")
    age = page.locator("[data-field=library-age]")
    # The page holds when (UTC); the browser says how long ago.
    expect(age).to_have_text(re.compile(r"^Library data read (just now|\d+ s ago) · Refresh$"))
    expect(age.locator("time[data-relative]")).to_have_attribute(
        "datetime", re.compile(r"^\d{4}-\d\d-\d\dT")
    )
    refresh = age.get_by_role("link", name="Refresh")
    expect(refresh).to_have_attribute("href", f"/plex?library={YOUTUBE_LIBRARY}&refresh=true")
    shoot(page, screenshots, "plex-downloads-plex-page")
    assert fits(page), "the Plex page is wider than a phone"
    refresh.click()
    expect(page).to_have_url(re.compile(r"refresh=true"))
    expect(page.locator("[data-field=library-age]")).to_have_text(
        re.compile(r"^Library data read just now")
    )
    # Her items are in the YouTube library as soon as the download is done.
    grid = page.locator("#plex-items .poster-card")
    expect(grid.filter(has_text="Morning Ferry")).to_have_count(1)


def test_a_collection_download_links_to_its_collection_and_another_user_never_sees_her_items(
    new_context: Any, simulators: SimulatorSuite, screenshots: Path
) -> None:
    url = add_feed(simulators, "e2e-harbour", "Harbour Walks", ["Pier At Dawn", "Lighthouse Steps"])
    alice = plex_user_page(new_context, simulators, "alice")
    row = start_download(alice, url, "Shared collection")
    expect(
        alice.locator(".toast").filter(has_text="it goes to a shared collection.")
    ).to_be_visible()
    expect(row).to_have_attribute("data-state", "completed", timeout=60_000)
    link = row.locator("[data-field=plex-link]")
    expect(link).to_have_text("In Plex as a shared collection: open it")
    href = link.get_by_role("link").get_attribute("href") or ""
    assert re.fullmatch(r"/plex/collections/\d+", href), href
    link.get_by_role("link", name="open it").click()
    expect(alice.get_by_role("heading", name="Harbour Walks")).to_be_visible()
    expect(alice.locator(".poster-card")).to_have_count(2)
    expect(alice.locator(".poster-card").filter(has_text="Pier At Dawn")).to_have_count(1)
    shoot(alice, screenshots, "plex-downloads-collection-page")
    assert fits(alice), "the collection page is wider than a phone"
    playlist_id = _a_playlist_of(alice, simulators, "e2e-harbour-private", "Private Harbour")

    # dora, a plain friend of the server (see conftest): bob may be an admin by now.
    bob = plex_user_page(new_context, simulators, "dora")
    bob.goto(f"/plex?library={YOUTUBE_LIBRARY}")
    expect(bob.get_by_role("heading", name=re.compile("^YouTube"))).to_be_visible()
    expect(bob.locator("body")).not_to_contain_text("Pier At Dawn")
    expect(bob.locator("body")).not_to_contain_text("Harbour")
    expect(bob.get_by_role("heading", name="My playlists")).to_have_count(0)
    shoot(bob, screenshots, "plex-downloads-bob-library")
    bob.get_by_label("Title contains").fill("Pier")
    expect(bob).to_have_url(re.compile(r"search=Pier"))
    expect(bob.locator("#plex-items .poster-card")).to_have_count(0)
    expect(bob.locator("#plex-items")).to_contain_text("Nothing here matches")

    # The addresses themselves show him nothing of hers either.
    shown = bob.goto(href)
    assert shown is not None
    if shown.status == 200:  # a shared collection may be listed; her items are not
        expect(bob.locator(".poster-card")).to_have_count(0)
    else:
        assert shown.status == 404, shown.status
    expect(bob.locator("body")).not_to_contain_text("Pier At Dawn")
    shown = bob.goto(f"/plex/playlists/{playlist_id}")
    assert shown is not None and shown.status == 404, shown and shown.status
    expect(bob.locator("body")).not_to_contain_text("Private Harbour")
    # Nor do the JSON answers behind the pages.
    items = bob.request.get(f"/api/plex/library/{YOUTUBE_LIBRARY}/items?search=Pier")
    assert items.ok, items.text()
    assert "Pier At Dawn" not in items.text()


def _a_playlist_of(page: Page, simulators: SimulatorSuite, name: str, title: str) -> str:
    """Download a one-item playlist as a private playlist; returns the Plex playlist id."""
    row = start_download(
        page, add_feed(simulators, name, title, [f"{title} Clip"]), "My private playlist"
    )
    expect(row).to_have_attribute("data-state", "completed", timeout=60_000)
    href = row.locator("[data-field=plex-link] a").get_attribute("href") or ""
    found = re.fullmatch(r"/plex/playlists/(\d+)", href)
    assert found, href
    return found.group(1)


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_admin_sees_plex_libraries_and_tests_the_download_path(
    viewport: str, new_context: Any, admin_account: AdminAccount, screenshots: Path
) -> None:
    context = new_context(**({"viewport": PHONE} if viewport == "phone" else {}))
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/admin")
    section = page.locator("#plex-downloads-section")
    expect(section.get_by_role("heading", name="Plex and downloads")).to_be_visible()
    path = section.get_by_label("Plex path of downloads")
    expect(path).to_have_value("")
    expect(section.locator("[data-field=plex-path-in-use]")).not_to_be_empty()
    youtube = section.locator(f"li[data-library-id='{YOUTUBE_LIBRARY}']")
    expect(youtube).to_contain_text("YouTube")
    expect(youtube).to_contain_text("holds the downloads")
    expect(section.locator("li[data-holds-downloads]")).to_have_count(1)
    expect(section.locator("[data-field=plex-problem]")).to_have_count(0)

    section.get_by_role("button", name="Test").click()
    result = section.locator("[data-field=plex-test]")
    expect(result).to_have_text(re.compile(r"^Plex found the marker at .+ in library 3\.$"))
    expect(result).to_have_class(re.compile(r"\balert-success\b"))
    assert fits(page, width=page.viewport_size or PHONE), "the page is wider than the screen"
    screenshot(page, screenshots / f"admin-plex-downloads-test-{viewport}.png")

    # A path Plex has no library for: the test says so, nothing is saved.
    section.get_by_label("Plex path of downloads").fill("/srv/nowhere/youtube")
    section.get_by_role("button", name="Test").click()
    failed = section.locator("[data-field=plex-test]")
    expect(failed).to_have_class(re.compile(r"\balert-error\b"))
    expect(failed).to_contain_text("/srv/nowhere/youtube")
    screenshot(page, screenshots / f"admin-plex-downloads-refused-{viewport}.png")
    page.reload()
    expect(page.get_by_label("Plex path of downloads")).to_have_value("")


def test_an_admin_sees_and_cancels_another_users_download(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite, screenshots: Path
) -> None:
    url = add_feed(
        simulators, "e2e-slow", "Long Coastline", ["Cliff One", "Cliff Two", "Cliff Three"]
    )
    alice = plex_user_page(new_context, simulators, "alice")
    _a_playlist_of(alice, simulators, "e2e-coastal-private", "Coastal Private")
    bob = plex_user_page(new_context, simulators, "bob")
    simulators.media.set_throttle(4_000)  # slow enough to still be running when cancelled
    try:
        bob_row = start_download(bob, url, "My private playlist")
        download_id = bob_row.get_attribute("data-download-id")
        expect(bob_row).to_contain_text("Goes to Plex as your private playlist.")
        expect(bob_row).to_have_attribute("data-state", re.compile("queued|downloading"))

        admin_context = new_context()
        sign_in_admin(admin_context, admin_account)
        admin = admin_context.new_page()
        admin.goto("/youtube")
        expect(admin.locator(f"[data-download-id='{download_id}']")).to_have_count(0)
        admin.get_by_role("link", name="Show every user's").click()
        expect(admin).to_have_url(re.compile(r"/youtube\?all=true$"))
        expect(admin.get_by_role("heading", name="Everyone's downloads")).to_be_visible()
        row = admin.locator(f"[data-download-id='{download_id}']")
        expect(row.locator("[data-field=owner]")).to_have_text("bob")
        # His playlist is in his Plex account: the admin is not told it is theirs.
        expect(row).to_contain_text("Goes to Plex as bob's private playlist.")
        shoot(admin, screenshots, "youtube-every-users-downloads")
        assert fits(admin), "every user's downloads are wider than a phone"
        row.get_by_role("button", name="Cancel Long Coastline").click()
        dialog = admin.get_by_role("dialog")
        expect(dialog).to_contain_text("Stop downloading “Long Coastline”?")
        dialog.get_by_role("button", name="Stop download").click()
        expect(row).to_have_attribute("data-state", "cancelled", timeout=15_000)
    finally:
        simulators.media.set_throttle(None)
    # Bob's own page follows: his download was stopped.
    bob.reload()
    expect(bob.locator(f"[data-download-id='{download_id}']")).to_have_attribute(
        "data-state", "cancelled"
    )
    # A finished private playlist of another user: named as hers, and no link the admin
    # could not open (a playlist is its owner's alone).
    alices = admin.locator("[data-download-id]").filter(has_text="Coastal Private")
    expect(alices.locator("[data-field=owner]")).to_have_text("alice")
    link = alices.locator("[data-field=plex-link]")
    expect(link).to_have_text("In Plex as alice's private playlist (only they can open it)")
    expect(link.get_by_role("link")).to_have_count(0)
    state = bob.request.get(f"/api/youtube/downloads/{download_id}")
    assert state.ok and state.json()["data"]["status"] == "cancelled", state.text()
