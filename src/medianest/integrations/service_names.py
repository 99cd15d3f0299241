"""The names a household knows its services by: the request service calls itself what
its admin set (Overseerr/Seerr Settings → General → "Application Title"), so a Seerr
household reads "Seerr" and a renamed one "Family Requests", never a name we assumed.

Learned by the health check and the connection test, kept in the shared cache with the
service status (every instance reads it); until then, or when the service does not say,
the default name (`outcomes.SERVICE_NAMES`). Text from another server: cleaned to one
short plain line here, and escaped wherever it is shown (Jinja autoescape, JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import unicodedata
from typing import Any

from medianest.core.cache import Cache
from medianest.core.errors import MediaNestError
from medianest.core.logging import get_logger
from medianest.integrations.http import ResilientClient
from medianest.integrations.outcomes import service_name

log = get_logger(__name__)

# How long a learned name is kept without a check renewing it (a check every minute
# renews it; an instance restarting with Redis keeps it).
NAMES_KEY = "service-display-names"
NAMES_TTL_SECONDS = 7 * 86400.0
# How stale another instance's learning may be here: a read after this starts a pull.
PULL_SECONDS = 5.0
# Overseerr's own title field has no limit; a name on a card or in a sentence has one.
MAX_NAME_CHARS = 60
# A settings route that never answers must not hold the health check (nor fail it).
TITLE_READ_SECONDS = 1.5


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


class ServiceNames:
    """The learned names, read without waiting (`display_name`) by messages and pages."""

    def __init__(self, cache: Cache) -> None:
        self._cache = cache
        self._learned: dict[str, str] = {}
        self._pulled_at = self._learned_at = -PULL_SECONDS
        self._pulling: asyncio.Task[None] | None = None

    def display_name(self, service: str) -> str:
        """What people call `service` here: the name it gave, else its usual one. Never
        waits: a read more than `PULL_SECONDS` after the last pull starts one, for the
        reads after it (on an instance whose monitor does not check)."""
        if time.monotonic() - self._pulled_at > PULL_SECONDS and self._pulling is None:
            with contextlib.suppress(RuntimeError):  # no running loop: nothing to start
                self._pulling = asyncio.get_running_loop().create_task(self.pull())
                self._pulling.add_done_callback(self._pulled)
        return self._learned.get(service) or service_name(service)

    def _pulled(self, _task: asyncio.Task[None]) -> None:
        self._pulling = None

    async def learn(self, service: str, name: str | None) -> None:
        """Keep what a check found (None: the service did not say: its usual name)."""
        cleaned, self._learned_at = clean_name(name), time.monotonic()
        if cleaned is None:
            self._learned.pop(service, None)
        else:
            self._learned[service] = cleaned
        try:
            await self._cache.set(NAMES_KEY, dict(self._learned), NAMES_TTL_SECONDS)
        except Exception as exc:  # kept here; other instances learn at their next check
            log.warning("service_names_not_shared", error=type(exc).__name__)

    async def pull(self) -> None:
        """Take what another instance's checks learned (the shared cache)."""
        self._pulled_at = started = time.monotonic()
        try:
            shared = await self._cache.get(NAMES_KEY)
        except Exception as exc:
            log.warning("service_names_not_read", error=type(exc).__name__)
            return
        if isinstance(shared, dict) and self._learned_at < started:  # not older than ours
            cleaned = {str(k): clean_name(v) for k, v in shared.items()}
            self._learned = {k: v for k, v in cleaned.items() if v is not None}
