"""Overseerr simulator: users' permission bits (server/lib/permissions.ts), a new
request's status decided by the CALLER's (entity/MediaRequest.ts `request`), acting as a
user with `X-API-User` and its 403 for an id Overseerr does not have (middleware/auth.ts)."""

from __future__ import annotations

import httpx

from medianest_simulators import OverseerrSimulator
from medianest_simulators.overseerr_data import (
    ADMIN,
    APPROVED,
    AUTO_APPROVE_MOVIE,
    MANAGE_REQUESTS,
    MANAGE_USERS,
    PENDING,
    PROCESSING,
    REQUEST,
    REQUEST_TV,
)
from tests.simulators.test_sim_overseerr import KEY, request_media

NOT_AUTHENTICATED = {"status": 403, "error": "You do not have permission to access this endpoint"}
MOVIE = {"mediaType": "movie", "mediaId": 400002}
SERIES = {"mediaType": "tv", "mediaId": 500003, "seasons": [1]}


def as_user(uid: int | str) -> dict[str, str]:
    return {"X-API-User": str(uid)}


def test_an_x_api_user_overseerr_does_not_have_is_isauthenticateds_403_on_every_route(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    """checkUser leaves `req.user` unset; isAuthenticated() guards every API route."""
    overseerr.delete_user(3)
    for uid in ("3", "99", "0", "abc"):
        made = request_media(overseerr, http, MOVIE, as_user(uid))
        listed = http.get(overseerr.url + "/api/v1/request", headers=KEY | as_user(uid))
        for answer in (made, listed):
            assert answer.status_code == 403
            assert answer.json() == NOT_AUTHENTICATED
    assert not [r for r in overseerr.media_requests.values() if r.media.title.tmdb_id == 400002]


def test_an_empty_x_api_user_acts_as_the_admin(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    """`if (req.header('X-API-User'))`: an empty value is no user named."""
    made = request_media(overseerr, http, MOVIE, as_user(""))
    assert made.status_code == 201
    assert made.json()["requestedBy"]["id"] == 1


def test_users_carry_their_permission_bits_settable_through_the_control(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    def shown() -> dict[int, int]:
        rows = http.get(overseerr.url + "/api/v1/user", headers=KEY).json()["results"]
        return {row["id"]: row["permissions"] for row in rows}

    assert shown() == {1: ADMIN, 2: REQUEST, 3: REQUEST}
    assert overseerr.add_user("dora", plex_id=77).permissions == REQUEST  # defaultPermissions
    answer = http.post(
        overseerr.url + "/__sim/users/2/permissions",
        json={"permissions": REQUEST | AUTO_APPROVE_MOVIE},
    )
    assert answer.status_code == 200
    assert shown()[2] == REQUEST | AUTO_APPROVE_MOVIE
    bad = http.post(overseerr.url + "/__sim/users/99/permissions", json={"permissions": 32})
    assert bad.status_code == 400


def test_a_new_request_is_approved_by_the_callers_auto_approve_permission(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    overseerr.set_permissions(2, REQUEST | AUTO_APPROVE_MOVIE)
    movie = request_media(overseerr, http, MOVIE, as_user(2))
    series = request_media(overseerr, http, SERIES, as_user(2))
    assert (movie.status_code, movie.json()["status"]) == (201, APPROVED)
    assert movie.json()["modifiedBy"]["id"] == 2
    assert (series.status_code, series.json()["status"]) == (201, PENDING)
    assert series.json()["modifiedBy"] is None


def test_a_request_for_a_named_user_takes_the_callers_approval_not_theirs(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    """The body-`userId` way: bob (REQUEST only) would wait in Overseerr, but the admin
    calling approves his request at once; as bob himself (`X-API-User`) it waits."""
    for_bob = request_media(overseerr, http, MOVIE | {"userId": 3})
    as_bob = request_media(overseerr, http, SERIES, as_user(3))
    assert (for_bob.json()["requestedBy"]["id"], for_bob.json()["status"]) == (3, APPROVED)
    assert (as_bob.json()["requestedBy"]["id"], as_bob.json()["status"]) == (3, PENDING)


def test_the_owners_own_requests_are_approved_at_once_as_admin_has_every_permission(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    """MediaRequest.ts `request`: the caller (the API key's admin, user 1) has ADMIN, so
    `hasPermission([AUTO_APPROVE, ..., MANAGE_REQUESTS], {type: 'or'})` holds; the
    media goes PROCESSING (`updateParentStatus`)."""
    movie = request_media(overseerr, http, MOVIE)
    series = request_media(overseerr, http, SERIES)
    assert (movie.status_code, movie.json()["status"]) == (201, APPROVED)
    assert (series.status_code, series.json()["status"]) == (201, APPROVED)
    assert movie.json()["modifiedBy"]["id"] == 1
    assert movie.json()["media"]["status"] == PROCESSING


def test_a_user_without_request_permission_is_refused_per_kind(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    overseerr.set_permissions(2, REQUEST_TV)
    movie = request_media(overseerr, http, MOVIE, as_user(2))
    series = request_media(overseerr, http, SERIES, as_user(2))
    assert movie.status_code == 403
    assert movie.json()["message"] == "You do not have permission to make movie requests."
    assert series.status_code == 201
    overseerr.set_permissions(2, 0)
    refused = request_media(overseerr, http, SERIES | {"seasons": [2]}, as_user(2))
    assert refused.json()["message"] == "You do not have permission to make series requests."


def test_naming_a_request_user_needs_manage_users_and_manage_requests(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    """`hasPermission([MANAGE_USERS, MANAGE_REQUESTS])`: both (type `and`), or ADMIN."""
    overseerr.set_permissions(2, REQUEST | MANAGE_REQUESTS)
    refused = request_media(overseerr, http, MOVIE | {"userId": 3}, as_user(2))
    assert refused.status_code == 403
    assert refused.json()["message"] == "You do not have permission to modify the request user."
    overseerr.set_permissions(2, REQUEST | MANAGE_REQUESTS | MANAGE_USERS)
    made = request_media(overseerr, http, MOVIE | {"userId": 3}, as_user(2))
    # MANAGE_REQUESTS also approves at once (MediaRequest.ts), by the caller.
    assert (made.status_code, made.json()["status"]) == (201, APPROVED)
    assert made.json()["requestedBy"]["id"] == 3


def test_a_users_request_quota_counts_requests_and_seasons_as_getquota_does(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    """entity/User.ts `getQuota`: requests of the kind in the window, declined ones not
    counted, a show's seasons; MediaRequest.ts: restricted when used up, and a show asking
    for more seasons than remain; MANAGE_USERS bypasses it. routes/request.ts: 403."""
    overseerr.set_quota(2, "movie", 1, 7)
    overseerr.set_quota(2, "tv", 1, 7)
    first = request_media(overseerr, http, MOVIE, as_user(2))
    assert first.status_code == 201, first.text
    over = request_media(overseerr, http, {"mediaType": "movie", "mediaId": 400003}, as_user(2))
    assert (over.status_code, over.json()["message"]) == (403, "Movie Quota exceeded.")
    overseerr.set_request_status(first.json()["id"], "declined")  # no longer counted
    again = request_media(overseerr, http, {"mediaType": "movie", "mediaId": 400003}, as_user(2))
    assert again.status_code == 201, again.text

    too_many = SERIES | {"seasons": [1, 2]}  # two seasons, one allowed
    refused = request_media(overseerr, http, too_many, as_user(2))
    assert (refused.status_code, refused.json()["message"]) == (403, "Series Quota exceeded.")
    assert request_media(overseerr, http, SERIES, as_user(2)).status_code == 201
    overseerr.set_permissions(2, REQUEST | MANAGE_USERS)
    assert (
        request_media(
            overseerr, http, {"mediaType": "movie", "mediaId": 400004}, as_user(2)
        ).status_code
        == 201
    )
