"""A friend shared only some of the server's libraries, in the browser at a desktop and a
phone width: the YouTube and subscriptions pages' warning that the downloads library is
not shared with them, the refused download and subscription (the typed link kept and not
marked wrong, the reason under it), the warning gone once the owner shares the library;
the Plex page listing only their libraries; a friend whose share was removed told so, and
what to do, on a page of its own. The friends are shared Movies and TV Shows only
(conftest `PARTLY_SHARED`); the simulated Plex follows plex.tv's shares (`SimulatorSuite`:
`follow_plextv`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from medianest_simulators.plex_library import MOVIES_SECTION, SHOWS_SECTION, YOUTUBE_SECTION
from medianest_simulators.plextv_models import MACHINE_IDENTIFIER
from medianest_simulators.suite import SimulatorSuite
from tests.e2e.checks import check_both_widths
from tests.e2e.flows import sign_in_plex_user

pytestmark = pytest.mark.e2e

NOT_SHARED = 'The Plex library "YouTube" that downloads go to is not shared with your Plex account'


def friend_page(new_context: Any, simulators: SimulatorSuite, username: str) -> Page:
    # bypass_csp: axe is injected, which the app's strict CSP would rightly refuse.
    context = new_context(bypass_csp=True)
    sign_in_plex_user(context, simulators.info.plex_tv_url, username)
    return context.new_page()


def test_a_friend_is_warned_refused_with_the_link_kept_and_not_warned_once_shared(
    new_context: Any, simulators: SimulatorSuite, screenshots: Path
) -> None:
    plextv = simulators.plextv
    plextv.share_server(
        "mona", MACHINE_IDENTIFIER, "sim-pms-mona-access", sections=(MOVIES_SECTION, SHOWS_SECTION)
    )
    page = friend_page(new_context, simulators, "mona")
    page.goto("/youtube")
    warning = page.locator("[data-field=library-not-shared]")
    expect(warning).to_contain_text(NOT_SHARED)
    expect(warning).to_contain_text("Ask the server's owner to share it with you")
    # Above the form it is about, within the "New download" card.
    expect(page.locator("section[aria-labelledby=submit-title]")).to_contain_text(NOT_SHARED)
    check_both_widths(
        page, "[data-field=library-not-shared]", screenshots / "shares-youtube-warning"
    )

    typed = simulators.media.feed_url("mona-typed")
    field = page.get_by_label("Playlist or video link")
    field.fill(typed)
    page.get_by_role("button", name="Start download").click()
    # Said under the field (the form's own answer to the 409), the typed link kept.
    explained = page.locator("#yt-url-error")
    expect(explained).to_have_attribute("data-error-code", "PLEX_LIBRARY_NOT_SHARED")
    expect(explained).to_contain_text(NOT_SHARED)
    expect(field).to_have_value(typed)
    # The link itself is fine: not marked wrong (red, "invalid entry" read out) for a
    # refusal about the library; the focus is on it, the reason read as its description.
    expect(field).not_to_have_attribute("aria-invalid", "true")
    expect(field).to_be_focused()
    expect(page.locator("[data-download-id]")).to_have_count(0)
    check_both_widths(page, "#yt-url-error", screenshots / "shares-youtube-refused")

    # Subscribing is refused the same way: told on its page before trying too.
    page.goto("/youtube/subscriptions")
    expect(page.locator("[data-field=library-not-shared]")).to_contain_text(NOT_SHARED)
    check_both_widths(
        page, "[data-field=library-not-shared]", screenshots / "shares-subscriptions-warning"
    )
    page.get_by_label("Playlist or channel link").fill(typed)
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("#sub-url-error")).to_contain_text(NOT_SHARED)
    expect(page.get_by_label("Playlist or channel link")).to_have_value(typed)
    expect(page.get_by_label("Playlist or channel link")).not_to_have_attribute(
        "aria-invalid", "true"
    )

    plextv.share_server(
        "mona",
        MACHINE_IDENTIFIER,
        "sim-pms-mona-access",
        sections=(MOVIES_SECTION, SHOWS_SECTION, YOUTUBE_SECTION),
    )
    for path, heading in (
        ("/youtube", "New download"),
        ("/youtube/subscriptions", "New subscription"),
    ):
        page.goto(path)
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        expect(page.locator("[data-field=library-not-shared]")).to_have_count(0)
        expect(page.locator("body")).not_to_contain_text("is not shared with your Plex account")


def test_a_friend_sees_only_their_libraries_and_a_page_saying_when_nothing_is_shared(
    new_context: Any, simulators: SimulatorSuite, screenshots: Path
) -> None:
    plextv = simulators.plextv
    plextv.share_server(
        "nell", MACHINE_IDENTIFIER, "sim-pms-nell-access", sections=(MOVIES_SECTION, SHOWS_SECTION)
    )
    page = friend_page(new_context, simulators, "nell")
    page.goto("/plex")
    tabs = page.get_by_role("navigation", name="Libraries")
    expect(tabs.get_by_role("link")).to_have_text(["Movies", "TV Shows"])
    expect(tabs.get_by_role("link", name="Movies")).to_have_attribute("aria-current", "page")
    check_both_widths(page, "nav[aria-label=Libraries]", screenshots / "shares-plex-libraries")

    plextv.unshare_server("nell")
    answer = page.goto(f"/plex?library={MOVIES_SECTION}&refresh=true")
    assert answer is not None and answer.status == 403, answer and answer.status
    main = page.locator("main")
    expect(main).to_contain_text("This Plex server is not shared with your Plex account.")
    expect(main).to_contain_text("Ask the server's owner to share its libraries with you")
    # Nothing was read from Plex: the page does not say it was.
    expect(page.locator("[data-field=library-age]")).to_have_count(0)
    expect(main.get_by_role("link", name="Back to the dashboard")).to_be_visible()
    expect(main).not_to_contain_text("Traceback")
    expect(page.locator(".poster-card")).to_have_count(0)
    check_both_widths(page, "main", screenshots / "shares-plex-not-shared")
