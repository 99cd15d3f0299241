"""Cookie names and flags. Secure is set whenever the request came over HTTPS
(directly, or through a trusted proxy's X-Forwarded-Proto)."""

from __future__ import annotations

from fastapi import Request, Response

from medianest.core.tokens import new_token
from medianest.settings import Settings

SESSION_COOKIE = "medianest_session"
REMEMBER_COOKIE = "medianest_remember"
CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "x-csrf-token"


def client_ip(request: Request, settings: Settings) -> str | None:
    peer = request.client.host if request.client else None
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and peer in settings.trusted_proxies:
        return forwarded.split(",")[0].strip()
    return peer


def is_https(request: Request, settings: Settings) -> bool:
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else None
    proto = request.headers.get("x-forwarded-proto", "")
    return peer in settings.trusted_proxies and proto.split(",")[0].strip() == "https"


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


def set_csrf_cookie(response: Response, request: Request, settings: Settings) -> str:
    """Double-submit CSRF: a readable cookie the page echoes in X-CSRF-Token."""
    token = request.cookies.get(CSRF_COOKIE) or new_token(24)
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
