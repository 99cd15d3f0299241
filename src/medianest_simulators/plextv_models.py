"""Data of the plex.tv simulator: seeded credentials, accounts, PINs and server resources."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from medianest_simulators.base import JSONDict

# Deterministic seeded accounts; the owner's plex.tv token is also the server's owner token.
OWNER_USERNAME = "plexowner"
OWNER_TOKEN = "sim-plex-owner-token-0001"
ALICE_TOKEN = "sim-plextv-alice-token-0002"
BOB_TOKEN = "sim-plextv-bob-token-0003"
EVE_TOKEN = "sim-plextv-eve-token-0004"
CAROL_TOKEN = "sim-plextv-carol-token-0005"
ALICE_SERVER_TOKEN = "sim-pms-alice-access-0002"
BOB_SERVER_TOKEN = "sim-pms-bob-access-0003"
CAROL_SERVER_TOKEN = "sim-pms-carol-access-0005"
MACHINE_IDENTIFIER = "5f1e0c4b8a9d4e2f9c7b6a5d4e3f2a1b0c9d8e7f"
SERVER_NAME = "MediaNest Sim PMS"
PIN_NOT_FOUND = {"errors": [{"code": 1020, "message": "Code not found or expired"}]}
STRONG_CODE_LENGTH = 25


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class PlexAccount:
    """A plex.tv account."""

    id: int
    username: str
    email: str
    auth_token: str
    uuid: str = ""
    revoked: bool = False
    # A Plex Home managed user: no email or password of their own (support.plex.tv
    # "Managed Users"); plex.tv lists them with `restricted="1"` and no username/email.
    managed: bool = False

    @property
    def listed_username(self) -> str:
        """The username plex.tv's share lists show (managed users have none)."""
        return "" if self.managed else self.username

    def as_json(self) -> JSONDict:
        return {
            "id": self.id,
            "uuid": self.uuid,
            "username": self.username,
            "title": self.username,
            "email": self.email,
            "friendlyName": self.username.capitalize(),
            "locale": None,
            "confirmed": True,
            "joinedAt": 1577836800 + self.id,
            "emailOnlyAuth": False,
            "hasPassword": True,
            "protected": False,
            "thumb": f"https://plex.tv/users/{self.uuid}/avatar?c=1",
            "authToken": self.auth_token,
            "home": False,
            "homeAdmin": self.username == OWNER_USERNAME,
            "guest": False,
            "restricted": self.managed,
            "anonymous": None,
            "subscription": {
                "active": False,
                "subscribedAt": None,
                "status": "Inactive",
                "paymentService": None,
                "plan": None,
                "features": [],
            },
            "roles": [],
            "entitlements": [],
        }


@dataclass
class PlexPin:
    """A sign-in PIN; `auth_token` is set once a user approves it."""

    id: int
    code: str
    client_identifier: str
    product: str
    created_at: float
    expires_in: int
    auth_token: str | None = None
    expired: bool = False
    denied: bool = False

    @property
    def expires_at(self) -> float:
        return self.created_at + self.expires_in

    def alive(self) -> bool:
        return not self.expired and time.time() < self.expires_at

    def as_json(self) -> JSONDict:
        return {
            "id": self.id,
            "code": self.code,
            "product": self.product,
            "trusted": False,
            "qr": f"https://plex.tv/api/v2/pins/qr/{self.code}",
            "clientIdentifier": self.client_identifier,
            "location": {
                "code": "US",
                "european_union_member": False,
                "continent_code": "NA",
                "country": "United States",
                "city": "Loopback",
                "time_zone": "UTC",
                "postal_code": "00000",
                "in_privacy_restricted_country": False,
                "subdivisions": "",
                "coordinates": "0.0, 0.0",
            },
            "expiresIn": max(0, round(self.expires_at - time.time())),
            "createdAt": iso(self.created_at),
            "expiresAt": iso(self.expires_at),
            "authToken": self.auth_token,
            "newRegistration": None,
        }


@dataclass
class PlexServerResource:
    """A Plex Media Server some account owns; others reach it through shares."""

    machine_identifier: str
    name: str
    owner: str
    url: str
    owner_access_token: str


def server_resource(server: PlexServerResource, *, owned: bool, access_token: str) -> JSONDict:
    host_port = server.url.split("://", 1)[-1].rstrip("/")
    address, _, port = host_port.partition(":")
    connection: dict[str, Any] = {
        "protocol": server.url.split("://", 1)[0],
        "address": address,
        "port": int(port or 32400),
        "uri": server.url.rstrip("/"),
        "local": True,
        "relay": False,
        "IPv6": False,
    }
    return {
        "name": server.name,
        "product": "Plex Media Server",
        "productVersion": "1.40.2.8395-c67dce28e",
        "platform": "Linux",
        "platformVersion": "6.1",
        "device": "PC",
        "clientIdentifier": server.machine_identifier,
        "createdAt": "2024-01-01T00:00:00Z",
        "lastSeenAt": iso(time.time()),
        "provides": "server",
        "ownerId": None if owned else 1,
        "sourceTitle": None if owned else server.owner,
        "publicAddress": address,
        "accessToken": access_token,
        "owned": owned,
        "home": False,
        "synced": False,
        "relay": True,
        "presence": True,
        "httpsRequired": False,
        "publicAddressMatches": True,
        "dnsRebindingProtection": False,
        "natLoopbackSupported": True,
        "connections": [connection],
    }


def player_resource() -> JSONDict:
    return {
        "name": "Living Room TV",
        "product": "Plex for Android (TV)",
        "productVersion": "10.0",
        "platform": "Android",
        "device": "SHIELD",
        "clientIdentifier": "sim-player-0001",
        "provides": "client,player,pubsub-player",
        "owned": True,
        "accessToken": None,
        "presence": False,
        "connections": [],
    }
