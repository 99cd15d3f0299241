"""Opening what a Music or Photos library holds in the browser: artist → albums (an EP
too) → tracks, and a photo album → its albums and photos, each reached by clicking, at
a desktop and a phone width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.checks import check_both_widths
from tests.e2e.flows import AdminAccount, admin_on_library, back_to, click_into

pytestmark = pytest.mark.e2e


def test_a_user_clicks_from_an_artist_to_an_album_and_sees_its_tracks(
    new_context: Any, admin_account: AdminAccount, screenshots: Path
) -> None:
    page = admin_on_library(new_context, admin_account, 4)
    click_into(page, "The Null Routes")
    albums = page.locator(".poster-card")
    expect(albums).to_have_count(3)
    expect(albums.nth(2)).to_contain_text("Anycast")
    check_both_widths(page, "main .grid-posters", screenshots / "plex-artist")

    click_into(page, "Bogon")
    tracks = page.locator("table[data-tracks] tbody tr")
    expect(tracks).to_have_count(3)
    expect(tracks.nth(0)).to_contain_text("Unallocated")
    expect(tracks.nth(2)).to_contain_text("Documentation Prefix")
    expect(tracks.nth(2)).to_contain_text("3:23")
    check_both_widths(page, "main .table-wrap", screenshots / "plex-album")

    back_to(page, "The Null Routes")


def test_a_user_clicks_into_a_photo_album_and_the_album_inside_it(
    new_context: Any, admin_account: AdminAccount, screenshots: Path
) -> None:
    page = admin_on_library(new_context, admin_account, 5)
    click_into(page, "Garden")
    expect(page.locator(".poster-card")).to_have_count(2)
    check_both_widths(page, "main .grid-posters", screenshots / "plex-photo-album")
    click_into(page, "Spring")
    expect(page.locator(".poster-card")).to_have_count(1)
    expect(page.locator(".poster-card")).to_contain_text("Blossom")
