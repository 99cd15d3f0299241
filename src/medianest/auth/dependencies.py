"""Who is asking: one dependency for "signed in", one for "admin".

A request is authenticated by the session cookie or by `Authorization: Bearer
<personal API token>` (`auth.identity.identify` decides; a caller the session cache
holds needs no database session). Cookie-authenticated unsafe requests must echo the
CSRF cookie in `X-CSRF-Token`. Disabled users are refused and their sessions end.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Response

from medianest.auth.cookies import CSRF_COOKIE, CSRF_HEADER, REMEMBER_COOKIE, client_ip
from medianest.auth.identity import Identity, decide_identity, decided_identity, identify
from medianest.auth.models import User
from medianest.auth.service import ThisBrowser
from medianest.context import AppContext, ContextDep, context_of
from medianest.core import passwords, response_cache
from medianest.core.data_changes import note_read
from medianest.core.deps import database_of
from medianest.core.errors import (
    CsrfFailed,
    PasswordChangeRequired,
    PermissionDenied,
    Unauthenticated,
)
from medianest.core.ratelimit import RateLimitResult
from medianest.core.tokens import tokens_equal

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RATE_LIMITED_MESSAGE = "Too many requests. Slow down and try again shortly."
_USERS_TABLE = User.__tablename__
# The caller once checked signed in (CSRF, rate limit), in the ASGI scope (see
# `auth.identity.decided_identity`).
_SIGNED_IN_IDENTITY = "medianest.signed_in_identity"
EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])
# Set by `counted_as_images` on the endpoints of routes that serve images (the endpoint,
# in the scope once routed, is known before any dependency runs: the response cache runs
# this module's gates first).
_IMAGE_BUDGET = "_medianest_counted_as_images"
# A page shows many images at once (a library page: 24 posters, each a request), so they
# count on a budget of their own, this many times the API's: browsing a library does not
# use up a person's requests (two or three pages of posters did), nor pages the images'.
IMAGES_PER_API_REQUEST = 10


def counted_as_images(endpoint: EndpointT) -> EndpointT:
    """Mark an endpoint: its requests count on the caller's image budget, not the API one."""
    setattr(endpoint, _IMAGE_BUDGET, True)
    return endpoint


async def resolve_identity(
    request: Request, response: Response, ctx: ContextDep
) -> Identity | None:
    """The caller's identity, or None. Cached on the request for later dependencies."""
    return await _resolve_identity(request, response, ctx)


async def _resolve_identity(
    request: Request, response: Response, ctx: AppContext
) -> Identity | None:
    decided, identity = decided_identity(request)
    if not decided:
        identity = await identify(request, response, database_of(request), ctx)
        decide_identity(request, identity)
    return identity


async def _signed_in(request: Request, response: Response, ctx: AppContext) -> Identity:
    """The caller, signed in: CSRF checked and the API rate limit counted, once a request.

    Plain calls rather than a chain of dependencies: each level of FastAPI dependency
    costs a resolution on every request, and this runs on every authenticated one.
    """
    checked: Identity | None = request.scope.get(_SIGNED_IN_IDENTITY)
    if checked is not None:
        return checked
    identity = await _resolve_identity(request, response, ctx)
    if identity is None:
        raise Unauthenticated()
    if identity.via == "session" and request.method in UNSAFE_METHODS:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        header = request.headers.get(CSRF_HEADER, "")
        if not cookie or not header or not tokens_equal(cookie, header):
            raise CsrfFailed()
    images = getattr(request.scope.get("endpoint"), _IMAGE_BUDGET, False)
    result = await count_api_request(ctx, identity.user.id, images=images)
    response.raw_headers.extend(result.raw_headers)  # once a request (see above)
    result.raise_if_exceeded(RATE_LIMITED_MESSAGE)
    request.scope[_SIGNED_IN_IDENTITY] = identity
    # What the caller is (role, name, settings) is part of every answer made for them,
    # even when their row came from the session cache rather than a query.
    note_read(_USERS_TABLE)
    response_cache.mark_signed_in(request.scope)
    return identity


@functools.lru_cache(maxsize=4096)
def _api_limit_key(user_id: uuid.UUID) -> str:
    return f"api:{user_id}"  # str(UUID) costs more than the rest of a leased hit


@functools.lru_cache(maxsize=4096)
def _image_limit_key(user_id: uuid.UUID) -> str:
    return f"api-images:{user_id}"


async def count_api_request(
    ctx: AppContext, user_id: uuid.UUID, *, images: bool = False
) -> RateLimitResult:
    """One request against the user's API rate limit (the same count however answered),
    or against their image budget."""
    if images:
        key, limit = _image_limit_key(user_id), ctx.limits.api_per_minute * IMAGES_PER_API_REQUEST
    else:
        key, limit = _api_limit_key(user_id), ctx.limits.api_per_minute
    return await ctx.rate_limiter.hit(key, limit=limit, window_seconds=60, leased=True)


@response_cache.who_asks
async def get_identity_allowing_password_change(request: Request, response: Response) -> Identity:
    """For change-password, logout and session: reachable while a change is required."""
    return await _signed_in(request, response, context_of(request))


@response_cache.who_asks
async def get_identity(request: Request, response: Response) -> Identity:
    identity = await _signed_in(request, response, context_of(request))
    if identity.user.must_change_password:
        raise PasswordChangeRequired()
    return identity


@response_cache.who_asks
async def get_current_user(request: Request, response: Response) -> User:
    return (await get_identity(request, response)).user


@response_cache.who_asks
async def get_admin_user(request: Request, response: Response) -> User:
    user = await get_current_user(request, response)
    if not user.is_admin:
        raise PermissionDenied("Only administrators can do this.")
    return user


@response_cache.who_asks
async def get_session_identity(request: Request, response: Response) -> Identity:
    """For what acts on "this browser": a signed-in session, not a script's API token."""
    identity = await get_identity(request, response)
    if identity.via != "session" or identity.session_token is None:
        raise PermissionDenied(
            "Only a signed-in browser can do this: an API token has no session of its own.",
            details={"reason": "session_required"},
        )
    return identity


SessionIdentity = Annotated[Identity, Depends(get_session_identity)]


async def get_this_browser(request: Request, identity: SessionIdentity) -> ThisBrowser:
    """The signed-in browser asking, for what acts on its other sign-ins."""
    return ThisBrowser(
        user=identity.user,
        session_token=str(identity.session_token),
        remember_token=request.cookies.get(REMEMBER_COOKIE),
        ip=client_ip(request, context_of(request).settings),
    )


async def admit_sign_in() -> AsyncIterator[None]:
    with passwords.sign_in_admission():
        yield


# For routes that check a password before anything else: see `sign_in_admission`.
SignInAdmission = Depends(admit_sign_in, scope="function")
IdentityDep = Annotated[Identity, Depends(get_identity)]
PasswordChangeIdentity = Annotated[Identity, Depends(get_identity_allowing_password_change)]
CurrentUser = Annotated[User, Depends(get_current_user)]
AdminUser = Annotated[User, Depends(get_admin_user)]
ThisBrowserDep = Annotated[ThisBrowser, Depends(get_this_browser)]
