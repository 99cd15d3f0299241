"""Overseerr's "Enable CSRF Protection": with it on, Overseerr refuses every call that
changes its data from another app, MediaNest's included, whatever the API key.

Overseerr (server/index.ts) then runs csurf ahead of every route: a POST, PUT, PATCH or
DELETE without the token its own web app carries is answered 403 `{"message": "invalid
csrf token"}` by its final error handler. MediaNest cannot (and must not) get around the
setting; it recognizes that answer on every write (`OverseerrClient._write`) and says
what it means, and the connection test reads the setting (`GET /api/v1/settings/main`;
Seerr's `/network`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from medianest.core.errors import ServiceUnavailable, UpstreamError
from medianest.core.logging import get_logger
from medianest.integrations.http import ResilientClient
from medianest.integrations.overseerr_models import error_message

log = get_logger(__name__)

# csurf 1.11.0's error message (index.js), as Overseerr's error handler renders it.
CSRF_REFUSAL = "invalid csrf token"
SETTING = "Enable CSRF Protection"
WHERE = "{name} → Settings → General (Seerr: Settings → Network)"
# The setting is read in the connection test; one that never answers must not fail it.
SETTINGS_READ_SECONDS = 1.5

# The messages name the service as it is called here ("{name}": Overseerr, Seerr, ...).
BLOCKED_HEALTH = (
    f'{{name}} blocks changes from other apps ("{SETTING}" is on), so requests made '
    f"through MediaNest fail. A {{name}} admin must turn it off in {WHERE}."
)
BLOCKED_WEBHOOK_TEST = (
    f'{{name}} blocks requests from other apps ("{SETTING}" is on), so MediaNest cannot '
    f"ask it to send a test. Turn the setting off in {WHERE}, or send the test from "
    "{name}'s own webhook settings: its notifications to MediaNest are not blocked."
)
BLOCKED_REQUEST = (
    f'{{name}} is blocking requests from other apps such as MediaNest ("{SETTING}" is '
    f"on in {{name}}), so nothing was requested. A {{name}} admin must turn that "
    f"setting off in {WHERE}; then ask again."
)


class OverseerrWritesBlocked(ServiceUnavailable):
    """Overseerr refused a change because its "Enable CSRF Protection" is on: nothing was
    made there. Not an outage (Overseerr answered; the breaker counts it as up)."""

    code = "OVERSEERR_WRITES_BLOCKED"

    def __init__(self, *, name: str) -> None:
        super().__init__(
            BLOCKED_REQUEST.format(name=name),
            details={"service": "overseerr", "reason": "csrf_protection", "setting": SETTING},
        )


def writes_blocked(status: int, message: str | None) -> bool:
    """Whether an answer to a write (its status and Overseerr's `{message}`) is csurf's
    refusal (403, `invalid csrf token`)."""
    return status == 403 and message == CSRF_REFUSAL


class _Settings(BaseModel):
    """The one field read of a settings answer (the main settings also hold the API key:
    nothing else of them is kept or logged)."""

    model_config = ConfigDict(extra="ignore")
    csrf_protection: bool | None = Field(default=None, alias="csrfProtection")


# Where the setting is: Overseerr's main settings (routes/settings/index.ts `GET /main`);
# Seerr moved it to its network settings (server/lib/settings/index.ts `network`, read at
# `GET /network`), which Overseerr does not have. Both admins only: the API key acts as
# the admin.
SETTINGS_PATHS = ("/api/v1/settings/main", "/api/v1/settings/network")


async def csrf_protection_on(http: ResilientClient) -> bool | None:
    """Overseerr's (or Seerr's) `csrfProtection`. None when it does not say: another
    answer, no such field, no answer within `SETTINGS_READ_SECONDS` for both reads. Any
    answer is one (never a breaker failure)."""
    try:
        async with asyncio.timeout(SETTINGS_READ_SECONDS):
            for path in SETTINGS_PATHS:
                found = await _read_setting(http, path)
                if found is not None:
                    return found
    except TimeoutError:
        log.info("overseerr_settings_unread", error="TimeoutError")
    return None


async def _read_setting(http: ResilientClient, path: str) -> bool | None:
    try:
        response = await http.request("GET", path, retry=False, expected=(200,), answer=_any)
        return _Settings.model_validate(http.decode(response)).csrf_protection
    except (ServiceUnavailable, UpstreamError, ValidationError) as exc:
        log.info("overseerr_settings_unread", route=path, error=type(exc).__name__)
        return None


def _any(response: object) -> bool:
    return True


def refusal_reason(body: Any) -> str | None:
    """A refusal's reason: the route's `{message}`, else `isAuthenticated`'s `{error}`
    (middleware/auth.ts: no user for the request)."""
    found = error_message(body)
    if found is None and isinstance(body, dict) and isinstance(body.get("error"), str):
        found = str(body["error"])[:300]
    return found


def json_or_none(body: Any) -> Any:
    if isinstance(body, bytes | str):
        try:
            return json.loads(body)
        except ValueError:
            return None
    return body
