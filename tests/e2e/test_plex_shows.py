"""Opening what a TV Shows library holds in the browser: a show → its seasons (posters
with their episode counts) → a season's episodes (number, title, air date, length), each
reached by clicking, at a desktop and a phone width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.checks import check_both_widths
from tests.e2e.flows import AdminAccount, admin_on_library, back_to, click_into

pytestmark = pytest.mark.e2e


def test_a_user_clicks_from_a_show_to_a_season_and_sees_its_episodes(
    new_context: Any, admin_account: AdminAccount, screenshots: Path
) -> None:
    page = admin_on_library(new_context, admin_account, 2)
    click_into(page, "Pioneer One")
    expect(page.locator("[data-item-summary]")).to_have_text("2010 · 2 seasons · 6 episodes")
    seasons = page.locator(".poster-card")
    expect(seasons).to_have_count(2)
    expect(seasons.nth(0)).to_contain_text("Season 1")
    expect(seasons.nth(1)).to_contain_text("3 episodes")
    check_both_widths(page, "main .grid-posters", screenshots / "plex-show")

    click_into(page, "Season 2")
    episodes = page.locator("table[data-episodes] tbody tr")
    expect(episodes).to_have_count(3)
    expect(episodes.nth(0)).to_contain_text("Homecoming")
    expect(episodes.nth(0)).to_contain_text("8 Jan 2011")
    expect(episodes.nth(2)).to_contain_text("Eclipse")
    expect(episodes.nth(2)).to_contain_text("25 min")
    check_both_widths(page, "main .table-wrap", screenshots / "plex-season")

    back_to(page, "Pioneer One")
