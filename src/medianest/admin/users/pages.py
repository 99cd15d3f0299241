"""The admin page: users (role and status changes, confirmed in a dialog), with the
service configuration and system settings panels from `admin/connections/pages.py` and `admin/system/pages.py`.
Everything goes through the same admin services as `/api/admin`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response

from medianest.admin.connections import service as services_service
from medianest.admin.connections import webhook_pages
from medianest.admin.dependencies import ActingAdmin, AdminOverseerr, ManagedUser
from medianest.admin.schemas import UserChange
from medianest.admin.system.pages import QUALITIES
from medianest.admin.users import service as users_service
from medianest.auth.dependencies import AdminUser
from medianest.auth.models import OverseerrLink, User
from medianest.auth.page_user import page_router
from medianest.context import ContextDep
from medianest.core.deps import SessionDep
from medianest.core.errors import MediaNestError
from medianest.integrations.outcomes import service_name
from medianest.limits import store as limits_store
from medianest.web.forms import form_input
from medianest.web.fragments import trigger
from medianest.web.templating import render

router = page_router()
USERS_PAGE_SIZE = 25


async def _users(session: SessionDep, *, search: str, page: int) -> dict[str, Any]:
    users, total = await users_service.list_users(
        session, search=search or None, page=page, page_size=USERS_PAGE_SIZE
    )
    return {
        "users": users,
        "search": search,
        "page": page,
        "pages": max(1, -(-total // USERS_PAGE_SIZE)),
        "total": total,
    }


@router.get("/admin")
async def admin_page(
    request: Request,
    admin: AdminUser,
    session: SessionDep,
    ctx: ContextDep,
    search: Annotated[str, Query(max_length=150)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    context: dict[str, Any] = {
        "nav": "admin",
        "services": await services_service.list_services(session),
        "limits": await limits_store.load_runtime_config(session, settings=ctx.settings),
        **await webhook_pages.panel_context(session, ctx, request),
        "qualities": QUALITIES,
        "field_errors": {},
    }
    context.update(await _users(session, search=search.strip(), page=page))
    return render(request, "admin/index.html", context)


@router.get("/admin/users")
async def users_fragment(
    request: Request,
    admin: AdminUser,
    session: SessionDep,
    search: Annotated[str, Query(max_length=150)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    return render(
        request, "admin/_users.html", await _users(session, search=search.strip(), page=page)
    )


@router.put("/admin/users/{user_id}")
async def update_user(
    user_id: uuid.UUID,
    user: ManagedUser,
    request: Request,
    admin: ActingAdmin,
    overseerr: AdminOverseerr,
    session: SessionDep,
) -> Response:
    before = _shown(user)
    name = overseerr.http.display_name() if overseerr is not None else service_name("overseerr")
    try:
        change = form_input(
            UserChange,
            await _sent_fields(request),
            messages={"overseerr_user_id": _LINK_HINT.format(name=name)},
        )
        await users_service.update_user(
            session, by=admin, user=user, change=change, overseerr=overseerr
        )
    except MediaNestError as error:
        # The row goes back to what is stored, and the reason shows as a toast and in the row.
        await session.rollback()
        user = await users_service.get_user(session, user_id=user_id)
        return _row(request, user, error=error, status_code=error.status_code)
    changed = [
        f"{label.format(name=name)} is now {value}"
        for label, old, value in zip(_SHOWN_LABELS, before, _shown(user), strict=True)
        if old != value
    ]
    message = f"{user.username}: {', '.join(changed)}." if changed else None
    return _row(request, user, headers=trigger(message, "success") if message else None)


# `{name}`: the request service as it is called here (a Seerr, a renamed Overseerr).
_SHOWN_LABELS = ("role", "status", "{name} user")


def _shown(user: User) -> tuple[str, str, int | str]:
    """What the row's change toast names, in `_SHOWN_LABELS`' order."""
    return (user.role, user.status, overseerr_shown(user))


def overseerr_shown(user: User) -> int | str:
    """The link as the row and its toast name it."""
    if user.overseerr_user_id is not None:
        automatic = user.overseerr_link == OverseerrLink.AUTOMATIC
        return (
            f"{user.overseerr_user_id} (same Plex account)" if automatic else user.overseerr_user_id
        )
    return "not linked" if user.overseerr_link == OverseerrLink.ADMIN else "automatic"


_LINK_HINT = (
    "The {name} user id is the number in the user's address in {name} "
    "(Users → the user), 1 or more; leave it empty to unlink."
)


async def _sent_fields(request: Request) -> dict[str, Any]:
    """The row's fields htmx sent (one a change): absent means unchanged, and an empty
    Overseerr box unlinks (FastAPI's form parameters cannot tell empty from absent)."""
    form = await request.form()
    sent: dict[str, Any] = {
        k: form[k] for k in ("role", "status", "overseerr_user_id", "overseerr_link") if k in form
    }
    if isinstance(sent.get("overseerr_user_id"), str) and not sent["overseerr_user_id"].strip():
        sent["overseerr_user_id"] = None
    return sent


@router.delete("/admin/users/{user_id}")
async def delete_user(
    user_id: uuid.UUID,
    user: ManagedUser,
    request: Request,
    admin: ActingAdmin,
    session: SessionDep,
    ctx: ContextDep,
) -> Response:
    try:
        await users_service.delete_user(session, ctx=ctx, by=admin, user=user)
    except MediaNestError as error:
        await session.rollback()
        user = await users_service.get_user(session, user_id=user_id)
        return _row(request, user, error=error, status_code=error.status_code)
    return Response(
        content="", media_type="text/html", headers=trigger(f"Deleted {user.username}.", "info")
    )


def _row(
    request: Request,
    user: User,
    *,
    error: MediaNestError | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    if error is not None:
        headers = trigger(error.message, "error")
    return render(
        request,
        "admin/_user_row.html",
        {"u": user, "row_error": error},
        status_code=status_code,
        headers=headers,
    )
