"""Jinja2 rendering for the HTML pages: one environment, cache-busted static URLs,
and a `render` helper that adds the signed-in user and makes sure the CSRF cookie exists."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from medianest import __version__
from medianest.auth.cookies import CSRF_COOKIE, set_csrf_cookie
from medianest.auth.dependencies import resolve_identity
from medianest.auth.identity import Identity
from medianest.auth.models import User
from medianest.youtube import failure_words

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"


@cache
def _static_version(name: str) -> str:
    # Read once per process: files under static/ only change with a new release.
    path = (STATIC_DIR / name).resolve()
    if not path.is_relative_to(STATIC_DIR.resolve()) or not path.is_file():
        return __version__
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """`/static/<name>?v=<content hash>`: browsers may cache it for a year."""
    return f"/static/{name}?v={_static_version(name)}"


def _ago(value: datetime | None) -> str:
    """A short relative time ("12 s ago", "3 min ago") for timestamps in tables and cards."""
    if value is None:
        return "never"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = int((datetime.now(UTC) - value).total_seconds())
    if seconds < 5:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def _iso(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def _duration(seconds: float | int | None) -> str:
    """Seconds as "1 h 5 min" / "4 min 10 s" / "9 s" (rate-limit waits, durations)."""
    if seconds is None:
        return ""
    total = max(0, int(seconds))
    # Long waits in days, as people say them ("7 days", not "167 h 52 min"); app.js agrees.
    if total >= 2 * 86400:
        return f"{round(total / 86400)} days"
    if total >= 86400:
        extra = round((total - 86400) / 3600)
        return f"1 day {extra} h" if extra else "1 day"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.globals["static_url"] = static_url
templates.env.globals["app_version"] = __version__
templates.env.filters["ago"] = _ago
templates.env.filters["iso"] = _iso
templates.env.filters["duration"] = _duration
templates.env.filters["download_failure"] = failure_words.describe


@dataclass(frozen=True)
class PageUser:
    """What the layout shows about the signed-in user, copied while the ORM row is fresh:
    after a refused request (403) the session rolled back and the row is expired."""

    id: uuid.UUID
    username: str
    role: str
    is_admin: bool
    must_change_password: bool
    has_password: bool

    @classmethod
    def of(cls, user: User) -> PageUser:
        return cls(
            id=user.id,
            username=user.username,
            role=user.role,
            is_admin=user.is_admin,
            must_change_password=user.must_change_password,
            has_password=user.password_hash is not None,
        )


async def remember_page_user(
    request: Request, identity: Annotated[Identity | None, Depends(resolve_identity)]
) -> None:
    """Router-level dependency of every page router: runs before any permission check."""
    request.state.page_user = PageUser.of(identity.user) if identity is not None else None


def current_user(request: Request) -> PageUser | None:
    return getattr(request.state, "page_user", None)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a full page or a fragment; pages get `user`, `nav` and a CSRF cookie."""
    values: dict[str, Any] = {"user": current_user(request), "nav": None}
    values.update(context or {})
    response = templates.TemplateResponse(
        request, name, values, status_code=status_code, headers=headers
    )
    settings = getattr(request.app.state, "settings", None)
    if settings is not None and not request.cookies.get(CSRF_COOKIE):
        # htmx echoes this cookie in X-CSRF-Token; a page is the place to hand it out.
        set_csrf_cookie(response, request, settings)
    return response
