"""Jinja2 rendering for the HTML pages: one environment, cache-busted static URLs,
and a `render` helper that adds the signed-in user and makes sure the CSRF cookie exists.

web/ knows no domain: who is signed in, the CSRF cookie and the domains' template
filters are given to it by the app (medianest/pages.py) through `PageHooks` and `add_filter`.

The environment, and Jinja2 with it (1.9 MB of a server's memory), is made for the first
page rendered: a server that has answered only API requests has not loaded it. Its
templates are compiled once and kept in the data directory for the next start
(`keep_compiled_templates`, web/compiled_templates.py).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from medianest import __version__

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

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


def _utc(value: datetime | None) -> str:
    """A moment as the page writes it, in UTC ("6 Dec, 13:45 UTC"; "never" for none).

    In `<time data-relative>` app.js shows it as "12 s ago" and keeps that current; in
    `<time data-local-time>` as the browser's local time. The page holds the moment,
    never its age: a list whose rows have not changed is the same bytes from one request
    to the next, so a polled fragment is answered 304 (core/conditional.py)."""
    if value is None:
        return "never"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return f"{value.day} {value:%b, %H:%M} UTC"


def _iso(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def duration_words(seconds: float | int | None) -> str:
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


_filters: dict[str, Callable[..., Any]] = {"utc": _utc, "iso": _iso, "duration": duration_words}


_context_filters: set[str] = set()


def add_filter(name: str, function: Callable[..., Any], *, with_context: bool = False) -> None:
    """A template filter of a domain's (given at import: every template sees it).
    `with_context`: it takes the template's context first (its `request`), Jinja's
    `pass_context`, applied when the environment is made: jinja2 waits for the first page."""
    _filters[name] = function
    if with_context:
        _context_filters.add(name)
    if templates.cache_info().currsize:
        templates().env.filters[name] = _as_filter(name, function)


def _as_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    if name not in _context_filters:
        return function
    from jinja2 import pass_context

    return pass_context(function)


_compiled_templates_dir: list[Path] = []  # where the last app made keeps them


def keep_compiled_templates(directory: Path) -> None:
    """Keep compiled templates under `directory` (made 0700 if missing)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _compiled_templates_dir[:] = [directory]
    if templates.cache_info().currsize:
        _use_compiled_templates_dir(templates())


def _use_compiled_templates_dir(made: Jinja2Templates) -> None:
    from medianest.web.compiled_templates import CompiledTemplates

    if _compiled_templates_dir:
        made.env.bytecode_cache = CompiledTemplates(_compiled_templates_dir[0])


@cache
def templates() -> Jinja2Templates:
    """The pages' environment, made by the first page rendered."""
    from fastapi.templating import Jinja2Templates

    made = Jinja2Templates(directory=TEMPLATES_DIR)
    made.env.globals["static_url"] = static_url
    made.env.globals["app_version"] = __version__
    made.env.filters.update({name: _as_filter(name, f) for name, f in _filters.items()})
    _use_compiled_templates_dir(made)
    return made


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


@dataclass(frozen=True)
class PageHooks:
    """What pages need from sign-in (a package above web), installed by the app."""

    # Adds the cookies a page hands out (the CSRF cookie htmx echoes) to a rendered page.
    hand_out_cookies: Callable[[Request, Response], None]
    # Whether the request carries a session cookie, even one never resolved to a user.
    has_session_cookie: Callable[[Request], bool]


def page_hooks(request: Request) -> PageHooks | None:
    hooks: PageHooks | None = getattr(request.app.state, "page_hooks", None)
    return hooks


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
    response = templates().TemplateResponse(
        request, name, values, status_code=status_code, headers=headers
    )
    hooks = page_hooks(request)
    if hooks is not None:
        hooks.hand_out_cookies(request, response)
    return response
