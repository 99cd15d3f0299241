"""State and control side of the plex.tv simulator: accounts, servers and who they are
shared with, PINs, tokens, and the /__sim/ endpoints tests and the sign-in pages use to
change them (approve or deny a PIN, revoke a token, share a server, tune timings)."""

from __future__ import annotations

import random
import string
import time
import uuid
from collections.abc import Iterable

from starlette.routing import BaseRoute

from medianest_simulators.base import JSONDict, Simulator
from medianest_simulators.plex_restrictions import Restrictions
from medianest_simulators.plextv_control_http import ControlEndpoints
from medianest_simulators.plextv_models import (
    ALICE_SERVER_TOKEN,
    ALICE_TOKEN,
    BOB_SERVER_TOKEN,
    BOB_TOKEN,
    CAROL_SERVER_TOKEN,
    CAROL_TOKEN,
    EVE_TOKEN,
    MACHINE_IDENTIFIER,
    OWNER_TOKEN,
    OWNER_USERNAME,
    SERVER_NAME,
    STRONG_CODE_LENGTH,
    PlexAccount,
    PlexPin,
    PlexServerResource,
    player_resource,
    server_resource,
)
from medianest_simulators.plextv_sharing import Share

# plex.tv answers 429 (code 1003) to a client polling one PIN faster than this.
DEFAULT_PIN_POLL_MIN_INTERVAL = 0.25


