"""Media search and requests in the browser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Route, expect

from medianest_simulators.suite import SimulatorSuite
from tests.e2e.flows import shoot, sign_in_plex_user, wait_for_api

pytestmark = pytest.mark.e2e


def test_a_user_searches_requests_a_show_season_and_sees_it_in_my_requests(
    new_context: Any, simulators: SimulatorSuite, screenshots: Path
) -> None:
    context = new_context()
    sign_in_plex_user(context, simulators.info.plex_tv_url, "bob")
    page = context.new_page()
    page.goto("/dashboard")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Media").click()
    page.get_by_label("Search films and shows").fill("Render")
    card = page.locator(".poster-card").filter(has_text="Render Farm")
    expect(card).to_be_visible()
    shoot(page, screenshots, "media-search")
    card.get_by_role("button", name="Request… Render Farm").click()
    card.get_by_label("2", exact=True).check()
    expect(card.get_by_label("All")).not_to_be_checked()
    card.get_by_role("button", name="Request", exact=True).click()
    expect(card.get_by_role("status")).to_contain_text("Requested")
    expect(page.locator(".toast").filter(has_text="Requested Render Farm")).to_be_visible()
    row = page.locator("#requests-list tr").filter(has_text="Render Farm")
    expect(row).to_contain_text("Season 2")
    shoot(page, screenshots, "media-requested")

    # Overseerr approves it: "My requests" changes without a reload (request:status).
    newest = max(simulators.overseerr.media_requests)
    simulators.overseerr.set_request_status(newest, "approved")
    # Approved in Overseerr means "processing" here (the media is being fetched).
    expect(row.locator("[data-field=status]")).to_have_text("processing", timeout=10_000)
    news = page.locator(".toast").filter(has_text="Render Farm").filter(has_text="approved")
    expect(news).to_contain_text("was approved and is being downloaded")
    page.wait_for_timeout(500)  # a second push of the same change would land by now
    expect(news).to_have_count(1)  # one toast per change, not one per push
    # The result card that made the request follows too.
    expect(card.locator("[data-request-id] [data-field=status]")).to_have_text("processing")

    page.get_by_label("Search films and shows").fill("Render Farm")
    again = page.locator(".poster-card").filter(has_text="Render Farm")
    expect(again.locator(".badge")).to_have_text("Requested by you")

    # A change pushed while the socket is down is read again when it comes back.
    page.evaluate("() => MediaNest.socket.disconnect()")
    expect(page.locator("#conn")).not_to_have_attribute("data-state", "live")
    simulators.overseerr.complete_request(newest)
    wait_for_api(
        context,
        "/api/media/requests",
        lambda rows: any(r["title"] == "Render Farm" and r["status"] == "available" for r in rows),
    )
    expect(row.locator("[data-field=status]")).to_have_text("processing")  # not told yet
    page.evaluate("() => MediaNest.socket.connect()")
    expect(row.locator("[data-field=status]")).to_have_text("available", timeout=10_000)


def test_the_search_lives_in_the_address_so_back_reload_and_links_find_it_again(
    new_context: Any, simulators: SimulatorSuite, screenshots: Path
) -> None:
    context = new_context()
    sign_in_plex_user(context, simulators.info.plex_tv_url, "bob")
    page = context.new_page()
    page.goto("/media")
    search = page.get_by_label("Search films and shows")
    search.fill("Sintel")
    expect(page).to_have_url(re.compile(r"/media\?query=Sintel$"))
    expect(page.locator(".poster-card").filter(has_text="Sintel")).to_be_visible()
    search.fill("Render")
    expect(page).to_have_url(re.compile(r"/media\?query=Render$"))
    expect(page.locator(".poster-card").filter(has_text="Render Farm")).to_be_visible()
    page.go_back()
    expect(page).to_have_url(re.compile(r"/media\?query=Sintel$"))
    expect(page.locator(".poster-card").filter(has_text="Sintel")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Search films and shows")).to_have_value("Sintel")
    expect(page.locator(".poster-card").filter(has_text="Sintel")).to_be_visible()
    shoot(page, screenshots, "media-search-from-the-address")


def test_a_search_typed_before_the_page_scripts_ran_is_sent_when_they_do(
    new_context: Any, simulators: SimulatorSuite
) -> None:
    # A slow phone or a busy machine: the field is there, htmx (deferred) is not yet.
    context = new_context(service_workers="block")  # the route below must see the request
    sign_in_plex_user(context, simulators.info.plex_tv_url, "bob")
    page = context.new_page()
    held: list[Route] = []
    page.route(re.compile(r"/vendor/htmx\.min\.js"), lambda route: held.append(route))
    page.goto("/media", wait_until="commit")
    page.get_by_label("Search films and shows").fill("Render")
    while not held:
        page.wait_for_timeout(50)
    assert page.evaluate("() => typeof window.htmx") == "undefined"
    held[0].continue_()
    expect(page.locator(".poster-card").filter(has_text="Render Farm")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/media\?query=Render$"))


def test_a_hanging_overseerr_shows_searching_and_the_search_can_be_cancelled(
    new_context: Any, simulators: SimulatorSuite, screenshots: Path
) -> None:
    context = new_context()
    sign_in_plex_user(context, simulators.info.plex_tv_url, "bob")
    page = context.new_page()
    page.goto("/media")
    simulators.overseerr.set_fault("hang", path_prefix="/api/v1/search")
    try:
        page.get_by_label("Search films and shows").fill("Elephants")
        busy = page.locator("#results [data-busy]")
        expect(busy).to_contain_text("Searching Overseerr…")
        shoot(page, screenshots, "media-searching")
        busy.get_by_role("button", name="Cancel").click()
        expect(page.locator("#results [data-busy-ended]")).to_have_text("The search was cancelled.")
    finally:
        simulators.overseerr.clear_fault()


def test_a_show_someone_requested_a_season_of_offers_more_seasons(
    new_context: Any, simulators: SimulatorSuite, screenshots: Path
) -> None:
    # Households request shows a season at a time: a show someone asked a season of still
    # opens the season chooser (Pioneer One: season 1 in Plex, season 2 asked for by bob).
    bob = new_context()
    sign_in_plex_user(bob, simulators.info.plex_tv_url, "bob")
    csrf = next(c["value"] for c in bob.cookies() if c["name"] == "csrftoken")
    asked = bob.request.post(
        "/api/media/request",
        data={"mediaType": "tv", "tmdbId": 30991, "seasons": [2]},
        headers={"X-CSRF-Token": csrf},
    )
    assert asked.status == 201, asked.text()

    alice = new_context()
    sign_in_plex_user(alice, simulators.info.plex_tv_url, "alice")
    page = alice.new_page()
    page.goto("/media?query=Pioneer")
    card = page.locator(".poster-card").filter(has_text="Pioneer One")
    expect(card.locator(".badge")).to_have_text("Requested")
    shoot(page, screenshots, "media-more-seasons")
    card.get_by_role("button", name="More seasons… of Pioneer One").click()
    expect(card.get_by_label("1 (in Plex)", exact=True)).to_be_disabled()
    expect(card.get_by_label("2 (requested)", exact=True)).to_be_disabled()
    expect(card).to_contain_text("Every season is already in Plex or requested.")
