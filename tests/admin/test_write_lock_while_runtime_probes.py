"""Resuming the YouTube queue (closing its breaker) asks the JS runtime for its version
before it writes: a runtime that hangs on `--version` (a broken binary, a stale network
mount) keeps no write lock, so the app's other writers (here a password sign-in) go on.

On SQLite the close's writes held the write lock while the answer's System info ran the
runtime (up to its 15 s limit) before the request committed (docs/fault-tolerance.md,
"Waiting under the write lock")."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medianest.app import MediaNestApp
from medianest.settings import Settings
from tests.auth.flows import password_sign_in
from tests.factories.users import (
    TEST_PASSWORD,
    make_client,
    prepare_bootstrap_admin,
    signed_in_client,
)
from tests.support.write_lock import WriteLockRecorder

# A Deno that answers `--version` only once the test lets it (a file appears).
HANGING_DENO = """#!/bin/sh
touch "{folder}/asked"
while [ ! -e "{folder}/go" ]; do sleep 0.05; done
echo "deno 2.5.6 (stable, release, x86_64-unknown-linux-gnu)"
"""


async def _until_exists(path: Path, seconds: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not path.exists():
        assert asyncio.get_running_loop().time() < deadline, f"{path} never appeared"
        await asyncio.sleep(0.02)


async def test_a_sign_in_completes_while_resuming_the_queue_waits_on_the_js_runtime(
    app_factory: Callable[[Settings], Any], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    deno = tmp_path / "deno"
    deno.write_text(HANGING_DENO.format(folder=tmp_path))
    deno.chmod(0o755)
    app: MediaNestApp = await app_factory(make_settings(ytdlp_js_runtime=f"deno:{deno}"))
    admin = await prepare_bootstrap_admin(app)
    async with (
        await signed_in_client(app, admin) as admin_client,
        make_client(app) as other,
        WriteLockRecorder(app.ctx.engine).recording() as lock,
    ):
        closing = asyncio.create_task(admin_client.post("/api/admin/system/queue-breaker/close"))
        try:
            await _until_exists(tmp_path / "asked")
            signed_in = await password_sign_in(other, admin.username, TEST_PASSWORD)
            # Before the runtime answered: the close had not written yet.
            assert signed_in.status_code == 200, signed_in.text
            assert lock.open_holds() == []
            assert not closing.done()
        finally:
            (tmp_path / "go").touch()
        closed = await closing
    assert closed.status_code == 200, closed.text
    info = closed.json()["data"]
    assert info["queueBreaker"]["state"] == "closed"
    assert info["ytDlp"]["challengeSolver"]["version"] == "2.5.6"
