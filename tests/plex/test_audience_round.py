"""One round of the Plex audience sweep (`access.sweep_round`, what `start_audience_sweep`
runs every `MEDIANEST_PLEX_AUDIENCE_REFRESH_SECONDS`) asks plex.tv's user list
(`/api/users`) once: the one answer says who the server is for (sign-in, the sign-out of
those who lost access) and each account's restrictions (share changes). Before, the
share-change step read the same list again. Counted at the plex.tv simulator's socket;
with the in-memory cache on SQLite and Redis on PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from medianest.app import MediaNestApp
from medianest.auth.plex_sign_in import access
from medianest.auth.plex_sign_in import audience as plex_audience
from medianest.auth.plex_sign_in.share_changes import follow_share_changes
from medianest.integrations.plextv import ServerAudience
from medianest.settings import Settings
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.plextv_models import (
    ALICE_TOKEN,
    BOB_TOKEN,
    MACHINE_IDENTIFIER,
    OWNER_TOKEN,
)
from tests.factories.users import create_user, signed_in_client
from tests.plex.test_restrictions import EVERY_FILM, KIDS, PG13, film_titles

USERS = "/api/users"
SHARED_SERVERS = f"/api/servers/{MACHINE_IDENTIFIER}/shared_servers"


async def a_round(plextv: PlexTvSimulator, app: MediaNestApp) -> int:
    """Run one sweep round; how many times it asked plex.tv's user list."""
    before = plextv.request_count(USERS, "GET")
    await access.sweep_round(app.ctx)
    return plextv.request_count(USERS, "GET") - before


@pytest.mark.parametrize("mode", ["server_users", "any_account"])
async def test_a_sweep_round_asks_plextv_for_its_user_list_once(
    app_factory: Callable[..., Any],
    settings: Settings,
    plextv: PlexTvSimulator,
    plex_sim: PlexSimulator,
    mode: str,
) -> None:
    """Both steps ran (the shares were read, the audience kept) on that one answer, and
    every round asks again: the sweep is what notices changes."""
    app: MediaNestApp = await app_factory(settings.model_copy(update={"plex_signin": mode}))
    for _ in range(3):
        shares_before = plextv.request_count(SHARED_SERVERS, "GET")
        assert await a_round(plextv, app) == 1
        assert plextv.request_count(SHARED_SERVERS, "GET") == shares_before + 1
    key = await plex_audience.audience_cache_key(app.ctx)
    assert key is not None
    kept = await app.ctx.cache.get(key)
    assert isinstance(kept, dict) and time.time() - kept["fetchedAt"] < 60


async def test_the_running_sweep_asks_for_the_user_list_once_per_round(
    app_factory: Callable[..., Any],
    settings: Settings,
    plextv: PlexTvSimulator,
    plex_sim: PlexSimulator,
) -> None:
    """The sweep as the app runs it (every 0.2 s here): each round reads the shares once,
    so over several rounds the user list is read as often as the shares — one more at
    most, a round caught between its two reads."""
    await app_factory(
        settings.model_copy(update={"plex_audience_refresh_seconds": 0.2}), housekeeping=True
    )
    async with asyncio.timeout(15):  # a hang guard: a round every 0.2 s
        while plextv.request_count(SHARED_SERVERS, "GET") < 4:
            await asyncio.sleep(0.05)
    shares = plextv.request_count(SHARED_SERVERS, "GET")
    users = plextv.request_count(USERS, "GET")
    assert shares <= users <= shares + 1, (users, shares)


async def test_a_restriction_added_on_plextv_is_followed_by_the_next_round(
    app_factory: Callable[..., Any],
    settings: Settings,
    plextv: PlexTvSimulator,
    plex_sim: PlexSimulator,
) -> None:
    """The kid's film list is kept (ten minutes by default); the owner restricts his
    account on plex.tv. The kept list is served until a round reads the restriction, and
    not after it — the restriction taken from the round's one read of `/api/users`."""
    app: MediaNestApp = await app_factory(settings)
    bob = await create_user(
        app, "bob", plex_id=str(plextv.accounts["bob"].id), plex_token=BOB_TOKEN
    )
    assert await a_round(plextv, app) == 1
    async with await signed_in_client(app, bob) as kid:
        assert await film_titles(kid) == EVERY_FILM
        plextv.restrict("bob", KIDS)
        assert await film_titles(kid) == EVERY_FILM  # kept: no round has seen it yet
        assert await a_round(plextv, app) == 1
        assert await film_titles(kid) == EVERY_FILM - PG13
        assert await a_round(plextv, app) == 1  # nothing new: still one read, same view
        assert await film_titles(kid) == EVERY_FILM - PG13


