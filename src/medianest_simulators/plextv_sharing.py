"""Who a server is shared with, in the forms plex.tv answers (owner's token):

- `GET /api/users` (XML): one `<User>` per friend or home member, with a `<Server>` child
  per server of the owner shared with them (`pending="1"` until the invite is accepted);
  a Home member with no libraries shared has no `<Server>` (being in the Home is not a
  share: python-plexapi `createHomeUser` shares with a separate `shared_servers` POST);
- `GET /api/servers/{machineIdentifier}/shared_servers` (XML): one `<SharedServer>` per
  account shared with (friend or Home member), with its own `accessToken` for that
  server and its `<Section>`s;
- `GET /api/home/users` (XML) and `GET /api/v2/home/users` (JSON): the Plex Home;
- `GET /api/v2/friends` (JSON): friends with their shared servers.

Attribute names follow python-plexapi's `myplex.py` (`MyPlexUser`, `MyPlexServerShare`,
`Section`) and the answers plex.tv sends (booleans as "0"/"1", times as epoch seconds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from medianest_simulators.base import JSONDict
from medianest_simulators.plex_restrictions import Restrictions
from medianest_simulators.plextv_models import PlexAccount, PlexServerResource

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclass(frozen=True)
class Share:
    """A server of the owner shared with `account` (pending until the invite is accepted)."""

    account: PlexAccount
    server: PlexServerResource
    share_id: int
    access_token: str
    pending: bool
    # The library ids shared; None: all of them (plex.tv `allLibraries="1"`).
    sections: frozenset[int] | None = None
    # The account's restrictions on it (`filterMovies`...; python-plexapi `inviteFriend`,
    # `updateFriend`), plex.tv's strings as written.
    restrictions: Restrictions = field(default_factory=Restrictions)

    def shares_section(self, key: int) -> bool:
        return self.sections is None or key in self.sections


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _container(machine_identifier: str | None, size: int) -> ET.Element:
    attributes = {"friendlyName": "myPlex", "identifier": "com.plexapp.plugins.myplex"}
    if machine_identifier:
        attributes["machineIdentifier"] = machine_identifier
    attributes |= {"totalSize": str(size), "size": str(size)}
    return ET.Element("MediaContainer", attributes)


def _xml(root: ET.Element) -> str:
    return XML_DECLARATION + ET.tostring(root, encoding="unicode")


def _thumb(account: PlexAccount) -> str:
    return f"https://plex.tv/users/{account.uuid}/avatar?c=1"


def users_xml(
    owner_machine_identifier: str | None,
    friends: dict[int, tuple[PlexAccount, list[Share]]],
    home: list[PlexAccount],
    sections: list[tuple[int, str, str]],
) -> str:
    """`/api/users`: friends (with their shares) and home members of the owner."""
    accounts: dict[int, tuple[PlexAccount, list[Share], bool]] = {
        account.id: (account, shares, False) for account, shares in friends.values()
    }
    for member in home:
        _account, shares, _home = accounts.get(member.id, (member, [], True))
        accounts[member.id] = (member, shares, True)
    root = _container(owner_machine_identifier, len(accounts))
    for account, shares, is_home in accounts.values():
        user = ET.SubElement(
            root,
            "User",
            {
                "id": str(account.id),
                "title": account.username,
                "username": account.listed_username,
                "email": "" if account.managed else account.email,
                "recommendationsPlaylistId": "",
                "thumb": _thumb(account),
                "protected": "0",
                "home": _flag(is_home),
                "allowTuners": "0",
                "allowSync": "1",
                "allowCameraUpload": "0",
                "allowChannels": "0",
                "allowSubtitleAdmin": "0",
                **(shares[0].restrictions if shares else Restrictions()).attributes(),
                "restricted": _flag(account.managed),
            },
        )
        for share in shares:
            ET.SubElement(
                user,
                "Server",
                {
                    "id": str(share.share_id),
                    "serverId": str(1000 + share.share_id),
                    "machineIdentifier": share.server.machine_identifier,
                    "name": share.server.name,
                    "lastSeenAt": str(int(time.time())),
                    "numLibraries": str(sum(share.shares_section(k) for k, _, _ in sections)),
                    "allLibraries": _flag(share.sections is None),
                    "owned": "1",
                    "pending": _flag(share.pending),
                },
            )
    return _xml(root)


def shared_servers_xml(
    server: PlexServerResource, shares: list[Share], sections: list[tuple[int, str, str]]
) -> str:
    """`/api/servers/{id}/shared_servers`: each friend's share of this server and token."""
    root = ET.Element(
        "MediaContainer",
        {
            "friendlyName": "myPlex",
            "identifier": "com.plexapp.plugins.myplex",
            "machineIdentifier": server.machine_identifier,
            "size": str(len(shares)),
        },
    )
    for share in shares:
        shared = ET.SubElement(
            root,
            "SharedServer",
            {
                "id": str(share.share_id),
                "username": share.account.listed_username,
                "email": "" if share.account.managed else share.account.email,
                "userID": str(share.account.id),
                "accessToken": share.access_token,
                "name": server.name,
                "acceptedAt": "" if share.pending else "1700000000",
                "invitedAt": "1699990000",
                "allowSync": "1",
                "allowCameraUpload": "0",
                "allowChannels": "0",
                "allowTuners": "0",
                "allowSubtitleAdmin": "0",
                "owned": "0",
                "allLibraries": _flag(share.sections is None),
                **share.restrictions.attributes(),
            },
        )
        for key, title, kind in sections:
            ET.SubElement(
                shared,
                "Section",
                {
                    "id": str(share.share_id * 100 + key),
                    "key": str(key),
                    "title": title,
                    "type": kind,
                    "shared": _flag(share.shares_section(key)),
                },
            )
    return _xml(root)


