"""plex.tv simulator: who the owner's server is shared with, in plex.tv's forms — the XML
of `/api/users`, `/api/servers/{id}/shared_servers` and `/api/home/users` (attributes
as python-plexapi's `MyPlexUser`, `MyPlexServerShare` and `Section` read them) and the
JSON of `/api/v2/home/users` and `/api/v2/friends`."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import httpx
import pytest

from medianest_simulators import PlexTvSimulator
from medianest_simulators.plextv_models import (
    ALICE_SERVER_TOKEN,
    ALICE_TOKEN,
    CAROL_SERVER_TOKEN,
    CAROL_TOKEN,
    EVE_TOKEN,
    MACHINE_IDENTIFIER,
    OWNER_TOKEN,
)

CLIENT = {"X-Plex-Client-Identifier": "medianest-test-client", "X-Plex-Product": "MediaNest"}


def _xml(plextv: PlexTvSimulator, http: httpx.Client, path: str, token: str) -> ET.Element:
    answer = http.get(plextv.url + path, headers=CLIENT | {"X-Plex-Token": token})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/xml")
    assert answer.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(answer.content)


def _users_by_name(container: ET.Element) -> dict[str, ET.Element]:
    return {user.attrib["username"]: user for user in container.iter("User")}


def test_api_users_lists_friends_with_their_server_shares_and_the_home(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    container = _xml(plextv, http, "/api/users", OWNER_TOKEN)
    assert container.tag == "MediaContainer"
    assert container.attrib["identifier"] == "com.plexapp.plugins.myplex"
    users = _users_by_name(container)
    assert set(users) == {"alice", "bob", "carol"}
    assert container.attrib["size"] == "3"
    alice = users["alice"]
    for name in ("id", "title", "email", "thumb", "home", "protected", "restricted", "allowSync"):
        assert name in alice.attrib
    assert alice.attrib["home"] == "0" and users["carol"].attrib["home"] == "1"
    (server,) = alice.findall("Server")
    assert server.attrib["machineIdentifier"] == MACHINE_IDENTIFIER
    assert server.attrib["pending"] == "0" and server.attrib["allLibraries"] == "1"
    assert server.attrib["lastSeenAt"].isdigit() and server.attrib["numLibraries"].isdigit()
    # carol is in the Home and the libraries are shared with her: a `<Server>` like a
    # friend's (python-plexapi `createHomeUser`: the Home, then a `shared_servers` POST).
    (carols,) = users["carol"].findall("Server")
    assert carols.attrib["machineIdentifier"] == MACHINE_IDENTIFIER


def test_home_members_without_shared_libraries_have_no_server_entry(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    """A member the owner shared nothing with, and a managed user (no username or
    email of their own, `restricted="1"`), are listed with `home="1"` and no `<Server>`."""
    plextv.add_user("dave")
    plextv.add_home_member("dave")
    plextv.add_managed_user("kid")
    listed = {
        u.attrib["title"]: u for u in _xml(plextv, http, "/api/users", OWNER_TOKEN).iter("User")
    }
    assert listed["dave"].attrib["home"] == "1" and listed["dave"].findall("Server") == []
    kid = listed["kid"]
    assert (kid.attrib["home"], kid.attrib["restricted"]) == ("1", "1")
    assert (kid.attrib["username"], kid.attrib["email"], kid.findall("Server")) == ("", "", [])
    home = {
        u.attrib["title"]: u
        for u in _xml(plextv, http, "/api/home/users", OWNER_TOKEN).iter("User")
    }
    assert home["kid"].attrib["restricted"] == "1" and home["dave"].attrib["restricted"] == "0"
    plextv.share_server("kid", MACHINE_IDENTIFIER, "sim-pms-kid-access")
    listed = {
        u.attrib["title"]: u for u in _xml(plextv, http, "/api/users", OWNER_TOKEN).iter("User")
    }
    assert [s.attrib["machineIdentifier"] for s in listed["kid"].findall("Server")] == [
        MACHINE_IDENTIFIER
    ]
    # Taken out of the Home, a managed user's shares go (no account outside the Home);
    # an invited member keeps theirs and is a friend again.
    plextv.remove_home_member("kid")
    plextv.remove_home_member("carol")
    listed = {
        u.attrib["title"]: u for u in _xml(plextv, http, "/api/users", OWNER_TOKEN).iter("User")
    }
    assert "kid" not in listed
    assert listed["carol"].attrib["home"] == "0" and listed["carol"].findall("Server")


def test_a_pending_invite_is_listed_as_pending_and_gives_no_access(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    plextv.share_server("eve", MACHINE_IDENTIFIER, "sim-pms-eve-access", pending=True)
    eve = _users_by_name(_xml(plextv, http, "/api/users", OWNER_TOKEN))["eve"]
    assert eve.find("Server").attrib["pending"] == "1"  # type: ignore[union-attr]
    resources = http.get(
        plextv.url + "/api/v2/resources",
        headers=CLIENT | {"Accept": "application/json", "X-Plex-Token": EVE_TOKEN},
    ).json()
    assert MACHINE_IDENTIFIER not in {r["clientIdentifier"] for r in resources}


def test_shared_servers_carries_each_friends_token_and_sections(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    container = _xml(plextv, http, f"/api/servers/{MACHINE_IDENTIFIER}/shared_servers", OWNER_TOKEN)
    assert container.attrib["machineIdentifier"] == MACHINE_IDENTIFIER
    shared = {s.attrib["username"]: s for s in container.iter("SharedServer")}
    assert set(shared) == {"alice", "bob", "carol"}  # carol: a Home member shared with
    assert shared["carol"].attrib["accessToken"] == CAROL_SERVER_TOKEN
    alice = shared["alice"]
    assert alice.attrib["accessToken"] == ALICE_SERVER_TOKEN
    assert alice.attrib["userID"].isdigit() and alice.attrib["acceptedAt"]
    sections = alice.findall("Section")
    assert {s.attrib["type"] for s in sections} == {"movie", "show", "artist", "photo"}
    assert all(s.attrib["shared"] == "1" and s.attrib["key"].isdigit() for s in sections)
    assert alice.attrib["allLibraries"] == "1"


def test_only_the_owner_may_read_a_servers_share_list(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    path = f"{plextv.url}/api/servers/{MACHINE_IDENTIFIER}/shared_servers"
    for token in (ALICE_TOKEN, "not-a-token"):
        refused = http.get(path, headers=CLIENT | {"X-Plex-Token": token})
        assert refused.status_code == 401
        assert "<errors>" in refused.text
    assert http.get(plextv.url + "/api/users", headers=CLIENT).status_code == 401


def test_a_removed_share_disappears_from_every_list(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    http.request("DELETE", plextv.url + "/__sim/shares", json={"username": "alice"})
    assert "alice" not in _users_by_name(_xml(plextv, http, "/api/users", OWNER_TOKEN))
    shared = _xml(plextv, http, f"/api/servers/{MACHINE_IDENTIFIER}/shared_servers", OWNER_TOKEN)
    assert "alice" not in {s.attrib["username"] for s in shared.iter("SharedServer")}
    friends = http.get(
        plextv.url + "/api/v2/friends", headers=CLIENT | {"X-Plex-Token": OWNER_TOKEN}
    ).json()
    assert {f["username"] for f in friends} == {"bob"}


def test_the_plex_home_in_xml_and_json(plextv: PlexTvSimulator, http: httpx.Client) -> None:
    home = _users_by_name(_xml(plextv, http, "/api/home/users", OWNER_TOKEN))
    assert set(home) == {"plexowner", "carol"}
    assert home["plexowner"].attrib["admin"] == "1" and home["carol"].attrib["admin"] == "0"
    v2 = http.get(
        plextv.url + "/api/v2/home/users", headers=CLIENT | {"X-Plex-Token": OWNER_TOKEN}
    ).json()
    assert {u["username"] for u in v2["users"]} == {"plexowner", "carol"}
    http.request("DELETE", plextv.url + "/__sim/home", json={"username": "carol"})
    assert set(_users_by_name(_xml(plextv, http, "/api/home/users", OWNER_TOKEN))) == {"plexowner"}


def test_a_home_member_reaches_the_owners_server_only_through_a_share(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    def servers_of_carol() -> list[dict[str, object]]:
        resources = http.get(
            plextv.url + "/api/v2/resources",
            headers=CLIENT | {"Accept": "application/json", "X-Plex-Token": CAROL_TOKEN},
        ).json()
        return [r for r in resources if r["clientIdentifier"] == MACHINE_IDENTIFIER]

    (server,) = servers_of_carol()
    assert server["owned"] is False and server["accessToken"] == CAROL_SERVER_TOKEN
    plextv.unshare_server("carol")  # still in the Home, no library shared any more
    assert servers_of_carol() == []


def test_python_plexapi_reads_the_share_lists_as_plex_tv_answers_them(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    """python-plexapi's own classes (`MyPlexUser`, `MyPlexServerShare`, `Section`) parse
    the simulator's XML into the values a real plex.tv answer gives them."""
    myplex = pytest.importorskip("plexapi.myplex")
    plextv.share_server("eve", MACHINE_IDENTIFIER, "sim-pms-eve-access", pending=True)
    users = {
        user.username: user
        for user in (
            myplex.MyPlexUser(None, element, initpath=myplex.MyPlexUser.key)
            for element in _xml(plextv, http, "/api/users", OWNER_TOKEN).iter("User")
        )
    }
    assert set(users) == {"alice", "bob", "carol", "eve"}
    alice = users["alice"]
    assert alice.friend and not alice.home and alice.email == "alice@medianest.test"
    (share,) = alice.servers
    assert (share.machineIdentifier, share.pending, share.allLibraries) == (
        MACHINE_IDENTIFIER,
        False,
        True,
    )
    assert share.lastSeenAt is not None and share.numLibraries == 6
    assert users["eve"].servers[0].pending is True
    assert users["carol"].home is True
    assert [s.machineIdentifier for s in users["carol"].servers] == [MACHINE_IDENTIFIER]
    shared = _xml(plextv, http, f"/api/servers/{MACHINE_IDENTIFIER}/shared_servers", OWNER_TOKEN)
    # MyPlexUser.get_token: the SharedServer whose userID is the user's id.
    tokens = {int(s.attrib["userID"]): s.attrib["accessToken"] for s in shared.iter("SharedServer")}
    assert tokens[alice.id] == ALICE_SERVER_TOKEN
    sections = [myplex.Section(None, s) for s in next(shared.iter("SharedServer")).iter("Section")]
    assert [(s.title, s.type, s.shared) for s in sections] == [
        ("Movies", "movie", True),
        ("TV Shows", "show", True),
        ("YouTube", "movie", True),
        ("Music", "artist", True),
        ("Photos", "photo", True),
        ("Home Videos", "movie", True),
    ]


