"""H1: a flood of unauthenticated sign-ins must not starve signed-in users.

200 bogus `POST /api/auth/admin` at once (each a different name, so the per-name
throttle does not stop them: every one costs an Argon2 check). Before the fix each
held a database connection across its password check: the pool ran dry, 63 answered
500 and a bystander's list page took 31 s. Now the check runs without a connection,
in a bounded pool that answers 503 SERVICE_BUSY when its queue is full.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from medianest.auth.models import User
from medianest.settings import Settings
from tests.attack.support import WAITED_FOR_A_POOL, Bystander, flood, many_connections
from tests.faults.support import AppProcess
from tests.support.http import http_client

FLOOD = 200


@pytest.mark.timeout(180)
async def test_a_sign_in_flood_leaves_other_users_list_pages_fast_and_never_answers_500(
    serve: Callable[..., Awaitable[AppProcess]],
    attack_settings: Callable[..., Settings],
    alice: User,
    alice_client: httpx.AsyncClient,
) -> None:
    served = await serve(attack_settings())
    async with http_client(base_url=served.url, limits=many_connections(FLOOD), timeout=60) as anon:
        bystander = Bystander(served.url, alice_client.cookies)
        with bystander:

            async def bogus_sign_in(index: int) -> httpx.Response:
                return await anon.post(
                    "/api/auth/admin",
                    json={"username": f"intruder{index}", "password": "wrong-password-123"},
                )

            statuses, answers = await flood(FLOOD, bogus_sign_in)
            probe = await bystander.finish()

    print(f"login flood of {FLOOD}: {dict(statuses)}; {probe.summary()}")
    assert set(statuses) <= {401, 429, 503}, statuses
    assert statuses[401] >= 1
    for answer in answers:
        body = answer.json()
        assert body["success"] is False
        if answer.status_code == 503:
            assert body["error"]["code"] == "SERVICE_BUSY"
            assert int(answer.headers["Retry-After"]) >= 1
    assert set(probe.statuses) == {200}, probe.statuses
    assert probe.slowest < WAITED_FOR_A_POOL, probe.summary()
