"""What a call to an external service can produce: answers, health, and failures.

Re-exported by `integrations.http`, where callers import them from.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from medianest.core.errors import UpstreamError

# How people know the services: messages never show our internal keys ("plextv").
SERVICE_NAMES = {
    "plex": "Plex",
    "plextv": "plex.tv",
    "overseerr": "Overseerr",
    "uptime_kuma": "Uptime Kuma",
}

# What an outage means to the person waiting, by the reason the HTTP client found.
_OUTAGE_WORDS = {
    "unreachable": "{name} cannot be reached right now. Try again in a minute; if it lasts, "
    "ask an admin to check {name}.",
    "timed out": "{name} did not answer in time. Try again in a minute.",
    "server error": "{name} answered with an error. Try again in a minute.",
    "rate limited": "{name} is busy right now. Try again in a minute.",
    "circuit open": "{name} is not answering at the moment. MediaNest tries again shortly.",
    "not configured": "{name} is not set up yet — ask an admin to configure it.",
}


def service_name(service: str) -> str:
    """The name people know a service by ("plex.tv", "Uptime Kuma")."""
    return SERVICE_NAMES.get(service, service)


def outage_message(service: str, reason: str, *, name: str | None = None) -> str:
    """A plain sentence for a service that cannot serve a request right now (`name`:
    the name it goes by here, service_names.py)."""
    words = _OUTAGE_WORDS.get(reason, "{name} is unavailable right now. Try again in a minute.")
    return words.format(name=name or service_name(service))


def outage_reason(status: int, expected: Sequence[int]) -> str | None:
    """Why an answer with this status means the service is down; None when it is up. A
    status the caller expects is an answer, even a 5xx an endpoint reports an outcome with
    (Overseerr's webhook test says "could not send" with a 500)."""
    if status in expected or (status < 500 and status != 429):
        return None
    return "rate limited" if status == 429 else "server error"


def redirect_problem(name: str, base: httpx.URL, asked: httpx.URL, location: str) -> str:
    """What a redirect means for the address the admin saved (`base`), in words."""
    here = f"{name} at {asked.scheme}://{asked.netloc.decode('ascii')}"
    try:
        target = asked.join(location)
    except httpx.InvalidURL:
        return f"{here} redirects to an address MediaNest cannot read."
    # Where the saved address moved: the Location less the part the client added.
    added = asked.path[len(base.path) :] if asked.path.startswith(base.path) else ""
    path = target.path[: -len(added)] if added and target.path.endswith(added) else "/"
    moved = f"{target.scheme}://{target.netloc.decode('ascii')}{path}".rstrip("/")
    if target.host != asked.host:
        return (
            f"{here} redirects to another host ({target.host}). MediaNest does not follow it "
            f"and sends no key there; if that is the right server, save {moved} as its address."
        )
    return (
        f"{here} redirects to {moved}: save that as its address (MediaNest does not follow "
        "redirects, so a key only goes to the address you saved)."
    )


def accepted(data: Any, accept: Callable[[Any], object] | None) -> Any:
    """`data` once `accept` took it: an answer it refuses (raising UpstreamError, as a
    model's parse does) is never kept as the last good one, and the kept one serves."""
    if accept is not None:
        accept(data)
    return data


class UpstreamHTTPError(UpstreamError):
    """The service answered with a status the caller did not expect (e.g. 401, 404)."""

    def __init__(
        self, service: str, upstream_status: int, body: str, *, name: str | None = None
    ) -> None:
        super().__init__(
            f"{name or service_name(service)} refused the request (HTTP {upstream_status}).",
            details={"service": service, "upstreamStatus": upstream_status},
        )
        self.upstream_status = upstream_status
        self.body = body


# The service said no (not "could not answer"): what was kept of that answer is void.
REFUSALS = frozenset({401, 403, 404, 410})


def answered_status(exc: Exception) -> int:
    """The status a service refused a call with; 500 when it did not answer (an outage)."""
    return exc.upstream_status if isinstance(exc, UpstreamHTTPError) else 500


@dataclass(frozen=True)
class Fetched:
    """A JSON answer; `stale` when it is the last good answer served during an outage.
    `read_at` (epoch seconds) is when the service gave it, None when not cached: the same
    for every request it answers, where an age would change with each."""

    data: Any
    stale: bool = False
    read_at: float | None = None


def oldest(*read_at: float | None) -> float | None:
    """When the oldest of several answers was read (None when none was cached)."""
    return min((at for at in read_at if at is not None), default=None)


def moment(epoch_seconds: float | None) -> datetime | None:
    """Epoch seconds as a UTC time (None stays None)."""
    return datetime.fromtimestamp(epoch_seconds, UTC) if epoch_seconds is not None else None


@dataclass(frozen=True)
class ServiceHealth:
    status: Literal["online", "offline", "degraded"]
    response_time_ms: float | None = None
    version: str | None = None
    error: str | None = None
    monitor_count: int | None = None  # Uptime Kuma: the monitors the sign-in can see
    # The name the service gave itself (Overseerr's "Application Title"), when it said.
    display_name: str | None = None


class RetryableFailure(Exception):
    """One failed try that may be retried: a transport error or a retryable status."""

    def __init__(
        self, reason: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
