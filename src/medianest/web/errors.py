"""How errors look outside /api: sign-in redirects, a friendly 403/404/500 page,
or a small fragment (with HX-Redirect where needed) when htmx made the request. An htmx
action (a form, a button that changes something) the page's handler never answered
itself leaves the page as it is and says why in a toast (`HX-Reswap: none`).

Installed as `app.state.page_error_renderer`; core/handlers.py calls it for page paths.
"""

from __future__ import annotations

import json
from html import escape
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from medianest.core.logging import get_logger
from medianest.web.templating import current_user, duration_words, page_hooks, render

log = get_logger(__name__)

_TITLES = {
    400: "That did not work",
    403: "You cannot open this page",
    404: "Page not found",
    405: "Not allowed here",
    409: "That conflicts with something",
    422: "Some fields need another look",
    429: "Slow down a little",
    500: "Something went wrong",
    502: "A service gave a strange answer",
    503: "A service is unavailable",
}

_PAGE_MESSAGES = {
    404: "There is nothing at this address. It may have moved, or the link is mistyped.",
    403: "Your account does not have access to this page. Ask an administrator if you need it.",
}


def _redirect(request: Request, url: str) -> Response:
    if request.headers.get("hx-request"):
        # htmx follows HX-Redirect with a full navigation instead of swapping a fragment.
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def login_url_for(request: Request) -> str:
    """`/login?next=<this page>`, keeping only same-site relative paths."""
    if request.headers.get("hx-request") and request.headers.get("hx-current-url"):
        # A fragment request: come back to the page it was made from, not the fragment.
        current = urlsplit(request.headers["hx-current-url"])
        path, query = current.path or "/", current.query
    else:
        path, query = request.url.path, request.url.query
    if query:
        path = f"{path}?{query}"
    return "/login" if path in ("/", "/login") else f"/login?next={quote(path, safe='/')}"


_RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})


def _retry_url(request: Request) -> str | None:
    """The address to ask again: this page, or for htmx the fragment when it was a GET."""
    if request.method != "GET":
        return None
    path = request.url.path
    return f"{path}?{request.url.query}" if request.url.query else path


def _has_session_cookie(request: Request) -> bool:
    hooks = page_hooks(request)
    return hooks is not None and hooks.has_session_cookie(request)


# What an action refused before its handler ran says in the toast, where the page words
# ("You cannot open this page") or the API's ("Missing or invalid CSRF token.") mislead.
_ACTION_MESSAGES = {
    "CSRF_FAILED": "This page's security check has expired. Reload the page, then try again.",
    "NOT_FOUND": "This is no longer there. Reload the page to see what is.",
}


def _is_htmx_action(request: Request) -> bool:
    """An htmx request that changes something: its target holds a form or the control
    that sent it (a GET only loads a region, which may show the error with Try again)."""
    return bool(request.headers.get("hx-request")) and request.method not in ("GET", "HEAD")


def _action_toast(
    request: Request, status: int, code: str, message: str, headers: dict[str, str]
) -> dict[str, str]:
    """`HX-Reswap: none` keeps the form and what was typed (htmx 2 `handleAjaxResponse`
    reads it over `hx-swap`); `HX-Trigger` fires app.js's `toast` on any status."""
    generic = code != "NOT_FOUND" or message == "No such resource."
    text = _ACTION_MESSAGES.get(code, message) if generic else message
    retry_after = headers.get("Retry-After", "")
    if status == 429 and retry_after.isdigit():
        # The wait replaces any vaguer "try again shortly" of the message's later sentences.
        first = text.split(". ", 1)[0].rstrip(".")
        text = f"{first}. Try again in {duration_words(int(retry_after))}."
    correlation_id = getattr(request.state, "correlation_id", None)
    if status >= 500 and correlation_id:
        text = f"{text} (reference {correlation_id})"
    toast = {"message": text, "type": "error", "status": status, "code": code}
    return {"HX-Reswap": "none", "HX-Trigger": json.dumps({"toast": toast})}


def render_page_error(
    request: Request,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> Response:
    if code == "UNAUTHENTICATED":
        return _redirect(request, login_url_for(request))
    if code == "PASSWORD_CHANGE_REQUIRED":
        return _redirect(request, "/change-password")
    keep_page = _is_htmx_action(request)
    toast = _action_toast(request, status, code, message, headers or {}) if keep_page else {}
    if code == "PERMISSION_DENIED" or (status == 404 and message == "No such resource."):
        message = _PAGE_MESSAGES[status]
    context = {
        "status": status,
        "code": code,
        "title": _TITLES.get(status, "Something went wrong"),
        "message": message,
        "correlation_id": getattr(request.state, "correlation_id", None),
        # Pages nobody routes (a mistyped address) never resolved the user; a session
        # cookie is enough to offer the dashboard (it sends a stale one to sign-in).
        "signed_in": current_user(request) is not None or _has_session_cookie(request),
        # Outages and overload pass: the same address may work a moment later.
        "retry_url": _retry_url(request) if status in _RETRYABLE else None,
    }
    template = "partials/error.html" if request.headers.get("hx-request") else "errors/page.html"
    try:
        return render(request, template, context, status_code=status, headers=toast)
    except Exception:
        # The error page itself must never fail (a failing handler leaves the request hanging).
        log.exception("error_page_failed", status=status, code=code)
        body = f"<h1>{status}</h1><p>{escape(message)}</p>"
        return HTMLResponse(body, status_code=status, headers=toast)
