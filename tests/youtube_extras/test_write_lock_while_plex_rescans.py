"""Unsubscribing with its files deletes each download and asks Plex to rescan its folder:
the rescans wait on Plex before any record is deleted, so the app's other writers (here
an admin's password sign-in) go on while Plex is slow.

On SQLite the first record's DELETE took the write lock, and the next download's rescan
then waited on Plex under it until the request committed (docs/fault-tolerance.md,
"Waiting under the write lock")."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.youtube.models import YoutubeDownload
from medianest_simulators import PlexSimulator
from medianest_simulators.media_server import MediaServerSimulator
from tests.auth.flows import password_sign_in
from tests.factories.users import (
    TEST_PASSWORD,
    make_client,
    prepare_bootstrap_admin,
    signed_in_client,
)
from tests.support.held_requests import until_received
from tests.support.write_lock import WriteLockRecorder
from tests.youtube_extras.conftest import all_finished, wait_for


def _rescans(plex: PlexSimulator) -> list[str]:
    return [r.path for r in plex.requests() if r.path.endswith("/refresh")]


async def test_a_sign_in_completes_while_unsubscribing_waits_on_plex_rescans(
    worker_app: MediaNestApp,
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
    download_root: Path,
) -> None:
    admin = await prepare_bootstrap_admin(worker_app)
    async with await signed_in_client(worker_app, alice) as client:
        created = await client.post(
            "/api/youtube/subscriptions", json={"url": media.feed_url(), "intervalHours": 24}
        )
        assert created.status_code == 201, created.text
        path = f"/api/youtube/subscriptions/{created.json()['data']['id']}"
        await wait_for(worker_app, all_finished(1), user_id=alice.id)
        media.add_item("Clip Four")
        assert (await client.post(f"{path}/check")).status_code == 202
        rows = await wait_for(worker_app, all_finished(2), user_id=alice.id)
        assert [r.status for r in rows] == ["completed", "completed"]
        # The downloads' deliveries asked Plex to scan their library's folder too.
        refresh = _rescans(plex)[-1]
        before = len(_rescans(plex))
        plex.hold_requests(refresh, "GET", times=1)  # the first download's rescan
        unsubscribing = asyncio.create_task(client.delete(f"{path}?deleteFiles=true"))
        recorder = WriteLockRecorder(worker_app.ctx.engine)
        async with make_client(worker_app) as other, recorder.recording() as lock:
            try:
                await until_received(plex, refresh, "GET", count=before + 1)
                # Released and held again with no await between: the app's next rescan
                # (the second download's) is held too.
                plex.release_requests()
                plex.hold_requests(refresh, "GET")
                await _until_rescans(plex, before + 2)
                assert lock.open_holds() == []  # (SQLite: no write waits on Plex)
                signed_in = await password_sign_in(other, admin.username, TEST_PASSWORD)
                # Before Plex answered the second rescan: no DELETE held the write lock.
                assert signed_in.status_code == 200, signed_in.text
                assert not unsubscribing.done()
            finally:
                plex.release_requests()
        assert (await unsubscribing).status_code == 204
    folder = download_root / str(alice.id) / "Loopback Test Channel"
    assert not folder.exists() or not any(folder.iterdir())
    async with session_scope(worker_app.ctx.session_factory) as session:
        assert await session.scalar(select(func.count()).select_from(YoutubeDownload)) == 0


async def _until_rescans(plex: PlexSimulator, count: int, seconds: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while len(_rescans(plex)) < count:
        assert asyncio.get_running_loop().time() < deadline, "the rescans did not arrive"
        await asyncio.sleep(0.02)
