"""Saving the admin's Plex panel (the content rating, the Plex path) answers without
waiting on Plex: the panel then asks for Plex's libraries in a request of its own, so the
app's other writers (here a password sign-in) do not wait on a slow Plex.

On SQLite the save's writes held the write lock while the answer listed Plex's libraries
and shares before the request committed (docs/fault-tolerance.md, "Waiting under the
write lock")."""

from __future__ import annotations

import asyncio

import httpx

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest_simulators import PlexSimulator
from tests.auth.flows import password_sign_in
from tests.factories.users import TEST_PASSWORD, make_client
from tests.support.write_lock import WriteLockRecorder

HTMX = {"Accept": "text/html", "HX-Request": "true"}


async def test_a_sign_in_completes_while_the_saved_plex_panel_waits_on_plex(
    app: MediaNestApp, admin: User, admin_client: httpx.AsyncClient, plex: PlexSimulator
) -> None:
    asked = plex.request_count("/library/sections", "GET")
    plex.hold_requests("/library/sections", "GET")  # Plex hangs on listing its libraries
    saving = asyncio.create_task(
        admin_client.put("/admin/plex-downloads", data={"contentRating": "G"}, headers=HTMX)
    )
    async with make_client(app) as other, WriteLockRecorder(app.ctx.engine).recording() as lock:
        try:
            while not saving.done() and plex.request_count("/library/sections", "GET") == asked:
                await asyncio.sleep(0.02)
            signed_in = await password_sign_in(other, admin.username, TEST_PASSWORD)
            assert signed_in.status_code == 200, signed_in.text
            assert lock.open_holds() == []
            # Answered without Plex: on main the save listed Plex's libraries under its
            # writes, and the sign-in waited until it gave Plex up.
            saved = await saving
            assert saved.status_code == 200, saved.text
            assert "cannot be listed" not in saved.text
            assert 'data-field="plex-view-later"' in saved.text
            assert 'value="G"' in saved.text
        finally:
            plex.release_requests()
    # The panel's own request then shows Plex's libraries.
    panel = await admin_client.get("/admin/plex-downloads", headers=HTMX)
    assert panel.status_code == 200
    assert "data-library-id=" in panel.text
    assert (await admin_client.get("/api/admin/config/youtube")).json()["data"][
        "contentRating"
    ] == "G"
