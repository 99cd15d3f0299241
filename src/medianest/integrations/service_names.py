"""The names a household knows its services by: the request service calls itself what
its admin set (Overseerr/Seerr Settings → General → "Application Title"), so a Seerr
household reads "Seerr" and a renamed one "Family Requests", never a name we assumed.

Learned by the health check and the connection test of one server (a name is bound to
the URL it was learned from: pointed at another server, the name follows that server's),
kept in the shared cache (every instance reads it) and, when it changes, in
system_settings, read back at start: the first page after a restart, with or without
Redis, already says the household's name. Until a check, or when the service does not
say, the default name (`outcomes.SERVICE_NAMES`). Text from another server: cleaned to one
short plain line here, and escaped wherever it is shown (Jinja autoescape, JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import unicodedata
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, RootModel, ValidationError

from medianest.core.cache import Cache
from medianest.core.data_changes import MEMORY, note_read
from medianest.core.errors import MediaNestError
from medianest.core.logging import get_logger
from medianest.integrations.http import ResilientClient
from medianest.integrations.outcomes import service_name

log = get_logger(__name__)

# How long a learned name is kept without a check renewing it (a check every minute
# renews it; an instance restarting with Redis keeps it).
NAMES_KEY = "service-display-names:v2"  # {service: {"name", "server"}}
NAMES_TTL_SECONDS = 7 * 86400.0
# What a kept answer that shows a name read (core/response_cache.py): counted as changed
# when a name, or the server a service points at, changes.
NAMES_SOURCE = "memory:service-names"
# How stale another instance's learning may be here: a read after this starts a pull.
PULL_SECONDS = 5.0
# Overseerr's own title field has no limit; a name on a card or in a sentence has one.
MAX_NAME_CHARS = 60
# A settings route that never answers must not hold the health check (nor fail it).
TITLE_READ_SECONDS = 1.5
# A database that does not answer must not hold the status round: stored next time.
STORE_SECONDS = 2.0


def clean_name(raw: object) -> str | None:
    """One line of plain text of at most `MAX_NAME_CHARS`, or None when nothing is left:
    control, format (bidi overrides, zero-width) and unassigned characters dropped,
    whitespace runs made one space. Markup stays text: the pages escape it."""
    if not isinstance(raw, str):
        return None
    kept = (
        ch if unicodedata.category(ch)[0] not in "CZ" or ch == " " else " " for ch in raw[:4096]
    )
    text = " ".join("".join(kept).split())
    if len(text) > MAX_NAME_CHARS:
        text = text[: MAX_NAME_CHARS - 1].rstrip() + "…"
    return text or None


async def application_title(http: ResilientClient) -> str | None:
    """`GET /api/v1/settings/public` (public; Overseerr and Seerr server/routes/index.ts):
    `applicationTitle` from the main settings (`fullPublicSettings`, server/lib/settings
    .ts; default "Overseerr", Seerr's "Seerr"). None when it does not answer or say."""
    try:
        async with asyncio.timeout(TITLE_READ_SECONDS):
            response = await http.request(
                "GET", "/api/v1/settings/public", retry=False, expected=(200,), answer=_any
            )
        data: Any = response.json()
    except (MediaNestError, ValueError, TimeoutError) as exc:
        log.info("service_title_unread", service=http.service, error=type(exc).__name__)
        return None
    return clean_name(data.get("applicationTitle")) if isinstance(data, dict) else None


def _any(response: object) -> bool:
    return True  # any answer is one: never a breaker failure


def server_of(url: str | None) -> str | None:
    """Which server a name was learned of: a digest of its URL (not the URL: it may carry
    credentials), so a name is shown only while MediaNest still points at that server."""
    if not url:
        return None
    return hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]


class Known(BaseModel):
    """A name a server gave itself, and which server (`server_of` its URL)."""

    model_config = ConfigDict(frozen=True)
    name: str
    server: str


class KnownNames(RootModel[dict[str, Known]]):
    """The stored and the shared value: `{service: {"name": …, "server": …}}`."""


class NameStore(Protocol):
    """Where the learned names outlive a restart (system_settings, `service_store.py`)."""

    async def load(self) -> dict[str, Known]: ...
    async def save(self, names: dict[str, Known]) -> None: ...