def test_a_share_of_some_libraries_lists_them_as_python_plexapi_reads_them(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    """`inviteFriend(sections=)` / `updateFriend(sections=)`: the share lists every
    library with `shared="1"` only on the chosen ones, `allLibraries="0"`, and
    `numLibraries` counts the shared ones (python-plexapi `MyPlexServerShare.sections`)."""
    myplex = pytest.importorskip("plexapi.myplex")
    plextv.share_server("alice", MACHINE_IDENTIFIER, ALICE_SERVER_TOKEN, sections=[1, 5])
    users = {
        user.username: user
        for user in (
            myplex.MyPlexUser(None, element, initpath=myplex.MyPlexUser.key)
            for element in _xml(plextv, http, "/api/users", OWNER_TOKEN).iter("User")
        )
    }
    (share,) = users["alice"].servers
    assert (share.allLibraries, share.numLibraries) == (False, 2)
    assert users["bob"].servers[0].allLibraries is True
    shared = _xml(plextv, http, f"/api/servers/{MACHINE_IDENTIFIER}/shared_servers", OWNER_TOKEN)
    alice = next(s for s in shared.iter("SharedServer") if s.attrib["username"] == "alice")
    assert alice.attrib["allLibraries"] == "0"
    sections = [myplex.Section(None, s) for s in alice.iter("Section")]
    assert [s.title for s in sections if s.shared] == ["Movies", "Photos"]
    friends = http.get(
        plextv.url + "/api/v2/friends",
        headers=CLIENT | {"Accept": "application/json", "X-Plex-Token": OWNER_TOKEN},
    ).json()
    alices = next(f for f in friends if f["username"] == "alice")
    assert alices["sharedServers"][0]["allLibraries"] is False
