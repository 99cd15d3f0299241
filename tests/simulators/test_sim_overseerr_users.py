"""Overseerr simulator: the user list as routes/user/index.ts answers it (by id, `take`
and `skip`, `pageInfo` computed the same way) with `plexId` and `email` shown only to a
caller with MANAGE_USERS (entity/User.ts `filter()`)."""

from __future__ import annotations

import httpx

from medianest_simulators import OverseerrSimulator
from medianest_simulators.overseerr_data import API_KEY

KEY = {"X-Api-Key": API_KEY}


def users(sim: OverseerrSimulator, http: httpx.Client, **params: object) -> httpx.Response:
    return http.get(sim.url + "/api/v1/user", params=params, headers=KEY)


def test_the_user_list_pages_by_id_with_take_and_skip(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    for n in range(4):
        overseerr.add_user(f"viewer{n}", plex_id=9000 + n)
    first = users(overseerr, http, take=3).json()
    assert first["pageInfo"] == {"pages": 3, "pageSize": 3, "results": 7, "page": 1}
    assert [u["id"] for u in first["results"]] == [1, 2, 3]
    last = users(overseerr, http, take=3, skip=6).json()
    assert last["pageInfo"] == {"pages": 3, "pageSize": 3, "results": 7, "page": 3}
    assert [(u["id"], u["plexId"]) for u in last["results"]] == [(7, 9003)]
    # Overseerr's `Math.ceil(skip / pageSize) + 1`: a skip between pages rounds up.
    assert users(overseerr, http, take=3, skip=4).json()["pageInfo"]["page"] == 3
    # No `take`: Overseerr's 10.
    assert users(overseerr, http).json()["pageInfo"]["pageSize"] == 10


def test_plex_users_carry_their_plex_account_id_and_local_users_none(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    overseerr.add_user("localonly")
    rows = {u["username"]: u for u in users(overseerr, http, take=100).json()["results"]}
    assert {name: (u["plexId"], u["userType"]) for name, u in rows.items()} == {
        "plexowner": (1, 1),
        "alice": (2, 1),
        "bob": (3, 1),
        "localonly": (None, 2),
    }
    assert rows["alice"]["email"] == "alice@medianest.test"


def test_a_caller_without_manage_users_sees_no_plex_id_or_email(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    as_alice = KEY | {"X-API-User": "2"}
    listed = http.get(overseerr.url + "/api/v1/user", headers=as_alice).json()["results"]
    one = http.get(overseerr.url + "/api/v1/user/3", headers=as_alice).json()
    for shown in [*listed, one]:
        assert "plexId" not in shown and "email" not in shown
    assert one["username"] == "bob"