async def test_following_share_changes_called_alone_asks_plextv_itself(
    app_factory: Callable[..., Any],
    settings: Settings,
    plextv: PlexTvSimulator,
    plex_sim: PlexSimulator,
) -> None:
    """Without a round's audience (or with one of another server) the step reads the
    restrictions now, never from an older cached audience."""
    app: MediaNestApp = await app_factory(settings)
    assert await follow_share_changes(app.ctx)  # the first read: nothing seen before
    assert not await follow_share_changes(app.ctx)
    plextv.restrict("bob", KIDS)
    users_before = plextv.request_count(USERS, "GET")
    assert await follow_share_changes(app.ctx)
    assert plextv.request_count(USERS, "GET") == users_before + 1
    plextv.restrict("bob", KIDS.changed({"filterMovies": "contentRating=G"}))
    elsewhere = ServerAudience(
        owner_id=1, shared_ids=frozenset(), restrictions={}, machine_identifier="f" * 40
    )
    assert await follow_share_changes(app.ctx, audience=elsewhere)
    assert plextv.request_count(USERS, "GET") == users_before + 2


@pytest.mark.parametrize(
    "kept",
    [
        # as versions before this one kept it: no restrictions
        {"ownerId": 1, "sharedIds": [], "machineIdentifier": MACHINE_IDENTIFIER},
        {"ownerId": 1, "sharedIds": [], "machineIdentifier": MACHINE_IDENTIFIER, "restrictions": 7},
        {"ownerId": "x", "sharedIds": [], "restrictions": [], "machineIdentifier": ""},
    ],
)
async def test_an_audience_kept_in_another_shape_is_asked_again(
    app_factory: Callable[..., Any],
    settings: Settings,
    plextv: PlexTvSimulator,
    plex_sim: PlexSimulator,
    kept: dict[str, Any],
) -> None:
    """A Redis entry left by an older version (or damaged) is a miss, not a crash and not
    an empty audience that would refuse everyone: alice, shared, is admitted."""
    app: MediaNestApp = await app_factory(settings)
    key = await plex_audience.audience_cache_key(app.ctx)
    assert key is not None
    await app.ctx.cache.set(key, kept | {"fetchedAt": time.time()}, 600)
    alice_id = plextv.accounts["alice"].id
    users_before = plextv.request_count(USERS, "GET")
    assert await access.admits(app.ctx, account_id=alice_id, username="alice")
    assert plextv.request_count(USERS, "GET") == users_before + 1
    audience = await plex_audience.server_audience(app.ctx, max_age=600)
    assert plextv.request_count(USERS, "GET") == users_before + 1  # kept in the new shape
    assert alice_id in audience.shared_ids and alice_id in audience.restrictions


@pytest.mark.parametrize("fault", ["hang", "error"])
async def test_plextv_failing_in_a_round_skips_it_and_signs_nobody_out(
    app_factory: Callable[..., Any],
    make_settings: Callable[..., Settings],
    plextv: PlexTvSimulator,
    plex_sim: PlexSimulator,
    fault: str,
) -> None:
    """plex.tv's user list hangs (past the 1 s timeout) or fails: the round ends after
    that one attempt, alice stays signed in, the kept audience still admits her, and the
    next round after plex.tv is back follows what changed meanwhile."""
    settings = make_settings(
        plex_url=plex_sim.url, plex_token=OWNER_TOKEN, http_timeout_seconds=1.0
    )
    app: MediaNestApp = await app_factory(settings)
    alice_id = plextv.accounts["alice"].id
    alice = await create_user(app, "alice", plex_id=str(alice_id), plex_token=ALICE_TOKEN)
    bob = await create_user(
        app, "bob", plex_id=str(plextv.accounts["bob"].id), plex_token=BOB_TOKEN
    )
    assert await a_round(plextv, app) == 1
    async with (
        await signed_in_client(app, alice) as friend,
        await signed_in_client(app, bob) as kid,
    ):
        assert await film_titles(kid) == EVERY_FILM
        plextv.restrict("bob", KIDS)
        plextv.set_fault(fault, path_prefix=USERS)
        async with asyncio.timeout(15):  # a hang guard: the timeout is 1 s
            assert await a_round(plextv, app) == 1
        assert (await friend.get("/api/auth/session")).status_code == 200
        assert await access.admits(app.ctx, account_id=alice_id, username="alice")
        assert await film_titles(kid) == EVERY_FILM  # nothing was followed half

        plextv.clear_fault()
        assert await a_round(plextv, app) == 1
        assert (await friend.get("/api/auth/session")).status_code == 200
        assert await film_titles(kid) == EVERY_FILM - PG13