def home_users_xml(owner: PlexAccount, members: list[PlexAccount]) -> str:
    """`/api/home/users`: the owner (admin) and the other members of the Plex Home."""
    everyone = [owner, *members]
    root = _container(None, len(everyone))
    for account in everyone:
        ET.SubElement(
            root,
            "User",
            {
                "id": str(account.id),
                "uuid": account.uuid,
                "admin": _flag(account.id == owner.id),
                "guest": "0",
                "restricted": _flag(account.managed),
                "protected": "0",
                "title": account.username,
                "username": account.listed_username,
                "email": "" if account.managed else account.email,
                "thumb": _thumb(account),
            },
        )
    return _xml(root)


def home_users_json(owner: PlexAccount, members: list[PlexAccount]) -> JSONDict:
    """`/api/v2/home/users`: the same Plex Home as JSON."""
    return {
        "id": owner.id,
        "name": f"{owner.username}'s home",
        "guestUserID": None,
        "guestUserUUID": None,
        "guestEnabled": False,
        "subscription": False,
        "users": [
            {
                "id": account.id,
                "uuid": account.uuid,
                "title": account.username,
                "username": account.listed_username,
                "email": "" if account.managed else account.email,
                "friendlyName": account.username.capitalize(),
                "thumb": _thumb(account),
                "hasPassword": not account.managed,
                "restricted": account.managed,
                "admin": account.id == owner.id,
                "guest": False,
                "protected": False,
                "home": True,
            }
            for account in [owner, *members]
        ],
    }


def friends_json(
    friends: dict[int, tuple[PlexAccount, list[Share]]], home: list[PlexAccount]
) -> list[JSONDict]:
    """`/api/v2/friends`: accepted friends (not Home members) with their shared servers."""
    members = {account.id for account in home}
    answer: list[JSONDict] = []
    for account, shares in friends.values():
        accepted = [s for s in shares if not s.pending]
        if not accepted or account.id in members:
            continue
        answer.append(
            {
                "id": account.id,
                "uuid": account.uuid,
                "title": account.username,
                "username": account.username,
                "email": account.email,
                "thumb": _thumb(account),
                "restricted": False,
                "home": False,
                "status": "accepted",
                "sharedServers": [
                    {
                        "id": s.share_id,
                        "machineIdentifier": s.server.machine_identifier,
                        "name": s.server.name,
                        "allLibraries": s.sections is None,
                        "owned": False,
                        "pending": False,
                    }
                    for s in accepted
                ],
                "sharedSources": [],
            }
        )
    return answer
