"""A download delivered to Plex later, seen live on the open page: alice's subscription
downloaded while the owner had left the "YouTube" library out of her share, so its row
says "Downloaded, but not delivered to Plex"; with her downloads page open (no reload) the
owner shares the library on plex.tv, the audience sweep runs (on the served app's loop,
as its own loop calls it), a download worker delivers, and the Socket.IO push
(`youtube:progress` with `noteChanged`) makes the page read the row again: the note goes,
the row links to her playlist. Another user's open page is told nothing of it (the push
goes to her room, and the admins'), and reads nothing of hers.

dora is the other user, not bob: test_admin.py makes bob an administrator, and admins
follow every user's downloads live by design (`realtime_emitter`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, WebSocket, expect

from medianest.app import MediaNestApp
from medianest.auth.cookies import CSRF_COOKIE
from medianest.auth.plex_sign_in.access import sweep_round
from medianest_simulators.plex_library import MOVIES_SECTION
from medianest_simulators.plextv_models import ALICE_SERVER_TOKEN, MACHINE_IDENTIFIER
from medianest_simulators.suite import SimulatorSuite
from tests.e2e.flows import PHONE, sign_in_plex_user, wait_for_api
from tests.support.servers import ServedApp

pytestmark = pytest.mark.e2e

NOT_DELIVERED = "Downloaded, but not delivered to Plex"
# A real delivery takes a worker turn (MEDIANEST_WORKER_POLL_SECONDS, 15 s) plus a scan.
DELIVERY_SECONDS = 60_000


def sweep(served: ServedApp) -> None:
    """One round of the served app's audience sweep (reads plex.tv's shares now)."""
    app = served.app
    assert isinstance(app, MediaNestApp)
    served.call(lambda: sweep_round(app.ctx))


def share_alice(simulators: SimulatorSuite, served: ServedApp, *sections: int) -> None:
    """python-plexapi `updateFriend(sections=)`; no sections: every library (her usual
    share in this package). The sweep sees it at once."""
    simulators.plextv.share_server(
        "alice", MACHINE_IDENTIFIER, ALICE_SERVER_TOKEN, sections=sections or None
    )
    sweep(served)


@pytest.fixture
def narrowed(simulators: SimulatorSuite, served: ServedApp) -> Iterator[None]:
    """Alice's share as the package keeps it afterwards (every library), whatever happens."""
    yield
    share_alice(simulators, served)


def downloads_of(url: str) -> Any:
    def rows(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [row for row in data if row["url"] == url]

    return rows


def csrf(page: Page) -> dict[str, str]:
    """The header the pages' own scripts send with an unsafe request."""
    return {
        "X-CSRF-Token": next(c["value"] for c in page.context.cookies() if c["name"] == CSRF_COOKIE)
    }


def a_download_left_undelivered(
    page: Page, simulators: SimulatorSuite, served: ServedApp, feed: str
) -> str:
    """Alice subscribes while the library is shared (the first download is delivered);
    the owner leaves "YouTube" out of her share; the next check's download completes with
    the note. Returns its id."""
    simulators.media.add_feed(feed, f"Live Row {feed}", [])
    simulators.media.add_item(f"{feed} one", feed=feed)
    url = simulators.media.feed_url(feed)
    created = page.request.post(
        "/api/youtube/subscriptions",
        data={"url": url, "intervalHours": 24, "delivery": "playlist"},
        headers=csrf(page),
    )
    assert created.status == 201, created.text()
    mine = downloads_of(url)
    wait_for_api(
        page.context,
        "/api/youtube/downloads",
        lambda data: [r["status"] for r in mine(data)] == ["completed"],
        seconds=60,
    )
    share_alice(simulators, served, MOVIES_SECTION)
    simulators.media.add_item(f"{feed} two", feed=feed)
    checked = page.request.post(
        f"/api/youtube/subscriptions/{created.json()['data']['id']}/check", headers=csrf(page)
    )
    assert checked.status == 202, checked.text()
    wait_for_api(
        page.context,
        "/api/youtube/downloads",
        lambda data: len(mine(data)) == 2 and mine(data)[0]["status"] == "completed",
        seconds=60,
    )
    newest = mine(page.request.get("/api/youtube/downloads").json()["data"])[0]
    assert (newest["error"] or "").startswith(NOT_DELIVERED), newest
    assert newest["plexPlaylistId"] is None, newest
    return str(newest["id"])


def pushes_about(frames: list[str], download_id: str) -> list[str]:
    return [frame for frame in frames if download_id in frame]


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_open_page_shows_the_download_delivered_once_the_library_is_shared(
    viewport: str,
    new_context: Any,
    simulators: SimulatorSuite,
    served: ServedApp,
    narrowed: None,
) -> None:
    size = {"viewport": PHONE} if viewport == "phone" else {}
    alice_context = new_context(**size)
    sign_in_plex_user(alice_context, simulators.info.plex_tv_url, "alice")
    alice = alice_context.new_page()
    download_id = a_download_left_undelivered(alice, simulators, served, f"e2e-live-{viewport}")

    alice.goto("/youtube")
    expect(alice.locator("#conn")).to_have_attribute("data-state", "live")
    row = alice.locator(f"[data-download-id='{download_id}']")
    expect(row.locator("[data-field=failure]")).to_contain_text(NOT_DELIVERED)
    expect(row.locator("[data-field=plex-link]")).to_have_count(0)
    expect(row.locator("[data-field=status]")).to_have_text("completed")
    # Set on this document only: a reload would lose it.
    alice.evaluate("window.__sameDocument = true")

    # dora's page is open too, listening on its own socket.
    dora_context = new_context(**size)
    sign_in_plex_user(dora_context, simulators.info.plex_tv_url, "dora")
    dora = dora_context.new_page()
    frames: list[str] = []
    requests: list[str] = []

    def listen(socket: WebSocket) -> None:
        socket.on("framereceived", lambda frame: frames.append(str(frame)))

    dora.on("websocket", listen)
    dora.on("request", lambda request: requests.append(request.url))
    dora.goto("/youtube")
    expect(dora.locator("#conn")).to_have_attribute("data-state", "live")

    share_alice(simulators, served)  # the owner shares "YouTube" again; the sweep sees it

    expect(row.locator("[data-field=failure]")).to_have_count(0, timeout=DELIVERY_SECONDS)
    expect(row).not_to_contain_text(NOT_DELIVERED)
    link = row.locator("[data-field=plex-link]")
    expect(link).to_have_text("In Plex as your private playlist: open it")
    expect(link.get_by_role("link")).to_have_attribute("href", re.compile(r"^/plex/playlists/\d+$"))
    expect(row.locator("[data-field=status]")).to_have_text("completed")
    expect(row).to_have_attribute("data-state", "completed")
    assert alice.evaluate("window.__sameDocument === true"), "the page was reloaded"
    fits = alice.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, "the downloads page is wider than the screen"

    # What she saw is what is stored.
    stored = alice.request.get(f"/api/youtube/downloads/{download_id}").json()["data"]
    assert stored["error"] is None and stored["plexPlaylistId"], stored
    # dora's socket was live throughout and heard nothing of alice's download; her page
    # asked for nothing of it.
    expect(dora.locator("#conn")).to_have_attribute("data-state", "live")
    assert frames, "dora's socket received nothing at all (not even its own status)"
    assert pushes_about(frames, download_id) == [], pushes_about(frames, download_id)
    assert [url for url in requests if download_id in url] == []
    expect(dora.locator(f"[data-download-id='{download_id}']")).to_have_count(0)
