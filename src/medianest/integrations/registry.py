"""The live clients of the configured services, rebuilt when their configuration changes.

`Integrations` lives at `ctx.integrations`. It reads the service
configuration through a `ConfigSource` (the admin package stores it in the
database; integrations never touch ORM models), builds one `ResilientClient` per
service, and swaps in new clients on `reload()`. Other instances notice a change
through the source's cheap `version()` fingerprint, checked at most every few
seconds and at once when the source says its data may have changed (a commit here, or
one another instance relayed through Redis), so a change made anywhere takes effect
everywhere without a restart. Whoever keeps something derived from a service's
configuration keys it by `fingerprint()` or listens for changes (`on_change`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from medianest.core.cache import Cache
from medianest.core.data_changes import step
from medianest.core.errors import ServiceUnavailable
from medianest.core.logging import get_logger
from medianest.core.recent import RecentlyUsed
from medianest.integrations.breaker import CircuitBreaker
from medianest.integrations.http import ResilientClient, ServiceHealth
from medianest.integrations.outcomes import outage_message
from medianest.integrations.overseerr import OverseerrClient
from medianest.integrations.plex import PlexClient
from medianest.integrations.plex_xml import media_container_from_xml
from medianest.integrations.plextv import PlexTvClient, plex_client_headers
from medianest.integrations.service_names import NameStore, ServiceNames, server_of
from medianest.integrations.uptime_kuma import (
    UptimeKumaClient,
    basic_auth_headers,
    choose_source,
)
from medianest.integrations.uptime_kuma_live import KumaSignIn, socket_health
from medianest.settings import Settings

log = get_logger(__name__)

SERVICE_NAMES = ("plex", "overseerr", "uptime_kuma")
# How often an accessor asks the source whether another instance changed the config.
VERSION_CHECK_SECONDS = 5.0
# Old clients are closed this long after a swap, so calls in flight can finish.
RETIRE_GRACE_SECONDS = 30.0
# Clients carrying a user's Plex token, kept per user (a household has few users).
MAX_USER_PLEX_CLIENTS = 64

ServiceClient = PlexClient | OverseerrClient | UptimeKumaClient


@dataclass(frozen=True)
class ServiceSettings:
    """One service's configuration with the API key decrypted (never log or return it)."""

    name: str
    url: str | None
    api_key: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    enabled: bool = True
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return self.enabled and bool(self.url)


class ConfigSource(Protocol):
    async def load(self) -> list[ServiceSettings]: ...
    async def version(self) -> str: ...

    def may_have_changed(self, since: int) -> bool:
        """Whether a change may have been committed after step `since` (data_changes)."""
        ...