class PlexTvControl(Simulator):
    """The plex.tv simulator's data and every way tests can change it."""

    def __init__(
        self,
        *,
        port: int = 0,
        pin_expires_in: int = 900,
        server_url: str = "http://127.0.0.1:32400",
    ) -> None:
        self.default_pin_expires_in = pin_expires_in
        self.pin_expires_in = pin_expires_in
        self.default_server_url = server_url
        self.accounts: dict[str, PlexAccount] = {}
        self.pins: dict[int, PlexPin] = {}
        self.servers: dict[str, PlexServerResource] = {}
        self.shares: dict[tuple[str, str], str] = {}
        self.pending_shares: set[tuple[str, str]] = set()
        self.share_sections: dict[tuple[str, str], frozenset[int]] = {}
        self.share_restrictions: dict[tuple[str, str], Restrictions] = {}
        self.home_members: list[str] = []
        self.pin_poll_min_interval = DEFAULT_PIN_POLL_MIN_INTERVAL
        self._last_poll: dict[tuple[str, int], float] = {}
        self._rng = random.Random(1)
        self._next_pin_id = 1000
        super().__init__(port=port)

    # --- state -------------------------------------------------------------------
    def reset_state(self) -> None:
        self.pin_expires_in = self.default_pin_expires_in
        self.accounts = {}
        self.pins = {}
        self.servers = {}
        self.shares = {}
        self.pending_shares = set()
        self.share_sections = {}
        self.share_restrictions = {}
        self.home_members = []
        self.pin_poll_min_interval = DEFAULT_PIN_POLL_MIN_INTERVAL
        self._last_poll = {}
        self._rng = random.Random(1)
        self._next_pin_id = 1000
        self.add_user(OWNER_USERNAME, token=OWNER_TOKEN, email="owner@medianest.test")
        self.add_user("alice", token=ALICE_TOKEN, email="alice@medianest.test")
        self.add_user("bob", token=BOB_TOKEN, email="bob@medianest.test")
        self.add_user("eve", token=EVE_TOKEN, email="eve@medianest.test")
        self.add_user("carol", token=CAROL_TOKEN, email="carol@medianest.test")
        self.register_server(
            MACHINE_IDENTIFIER, SERVER_NAME, OWNER_USERNAME, self.default_server_url, OWNER_TOKEN
        )
        self.register_server(
            "e" * 40, "Eve's Server", "eve", "http://127.0.0.1:9", "sim-pms-eve-own-0004"
        )
        self.share_server("alice", MACHINE_IDENTIFIER, ALICE_SERVER_TOKEN)
        self.share_server("bob", MACHINE_IDENTIFIER, BOB_SERVER_TOKEN)
        # carol lives in the owner's Plex Home, and the owner shared the libraries with
        # her (as Plex's "add Home user" dialog does): her share is what lets her in.
        self.add_home_member("carol")
        self.share_server("carol", MACHINE_IDENTIFIER, CAROL_SERVER_TOKEN)

    def add_user(self, username: str, *, token: str | None = None, email: str | None = None) -> str:
        """Create (or replace) an account; returns its plex.tv token."""
        with self.lock:
            token = token or f"sim-plextv-{username}-token-{len(self.accounts) + 1:04d}"
            self.accounts[username] = PlexAccount(
                id=len(self.accounts) + 1,
                username=username,
                email=email or f"{username}@medianest.test",
                auth_token=token,
                uuid=uuid.uuid5(uuid.NAMESPACE_URL, f"sim:{username}").hex[:16],
            )
            return token

    def register_server(
        self, machine_identifier: str, name: str, owner: str, url: str, owner_access_token: str
    ) -> None:
        with self.lock:
            self.servers[machine_identifier] = PlexServerResource(
                machine_identifier, name, owner, url, owner_access_token
            )

    def set_server_url(self, url: str, machine_identifier: str = MACHINE_IDENTIFIER) -> None:
        """Point the connection URI of a registered server (e.g. at the Plex simulator)."""
        with self.lock:
            self.default_server_url = url
            self.servers[machine_identifier].url = url

    def share_server(
        self,
        user: str,
        machine_identifier: str,
        access_token: str,
        *,
        pending: bool = False,
        sections: Iterable[int] | None = None,
        restrictions: Restrictions | None = None,
    ) -> None:
        """Let `user` reach the server with its own server `access_token`; a `pending`
        share is an invite not yet accepted (listed, but it gives no access). `sections`:
        the library ids shared (python-plexapi `inviteFriend(sections=)`); None: all.
        `restrictions`: its filters (`inviteFriend(filterMovies=...)`); kept when None."""
        key = (user, machine_identifier)
        with self.lock:
            self.shares[key] = access_token
            self.share_sections.pop(key, None)
            if sections is not None:
                self.share_sections[key] = frozenset(map(int, sections))
            if restrictions is not None:
                self.share_restrictions[key] = restrictions
            (self.pending_shares.add if pending else self.pending_shares.discard)(key)

    def restrict(
        self, user: str, restrictions: Restrictions, machine_identifier: str = MACHINE_IDENTIFIER
    ) -> None:
        """Set the restrictions of `user`'s share (python-plexapi `updateFriend(filterMovies=
        ...)`: `PUT /api/v2/sharings/{userId}`); same share, same server token."""
        with self.lock:
            self.share_restrictions[(user, machine_identifier)] = restrictions

    def unshare_server(self, user: str, machine_identifier: str = MACHINE_IDENTIFIER) -> None:
        with self.lock:
            self.shares.pop((user, machine_identifier), None)
            self.share_sections.pop((user, machine_identifier), None)
            self.share_restrictions.pop((user, machine_identifier), None)
            self.pending_shares.discard((user, machine_identifier))

    def add_home_member(self, user: str) -> None:
        """Put `user` in the owner's Plex Home. Membership alone reaches no server: a
        member sees only the libraries shared with them (`share_server`), as support.plex.tv
        "Consequences of Being in a Plex Home" says ("Access to Shared Libraries")."""
        with self.lock:
            if user not in self.home_members:
                self.home_members.append(user)

    def add_managed_user(self, title: str, *, token: str | None = None) -> str:
        """Create a managed user in the owner's Plex Home (no email, no password of their
        own); returns their plex.tv token. Share libraries with `share_server`."""
        token = self.add_user(title, token=token)
        with self.lock:
            self.accounts[title].managed = True
        self.add_home_member(title)
        return token

    def remove_home_member(self, user: str) -> None:
        """Take `user` out of the Home. An invited member keeps their shares and is a
        friend again (python-plexapi tests/test_myplex.py `test_myplex_createExistingUser`);
        a managed user has no account outside the Home, so their shares go with them."""
        with self.lock:
            if user in self.home_members:
                self.home_members.remove(user)
            account = self.accounts.get(user)
            if account is not None and account.managed:
                for key in [k for k in self.shares if k[0] == user]:
                    self.shares.pop(key)
                    self.pending_shares.discard(key)

    def _access_token(self, account: PlexAccount, server: PlexServerResource) -> str | None:
        """The token `account` reaches `server` with, or None when it cannot."""
        if server.owner == account.username:
            return server.owner_access_token
        key = (account.username, server.machine_identifier)
        if key in self.shares and key not in self.pending_shares:
            return self.shares[key]
        return None  # a Home member without a share reaches nothing either

    def _shares_of(self, owner: PlexAccount) -> dict[int, tuple[PlexAccount, list[Share]]]:
        """The accounts the owner shares with (friends and Home members), each with the
        owner's servers shared with them."""
        found: dict[int, tuple[PlexAccount, list[Share]]] = {}
        for number, ((username, machine_identifier), token) in enumerate(
            sorted(self.shares.items()), start=1
        ):
            server = self.servers.get(machine_identifier)
            account = self.accounts.get(username)
            if server is None or account is None or server.owner != owner.username:
                continue
            share = Share(
                account,
                server,
                number,
                token,
                (username, machine_identifier) in self.pending_shares,
                self.share_sections.get((username, machine_identifier)),
                self.share_restrictions.get((username, machine_identifier), Restrictions()),
            )
            found.setdefault(account.id, (account, []))[1].append(share)
        return found

    def _home_of(self, owner: PlexAccount) -> list[PlexAccount]:
        if owner.username != OWNER_USERNAME:
            return []
        return [self.accounts[name] for name in self.home_members if name in self.accounts]

    def revoke_token(self, token: str) -> bool:
        """Make a plex.tv token invalid (as when the user signs out everywhere)."""
        with self.lock:
            for account in self.accounts.values():
                if account.auth_token == token:
                    account.revoked = True
                    return True
            return False

    def create_pin(self, client_identifier: str, product: str, *, strong: bool) -> PlexPin:
        with self.lock:
            self._next_pin_id += 1
            alphabet = string.ascii_lowercase + string.digits if strong else string.ascii_uppercase
            length = STRONG_CODE_LENGTH if strong else 4
            code = "".join(self._rng.choice(alphabet) for _ in range(length))
            pin = PlexPin(
                self._next_pin_id,
                code,
                client_identifier,
                product,
                time.time(),
                self.pin_expires_in,
            )
            self.pins[pin.id] = pin
            return pin

    def find_pin(self, pin_id_or_code: int | str) -> PlexPin | None:
        with self.lock:
            key = str(pin_id_or_code)
            if key.isdigit() and int(key) in self.pins:
                return self.pins[int(key)]
            return next((p for p in self.pins.values() if p.code == key), None)

    def latest_pin(self) -> PlexPin | None:
        with self.lock:
            return self.pins[max(self.pins)] if self.pins else None

    def approve_pin(self, pin_id_or_code: int | str, user: str = OWNER_USERNAME) -> PlexPin:
        """Approve a PIN as `user` (its token appears on the next poll)."""
        with self.lock:
            pin = self.find_pin(pin_id_or_code)
            if pin is None or not pin.alive():
                raise KeyError(f"no live PIN {pin_id_or_code!r}")
            account = self.accounts[user]
            pin.auth_token = account.auth_token
            pin.denied = False
            return pin

    def deny_pin(self, pin_id_or_code: int | str) -> None:
        """The user declined: the PIN never gets a token and is gone (polls answer 404)."""
        with self.lock:
            pin = self.find_pin(pin_id_or_code)
            if pin is not None:
                pin.denied = True
                pin.auth_token = None

    def expire_pin(self, pin_id_or_code: int | str) -> None:
        with self.lock:
            pin = self.find_pin(pin_id_or_code)
            if pin is not None:
                pin.expired = True

    def account_for_token(self, token: str | None) -> PlexAccount | None:
        with self.lock:
            if not token:
                return None
            for account in self.accounts.values():
                if account.auth_token == token and not account.revoked:
                    return account
            return None

    def resources_for(self, account: PlexAccount) -> list[JSONDict]:
        with self.lock:
            found: list[JSONDict] = []
            for server in self.servers.values():
                owned = server.owner == account.username
                token = self._access_token(account, server)
                if token is not None:
                    found.append(server_resource(server, owned=owned, access_token=token))
            if account.username == OWNER_USERNAME:
                found.append(player_resource())
            return found

    def control_routes(self) -> list[BaseRoute]:
        return ControlEndpoints(self).routes()
