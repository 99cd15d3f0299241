"""What Overseerr's answer to a new request means: to the person (an error with its
real reason) and to the hourly request limit (only a request Overseerr made costs one);
and what a title it cannot retrieve means."""

from __future__ import annotations

from medianest.core.errors import (
    Conflict,
    MediaNestError,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    UpstreamError,
    ValidationFailed,
)
from medianest.integrations.http import UpstreamHTTPError
from medianest.integrations.overseerr import OverseerrClient, OverseerrRefused
from medianest.integrations.overseerr_writes import OverseerrWritesBlocked

# Why Overseerr was not asked at all: no connection, the breaker open, not set up, or
# its own 429. A timeout or a 5xx is not here: the request may have been made.
_NOT_ASKED = frozenset({"unreachable", "circuit open", "not configured", "rate limited"})


def not_made(exc: MediaNestError) -> bool:
    """Whether a failed `create_request` certainly made no request in Overseerr: it
    refused it (a 4xx, its 202, its own 500 with a reason, its CSRF protection's 403
    ahead of every route) or was never asked."""
    if isinstance(exc, OverseerrRefused | OverseerrWritesBlocked):
        return True
    if isinstance(exc, UpstreamHTTPError):
        return exc.upstream_status < 500
    return isinstance(exc, ServiceUnavailable) and exc.details.get("reason") in _NOT_ASKED


class StaleOverseerrLink(PermissionDenied):
    """The linked Overseerr user is gone: an admin's link waits for an administrator; an
    automatic one is mended by the request (media/overseerr_link.py `heal_stale_link`)."""

    def __init__(self, overseerr_user_id: int, reason: str | None, *, name: str) -> None:
        super().__init__(
            f"Your account is linked to {name} user {overseerr_user_id}, which {name} "
            "no longer has. Ask an administrator to link your account again.",
            details={"reason": reason, "overseerrUserId": overseerr_user_id},
        )
        self.overseerr_user_id = overseerr_user_id


async def refuse_stale_link(
    overseerr: OverseerrClient, overseerr_user_id: int, exc: OverseerrRefused
) -> None:
    """A 403 to a request made as `X-API-User: overseerr_user_id`: either a refusal of
    that user (no permission, their quota) or Overseerr no longer having them (deleted,
    re-imported under a new id: `checkUser` finds nobody and `isAuthenticated` answers
    403). Overseerr is asked which: for a gone user say so (`StaleOverseerrLink`); when
    it cannot say now, its refusal stands."""
    try:
        if await overseerr.user_exists(overseerr_user_id):
            return
    except (ServiceUnavailable, UpstreamError):
        return
    raise StaleOverseerrLink(overseerr_user_id, exc.reason, name=exc.service_name)


def title_unavailable(media_type: str, tmdb_id: int, *, name: str) -> NotFound:
    """Overseerr could not retrieve the title: TMDB does not know the id, or Overseerr
    cannot reach TMDB; its answer is the same for both, so the message names both."""
    kind = "movie" if media_type == "movie" else "TV show"
    return NotFound(
        f"{name} could not retrieve the {kind} with TMDB id {tmdb_id}: TMDB does not know "
        f"this id, or {name} cannot reach TMDB right now (its answer does not say "
        "which). Check the title, or try again later.",
        details={"reason": "title_unavailable", "mediaType": media_type, "tmdbId": tmdb_id},
    )


# Seerr's 403 for a blocklisted title (entity/MediaRequest.ts `BlocklistedMediaError`;
# "blacklisted" up to v2.7.3): about the title, not the caller's permissions.
BLOCKLISTED_MESSAGES = frozenset({"this media is blocklisted.", "this media is blacklisted."})


def blocklisted() -> Conflict:
    """The title is on Seerr's blocklist: nobody can request it until an admin takes it off."""
    return Conflict(
        "This title is on Seerr's blocklist: an administrator keeps it from being "
        "requested. Ask them to take it off the blocklist if you want it.",
        details={"reason": "blocklisted"},
    )


# Overseerr's QuotaRestrictedError (entity/MediaRequest.ts), answered 403: the person's
# own request quota in Overseerr (entity/User.ts `getQuota`), checked when MediaNest asks
# as them (`X-API-User`).
OVERSEERR_QUOTA_MESSAGES = {"movie quota exceeded.": "movie", "series quota exceeded.": "tv"}


class OverseerrQuotaExceeded(MediaNestError):
    """The requester's quota in Overseerr is used up (set by an Overseerr admin). A 429
    like MediaNest's own quotas; no Retry-After: Overseerr does not say when its oldest
    counted request leaves the window."""

    status_code = 429
    code = "QUOTA_EXCEEDED"


def overseerr_quota(kind: str, reason: str, *, name: str) -> OverseerrQuotaExceeded:
    what = "films" if kind == "movie" else "show seasons"
    return OverseerrQuotaExceeded(
        f"Your request quota for {what} in {name} is used up (a {name} admin sets "
        "it). Try again once older requests leave its window, or ask them to raise it.",
        details={"source": "overseerr", "mediaType": kind, "reason": reason},
    )


def refusal(exc: OverseerrRefused) -> Exception:
    """The error for a refusal, naming the service as it is called here (Seerr, ...)."""
    reason, name = exc.reason or "no reason given", exc.service_name
    said = reason.strip().lower()
    if exc.upstream_status == 403 and said in BLOCKLISTED_MESSAGES:
        return blocklisted()
    if exc.upstream_status == 403 and said in OVERSEERR_QUOTA_MESSAGES:
        return overseerr_quota(OVERSEERR_QUOTA_MESSAGES[said], reason, name=name)
    if exc.upstream_status == 403:
        return PermissionDenied(f"{name} refused the request: {reason}", details={"reason": reason})
    if exc.upstream_status in (409, 202):
        return Conflict(f"{name} already has a request for this title.", details={"reason": reason})
    if exc.upstream_status == 404:
        return NotFound(f"{name} does not know this title.", details={"reason": reason})
    if exc.upstream_status == 500:
        # Overseerr's own failure with this request (TMDB or its database): worth a retry.
        return ServiceUnavailable(
            f"{name} could not make the request ({reason}). Try again in a minute.",
            details={"service": "overseerr", "upstreamStatus": 500, "reason": reason},
        )
    return ValidationFailed(f"{name} refused the request.", details={"reason": reason})
