"""Opening what a Music or Photos library holds in the browser: artist → albums (an EP
too) → tracks, and a photo album → its albums and photos, each reached by clicking, at
a desktop and a phone width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.checks import check_both_widths
from tests.e2e.flows import AdminAccount, sign_in_admin

pytestmark = pytest.mark.e2e


def test_a_user_clicks_from_an_artist_to_an_album_and_sees_its_tracks(
    new_context: Any, admin_account: AdminAccount, screenshots: Path
) -> None:
    context = new_context(bypass_csp=True)  # axe is injected; the app's CSP would refuse it
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/plex?library=4")
    page.get_by_role("link", name="The Null Routes", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="The Null Routes")).to_be_visible()
    albums = page.locator(".poster-card")
    expect(albums).to_have_count(3)
    expect(albums.nth(2)).to_contain_text("Anycast")
    check_both_widths(page, "main .grid-posters", screenshots / "plex-artist")

    page.get_by_role("link", name="Bogon", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Bogon")).to_be_visible()
    tracks = page.locator("table[data-tracks] tbody tr")
    expect(tracks).to_have_count(3)
    expect(tracks.nth(0)).to_contain_text("Unallocated")
    expect(tracks.nth(2)).to_contain_text("Documentation Prefix")
    expect(tracks.nth(2)).to_contain_text("3:23")
    check_both_widths(page, "main .table-wrap", screenshots / "plex-album")

    page.get_by_role("link", name="← The Null Routes").click()
    expect(page.get_by_role("heading", level=1, name="The Null Routes")).to_be_visible()


def test_a_user_clicks_into_a_photo_album_and_the_album_inside_it(
    new_context: Any, admin_account: AdminAccount, screenshots: Path
) -> None:
    context = new_context(bypass_csp=True)  # axe is injected; the app's CSP would refuse it
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/plex?library=5")
    page.get_by_role("link", name="Garden", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Garden")).to_be_visible()
    expect(page.locator(".poster-card")).to_have_count(2)
    check_both_widths(page, "main .grid-posters", screenshots / "plex-photo-album")
    page.get_by_role("link", name="Spring", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Spring")).to_be_visible()
    expect(page.locator(".poster-card")).to_have_count(1)
    expect(page.locator(".poster-card")).to_contain_text("Blossom")