def cleaned(names: dict[str, Known]) -> dict[str, Known]:
    """Names read back (stored, or shared by another process) cleaned again."""
    return {
        service: Known(name=name, server=known.server)
        for service, known in names.items()
        if (name := clean_name(known.name)) is not None
    }


def _shared(value: object) -> dict[str, Known]:
    try:
        return cleaned(KnownNames.model_validate(value).root)
    except ValidationError:  # another version's layout: as if nothing were shared
        return {}


class ServiceNames:
    """The learned names, read without waiting (`display_name`) by messages and pages.
    Each is bound to the server it was learned of (`server_of`): pointed at another server,
    the service is called its usual name until that server's first check says its own."""

    def __init__(
        self,
        cache: Cache,
        *,
        current_server: Callable[[str], str | None],
        store: NameStore | None = None,
    ) -> None:
        self._cache = cache
        self._current_server = current_server
        self._store = store
        self._learned: dict[str, Known] = {}
        self._stored: dict[str, Known] = {}  # what the store holds, as far as we know
        self._saving = asyncio.Lock()
        self._pulled_at = self._learned_at = -PULL_SECONDS
        self._pulling: asyncio.Task[None] | None = None

    def display_name(self, service: str) -> str:
        """What people call `service` here: the name its server gave, else its usual one.
        Never waits: a read more than `PULL_SECONDS` after the last pull starts one, for
        the reads after it (on an instance whose monitor does not check)."""
        if time.monotonic() - self._pulled_at > PULL_SECONDS and self._pulling is None:
            with contextlib.suppress(RuntimeError):  # no running loop: nothing to start
                self._pulling = asyncio.get_running_loop().create_task(self.pull())
                self._pulling.add_done_callback(self._pulled)
        note_read(NAMES_SOURCE)
        known = self._learned.get(service)
        if known is not None and known.server == self._current_server(service):
            return known.name
        return service_name(service)

    def _pulled(self, _task: asyncio.Task[None]) -> None:
        self._pulling = None

    def shown_changed(self) -> None:
        """What `display_name` says may have changed (a service now points elsewhere):
        answers kept with the old name are out of date."""
        MEMORY.changed({NAMES_SOURCE})

    def _take(self, learned: dict[str, Known]) -> None:
        if learned != self._learned:
            self._learned = learned
            self.shown_changed()

    async def restore(self) -> None:
        """At start, before the first page: the names stored by the last checks (any
        instance's, before any restart), then the shared cache's when it has newer."""
        if self._store is not None:
            try:
                self._stored = cleaned(await self._store.load())
            except Exception as exc:  # the usual names until the first check
                log.warning("service_names_not_loaded", error=type(exc).__name__)
            self._take(dict(self._stored))
        await self.pull()

    async def learn(self, service: str, name: str | None, *, url: str | None) -> None:
        """Keep what a check of the server at `url` found (None: it did not say: its
        usual name), share it, and store it when it changed (not at every check)."""
        title, server = clean_name(name), server_of(url)
        if server != self._current_server(service):
            return  # a check begun before the admin saved another server: not its name
        self._learned_at = time.monotonic()
        learned = {k: v for k, v in self._learned.items() if k != service}
        if title is not None and server is not None:
            learned[service] = Known(name=title, server=server)
        self._take(learned)
        try:
            await self._cache.set(
                NAMES_KEY, KnownNames(self._learned).model_dump(), NAMES_TTL_SECONDS
            )
        except Exception as exc:  # kept here; other instances learn at their next check
            log.warning("service_names_not_shared", error=type(exc).__name__)
        await self._save()

    async def _save(self) -> None:
        async with self._saving:
            learned = dict(self._learned)
            if self._store is None or learned == self._stored:
                return
            try:
                async with asyncio.timeout(STORE_SECONDS):
                    await self._store.save(learned)
            except Exception as exc:  # tried again at the next check
                log.warning("service_names_not_stored", error=type(exc).__name__)
                return
            self._stored = learned

    async def pull(self) -> None:
        """Take what another instance's checks learned (the shared cache)."""
        self._pulled_at = started = time.monotonic()
        try:
            shared = await self._cache.get(NAMES_KEY)
        except Exception as exc:
            log.warning("service_names_not_read", error=type(exc).__name__)
            return
        if isinstance(shared, dict) and self._learned_at < started:  # not older than ours
            self._take(_shared(shared))