class Integrations:
    def __init__(
        self,
        *,
        settings: Settings,
        cache: Cache,
        source: ConfigSource,
        client_identifier: str,
        names_store: NameStore | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.source = source
        self.client_identifier = client_identifier
        self._configs: dict[str, ServiceSettings] = {}
        self._clients: dict[str, ServiceClient] = {}
        self._user_plex: RecentlyUsed[str, PlexClient] = RecentlyUsed(MAX_USER_PLEX_CLIENTS)
        self._version: str | None = None
        self._checked_at = 0.0
        self._checked_step = 0
        self._listeners: list[Callable[[frozenset[str]], None]] = []
        self.version_check_seconds = VERSION_CHECK_SECONDS
        self._lock = asyncio.Lock()
        self.names = ServiceNames(cache, current_server=self._server_of, store=names_store)
        self._retiring: dict[asyncio.Task[None], list[ResilientClient]] = {}
        self._plextv = PlexTvClient(
            ResilientClient("plextv", settings.plex_tv_url, settings=settings, cache=cache),
            client_identifier=client_identifier,
            settings=settings,
        )

    # --- accessors ------------------------------------------------------------------------
    async def plex(self) -> PlexClient | None:
        client = await self._client("plex")
        return client if isinstance(client, PlexClient) else None

    async def overseerr(self) -> OverseerrClient | None:
        client = await self._client("overseerr")
        return client if isinstance(client, OverseerrClient) else None

    async def uptime_kuma(self) -> UptimeKumaClient | None:
        client = await self._client("uptime_kuma")
        return client if isinstance(client, UptimeKumaClient) else None

    async def kuma_sign_in(self) -> KumaSignIn | None:
        """Uptime Kuma's live-connection sign-in, when its source is "socket"."""
        await self._refresh_if_changed()
        config = self._configs.get("uptime_kuma")
        return kuma_sign_in_of(config, self.settings.ca_bundle) if config is not None else None

    def plextv(self) -> PlexTvClient:
        return self._plextv

    def display_name(self, service: str) -> str:
        """The one name people read for `service` (pages, messages, notifications): the
        name the service gave itself at its last check (Seerr, a renamed Overseerr)."""
        return self.names.display_name(service)

    async def learn_name(self, service: str, health: ServiceHealth, *, url: str | None) -> None:
        """Keep the name a check of `service` at `url` found; a check the service did not
        answer (no version) leaves the name known before (of that server only)."""
        if health.version is not None:
            await self.names.learn(service, health.display_name, url=url)

    def _server_of(self, service: str) -> str | None:
        config = self._configs.get(service)
        return server_of(config.url) if config is not None else None

    async def plex_for_token(self, token: str) -> PlexClient:
        """The configured Plex server as the user whose token this is."""
        owner = await self.plex()
        config = self._configs.get("plex")
        if owner is None or config is None or config.url is None:
            raise ServiceUnavailable(
                outage_message("plex", "not configured"),
                details={"service": "plex", "reason": "not configured"},
            )
        scope = hashlib.sha256(token.encode()).hexdigest()[:16]
        client = self._user_plex.get(scope)
        if client is None:
            # Same server, same health: a user's calls and the owner's share one breaker.
            http = self._plex_http(config.url, token, breaker=owner.http.breaker)
            client = PlexClient(http, settings=self.settings, cache_scope=f"user:{scope}")
            self._retire([dropped.http for dropped in self._user_plex.put(scope, client)])
        return client

    def configs(self) -> dict[str, ServiceSettings]:
        """The configurations the current clients were built from."""
        return dict(self._configs)

    async def fingerprint(self, name: str) -> str | None:
        """A digest of the service's current URL and key (None when it has no URL): what
        is kept about that service (e.g. who the Plex server is shared with) is kept
        under it, so pointing MediaNest at another server or account leaves it behind."""
        await self._refresh_if_changed()
        config = self._configs.get(name)
        if config is None or config.url is None:
            return None
        identity = f"{name}\n{config.url}\n{config.api_key or ''}"
        return hashlib.sha256(identity.encode()).hexdigest()[:16]

    def on_change(self, listener: Callable[[frozenset[str]], None]) -> Callable[[], None]:
        """Call `listener` with the names of the services whose configuration a reload
        found changed; returns what removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # --- lifecycle ------------------------------------------------------------------------
    async def reload(self) -> None:
        """Re-read the configuration and rebuild every service client."""
        async with self._lock:
            checked_step = step()
            version = await self.source.version()
            configs = {c.name: c for c in await self.source.load()}
            clients: dict[str, ServiceClient] = {}
            for name, config in configs.items():
                try:
                    client = self.build(config)
                except (httpx.InvalidURL, ValueError) as exc:
                    # A URL stored before it was validated (a newline, a bad port): this
                    # service is unusable until the admin saves a good one; the app and
                    # the other services are not (it used to stop `serve` from starting).
                    log.error("service_misconfigured", service=name, error=type(exc).__name__)
                    continue
                if client is not None:
                    clients[name] = client
            old = [c.http for c in self._clients.values()]
            old += [c.http for c in self._user_plex.values()]
            changed = frozenset(
                name
                for name in {*configs, *self._configs}
                if configs.get(name) != self._configs.get(name)
            )
            first = self._version is None
            self._configs, self._clients = configs, clients
            self._user_plex = RecentlyUsed(MAX_USER_PLEX_CLIENTS)
            self._version, self._checked_at = version, time.monotonic()
            self._checked_step = checked_step
            self._retire(old)
            if changed:  # a service may point at another server: its name is that one's
                self.names.shown_changed()
            if changed and not first:
                for listener in list(self._listeners):
                    listener(changed)
            log.info(
                "integrations_loaded",
                services={name: config.usable for name, config in configs.items()},
            )

    async def aclose(self) -> None:
        clients: list[ResilientClient] = []
        for task, retired in list(self._retiring.items()):
            task.cancel()
            clients += retired
        self._retiring.clear()
        clients += [c.http for c in self._clients.values()]
        clients += [c.http for c in self._user_plex.values()]
        clients.append(self._plextv.http)
        self._clients, self._user_plex = {}, RecentlyUsed(MAX_USER_PLEX_CLIENTS)
        for http in clients:
            await http.aclose()

    # --- building -------------------------------------------------------------------------
    def build(self, config: ServiceSettings, *, throwaway: bool = False) -> ServiceClient | None:
        """A client for a configuration (saved or draft); None when it cannot be used."""
        if not config.usable or config.url is None:
            return None
        breaker = (
            CircuitBreaker(
                config.name,
                min_volume=self.settings.breaker_min_volume,
                reset_seconds=self.settings.breaker_reset_seconds,
                publish=False,
            )
            if throwaway
            else None
        )
        if config.name == "plex":
            http = self._plex_http(config.url, config.api_key, breaker=breaker)
            return PlexClient(http, settings=self.settings)
        if config.name == "overseerr":
            headers = {"X-Api-Key": config.api_key} if config.api_key else {}
            return OverseerrClient(
                self._http("overseerr", config.url, headers, config.api_key, breaker=breaker)
            )
        if config.name == "uptime_kuma":
            source = choose_source(api_key_set=bool(config.api_key), config=dict(config.config))
            if source is None:
                return None
            headers = basic_auth_headers(config.api_key) if config.api_key else {}
            return UptimeKumaClient(
                self._http("uptime_kuma", config.url, headers, config.api_key, breaker=breaker),
                source=source,
                status_page=config.config.get("statusPage"),
                health_timeout=self.settings.health_check_timeout_seconds,
            )
        return None

    async def probe(self, config: ServiceSettings) -> ServiceHealth:
        """Health of a configuration with a throwaway client (for the admin's test button);
        Uptime Kuma's live source signs in once, as the live connection will."""
        sign_in = kuma_sign_in_of(config, self.settings.ca_bundle)
        if sign_in is not None:
            health, _ = await socket_health(
                sign_in, wait_seconds=self.settings.health_check_timeout_seconds
            )
            return health
        if config.name == "uptime_kuma" and config.config.get("source") == "socket":
            return ServiceHealth(
                status="offline", error="The live connection needs a username and password."
            )
        client = self.build(config, throwaway=True)
        if client is None:
            return ServiceHealth(status="offline", error="The configuration is incomplete.")
        try:
            health = await client.health_check()
        finally:
            await client.http.aclose()
        if config == self._configs.get(config.name):  # the saved one: the name shown
            await self.learn_name(config.name, health, url=config.url)
        return health

    def _plex_http(
        self, url: str, token: str | None, *, breaker: CircuitBreaker | None = None
    ) -> ResilientClient:
        headers = plex_client_headers(self.client_identifier, token)
        return self._http(
            "plex", url, headers, token, breaker=breaker, xml_decoder=media_container_from_xml
        )

    def _http(
        self,
        service: str,
        url: str,
        headers: dict[str, str],
        secret: str | None,
        *,
        breaker: CircuitBreaker | None = None,
        xml_decoder: Callable[[bytes], Any] | None = None,
    ) -> ResilientClient:
        return ResilientClient(
            service,
            url,
            settings=self.settings,
            default_headers=headers,
            cache=self.cache,
            secrets=[secret] if secret else [],
            breaker=breaker,
            xml_decoder=xml_decoder,
            display_name=lambda: self.display_name(service),
        )

    # --- internals ------------------------------------------------------------------------
    async def _client(self, name: str) -> ServiceClient | None:
        await self._refresh_if_changed()
        return self._clients.get(name)

    async def _refresh_if_changed(self) -> None:
        if time.monotonic() - self._checked_at < self.version_check_seconds and (
            not self.source.may_have_changed(self._checked_step)
        ):
            return
        self._checked_at, self._checked_step = time.monotonic(), step()
        try:
            version = await self.source.version()
        except Exception as exc:  # a database hiccup must not break callers: keep the clients
            log.warning("integrations_version_check_failed", error=type(exc).__name__)
            return
        if version != self._version:
            await self.reload()

    def _retire(self, clients: list[ResilientClient]) -> None:
        if not clients:
            return

        async def close_later() -> None:
            await asyncio.sleep(RETIRE_GRACE_SECONDS)
            for http in clients:
                await http.aclose()

        task = asyncio.get_running_loop().create_task(close_later())
        self._retiring[task] = clients
        task.add_done_callback(lambda done: self._retiring.pop(done, None))


def kuma_sign_in_of(config: ServiceSettings, ca_bundle: Path | None = None) -> KumaSignIn | None:
    """The sign-in of an Uptime Kuma configuration whose source is "socket" (else None)."""
    if config.name != "uptime_kuma" or not config.usable or config.url is None:
        return None
    username = config.config.get("username")
    if config.config.get("source") != "socket" or not username or not config.password:
        return None
    return KumaSignIn(
        url=config.url, username=str(username), password=config.password, ca_bundle=ca_bundle
    )
