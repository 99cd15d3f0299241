"""Cookie names and flags. Secure is set whenever the request came over HTTPS
(directly, or through a trusted proxy's X-Forwarded-Proto)."""

from __future__ import annotations

import contextlib
import ipaddress

from fastapi import Request, Response

from medianest.core.tokens import new_token
from medianest.settings import Settings

SESSION_COOKIE = "medianest_session"
REMEMBER_COOKIE = "medianest_remember"
CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "x-csrf-token"


def _is_trusted_proxy(host: str, settings: Settings) -> bool:
    """`host` is one of `trusted_proxies` (addresses, or networks such as 10.0.0.0/8)."""
    if host in settings.trusted_proxies:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    for entry in settings.trusted_proxies:
        if "/" in entry:
            with contextlib.suppress(ValueError):
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
    return False


def client_ip(request: Request, settings: Settings) -> str | None:
    """The address of whoever sent the request: the peer, or through trusted proxies the
    rightmost X-Forwarded-For hop that is not a trusted proxy. Hops to its left were
    written by the client (each proxy appends the address it saw), so they prove nothing.
    """
    peer = request.client.host if request.client else None
    forwarded = request.headers.get("x-forwarded-for")
    if not forwarded or peer is None or not _is_trusted_proxy(peer, settings):
        return peer
    hops = [hop.strip() for hop in forwarded.split(",")]
    for hop in reversed(hops):
        if not hop:
            continue
        if not _is_trusted_proxy(hop, settings):
            return hop[:64]  # the column it is stored in is 64 characters
    return peer  # every hop is a proxy of ours: the request started inside


def is_https(request: Request, settings: Settings) -> bool:
    if request.scope.get("scheme") == "https":  # (not `request.url`: it builds the whole URL)
        return True
    peer = request.client.host if request.client else None
    proto = request.headers.get("x-forwarded-proto", "")
    # The proxy next to us sets (or appends) the scheme it was reached by: the last one.
    return (
        peer is not None
        and _is_trusted_proxy(peer, settings)
        and proto.split(",")[-1].strip() == "https"
    )


def set_session_cookie(
    response: Response, request: Request, settings: Settings, token: str
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_absolute_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=is_https(request, settings),
        path="/",
    )


def set_csrf_cookie(
    response: Response, request: Request, settings: Settings, *, fresh: bool = False
) -> str:
    """Double-submit CSRF: a readable cookie the page echoes in X-CSRF-Token; the token.

    `fresh` at every sign-in: a token planted in the browser before (a cookie set by a
    sibling subdomain or a shared machine) must not outlive it, or its planter could
    forge requests for the signed-in user. Otherwise a browser that has one keeps it:
    every sign-in sets it for as long as a session can last, and an answer that sets no
    cookie can be kept (core/response_cache.py; the session answer is asked for by
    every page's script).
    """
    token = None if fresh else request.cookies.get(CSRF_COOKIE)
    if token:
        return token
    token = new_token(24)
    response.set_cookie(
        CSRF_COOKIE,
        token,
        max_age=settings.session_absolute_hours * 3600,
        httponly=False,
        samesite="lax",
        secure=is_https(request, settings),
        path="/",
    )
    return token


def set_remember_cookie(
    response: Response, request: Request, settings: Settings, token: str
) -> None:
    response.set_cookie(
        REMEMBER_COOKIE,
        token,
        max_age=settings.remember_me_days * 86400,
        httponly=True,
        samesite="lax",
        secure=is_https(request, settings),
        path="/",
    )


def clear_auth_cookies(response: Response) -> None:
    for name in (SESSION_COOKIE, REMEMBER_COOKIE):
        response.delete_cookie(name, path="/")
