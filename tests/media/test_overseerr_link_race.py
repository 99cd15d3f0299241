"""Two people's first requests at the same moment, both finding the one Overseerr user:
exactly one is linked to it, the other refused 409 OVERSEERR_USER_TAKEN, every time.

The world: Overseerr's user list MediaNest kept named the "family" user as erin's Plex
account; since then Overseerr's import gave it dave's (routes/user/index.ts:507-525: the
user matched by email or plexId is updated). erin's request finds it in the kept list,
dave's by his import and the list asked for then; both would link it. The check ("no
other account is linked to it") and the write were two statements, so both requests
passed the check before either wrote. Real sockets: MediaNest → the Overseerr simulator
→ the plex.tv simulator; SQLite and PostgreSQL (`--backend`).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.app import MediaNestApp
from medianest_simulators import OverseerrSimulator, PlexTvSimulator
from medianest_simulators.plextv_models import MACHINE_IDENTIFIER
from tests.factories.users import create_user, signed_in_client
from tests.media.test_overseerr_import import request_movie
from tests.media.test_overseerr_managed_users import household, settings

__all__ = ["household", "settings"]

# Three rounds, more until two contended (a loaded machine may let one request finish
# before the other looks), at most MAX_ROUNDS; two titles a round: 400001..400016.
ROUNDS = 3
CONTENDED_ROUNDS = 2
MAX_ROUNDS = 8


@pytest.mark.parametrize("first", ["erin", "dave"])
async def test_concurrent_automatic_links_to_one_overseerr_user_link_only_one(
    app: MediaNestApp,
    household: None,
    plextv: PlexTvSimulator,
    overseerr_sim: OverseerrSimulator,
    admin_client: httpx.AsyncClient,
    first: str,
) -> None:
    """Every round both look the family user up at once: one is linked, the other
    refused TAKEN with nothing requested; never both. (Seldom erin's lookup comes after
    dave's list refreshed the kept one: she is then imported as her own user, no
    contention: allowed, but rounds go on until two contended.)"""
    plextv.add_user("erin", email="erin@medianest.test")
    plextv.share_server("erin", MACHINE_IDENTIFIER, "sim-pms-erin-access")
    plex = {who: plextv.accounts[who].id for who in ("erin", "dave")}
    users = {who: await create_user(app, who, plex_id=str(plex[who])) for who in plex}
    family = overseerr_sim.add_user("family", plex_id=plex["erin"])
    overseerr = await app.ctx.integrations.overseerr()
    assert overseerr is not None
    order = [first, "dave" if first == "erin" else "erin"]
    contended = 0
    async with (
        await signed_in_client(app, users["erin"]) as erin,
        await signed_in_client(app, users["dave"]) as dave,
    ):
        clients = {"erin": erin, "dave": dave}
        for n in range(MAX_ROUNDS):
            if n >= ROUNDS and contended >= CONTENDED_ROUNDS:
                break
            mine = overseerr_sim.users.values()
            for uid in [u.id for u in mine if u.plex_id == plex["erin"] and u is not family]:
                del overseerr_sim.users[uid]  # a previous round's import of erin
            family.plex_id = plex["erin"]  # as MediaNest last read the list
            assert await overseerr.user_for_plex_account(plex["erin"], fresh=True) == family.id
            family.plex_id = plex["dave"]  # Overseerr's import gave it to dave since
            titles = {"erin": 400001 + 2 * n, "dave": 400002 + 2 * n}
            answers = await asyncio.gather(
                *(request_movie(clients[who], titles[who]) for who in order)
            )
            by = dict(zip(order, answers, strict=True))
            contended += await _one_linked(admin_client, overseerr_sim, by, family.id)
            for who in order:  # handed back: the next round links anew
                reset = await admin_client.put(
                    f"/api/admin/users/{users[who].id}", json={"overseerrLink": "automatic"}
                )
                assert reset.status_code == 200, reset.text
    assert contended >= CONTENDED_ROUNDS


async def _one_linked(
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
    by: dict[str, httpx.Response],
    family: int,
) -> int:
    """Exactly one linked to `family` and requesting as it; 1 when the other was refused
    for it (contended), 0 when the other was linked to a user of their own."""
    rows = (await admin_client.get("/api/admin/users")).json()["data"]
    linked = {u["username"]: u["overseerrUserId"] for u in rows if u["username"] in by}
    assert list(linked.values()).count(family) == 1, (linked, [a.text for a in by.values()])
    (winner,) = [who for who, to in linked.items() if to == family]
    assert by[winner].status_code == 201, by[winner].text
    made = overseerr_sim.media_requests[by[winner].json()["data"]["overseerrId"]]
    assert made.requested_by.id == family
    (other,) = [who for who in by if who != winner]
    if by[other].status_code == 201:
        assert linked[other] not in (None, family)
        return 0
    assert by[other].status_code == 409, by[other].text
    assert by[other].json()["error"]["code"] == "OVERSEERR_USER_TAKEN"
    assert linked[other] is None
    return 1


async def test_an_admins_link_in_flight_wins_over_an_automatic_link_to_the_same_user(
    app: MediaNestApp,
    backend: str,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """PostgreSQL: the admin links dave to the "family" Overseerr user by hand while erin's
    first request finds that user (its plexId is hers) and links it automatically. The
    admin's save is held between its write and its commit (its audit row waits on a lock
    of the audit table taken here) while erin's request runs: her link must wait for the
    admin's to commit, then see it and be refused (an automatic link never shares an
    Overseerr user): one winner. Without the admin's `lock_overseerr_user` her guarded
    write sees no committed link (READ COMMITTED) and both are linked."""
    if backend != "postgres":
        pytest.skip("PostgreSQL's READ COMMITTED; SQLite runs one writer at a time")
    erin = await create_user(app, "erin", plex_id="5001")
    dave = await create_user(app, "dave")
    family = overseerr_sim.add_user("family", plex_id=5001)
    blocker = app.ctx.session_factory()
    await blocker.execute(text("LOCK TABLE audit_log IN SHARE MODE"))
    try:
        async with await signed_in_client(app, erin) as erin_client:
            saving = asyncio.create_task(
                admin_client.put(f"/api/admin/users/{dave.id}", json={"overseerrUserId": family.id})
            )
            await _until_waiting(blocker, 1)  # the admin's commit, at its audit row
            asking = asyncio.create_task(request_movie(erin_client, 400001))
            await _until_waiting(blocker, 2)  # erin's link: at the lock, or (no lock) its commit
            await blocker.rollback()
            saved, asked = await asyncio.gather(saving, asking)
    finally:
        await blocker.close()
    assert saved.status_code == 200, saved.text
    assert asked.status_code == 409, asked.text
    assert asked.json()["error"]["code"] == "OVERSEERR_USER_TAKEN"
    rows = (await admin_client.get("/api/admin/users")).json()["data"]
    linked = {u["username"]: u["overseerrUserId"] for u in rows}
    assert (linked["dave"], linked["erin"]) == (family.id, None)
    assert overseerr_sim.log.entries("/api/v1/request", "POST") == []


async def _until_waiting(session: AsyncSession, count: int) -> None:
    """Until `count` PostgreSQL backends wait for a lock (`pg_locks` is live, not a
    snapshot kept for the transaction as `pg_stat_activity` is)."""
    waiting = text("SELECT count(*) FROM pg_locks WHERE NOT granted")
    async with asyncio.timeout(10):
        while int((await session.execute(waiting)).scalar_one()) < count:
            await asyncio.sleep(0.02)
