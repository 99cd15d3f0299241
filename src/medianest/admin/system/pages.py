"""The admin page's "YouTube system" section: yt-dlp version and age (warning past 60
days), the download queue by state and pause reason, and the queue breaker with why it
opened and a button to resume now. Same data as `GET /api/admin/system`. And the quotas
per role, as a form over `PUT /api/admin/config/youtube`. And "Plex and downloads": the
path under which Plex sees the downloads, the content rating given to downloaded videos,
Plex's libraries and folders, the Test, and
whose downloads wait for a delivery ("Deliver again").
And the run-time limits and defaults ("System settings"), over the same action as
`PUT /api/admin/config`."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from medianest.admin.dependencies import ActingAdmin, ManagedUser
from medianest.admin.system import config as system_config
from medianest.admin.system import router as system_router
from medianest.admin.system import schemas as system_schemas
from medianest.auth.dependencies import AdminUser
from medianest.auth.page_user import page_router
from medianest.context import ContextDep
from medianest.core.deps import SessionDep
from medianest.core.errors import InvalidInput, MediaNestError
from medianest.core.validation_words import plain_message
from medianest.limits.quotas import QuotaConfig
from medianest.limits.runtime import RuntimeConfigUpdate
from medianest.web.forms import form_input
from medianest.web.fragments import trigger
from medianest.web.templating import render

router = page_router()
QUALITIES = {"best": "Best available", "1080p": "1080p", "720p": "720p", "audio": "Audio only"}


@router.get("/admin/system")
async def system_fragment(
    request: Request, admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Response:
    info = (await system_router.system_info(admin, session, ctx)).data
    return render(request, "admin/_system.html", {"info": info})


@router.post("/admin/system/queue-breaker/close")
async def close_breaker(
    request: Request, admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Response:
    info = (await system_router.close_breaker(admin, session, ctx, request)).data
    return render(
        request,
        "admin/_system.html",
        {"info": info},
        headers=trigger("Downloads resume now.", "info"),
    )


# The quota fields of each role, in the form's order: (form name = API alias, label).
QUOTA_FIELDS = (
    ("youtubeItemsPerDay", "YouTube items per day"),
    ("youtubeGbPerWeek", "YouTube GB per week"),
    ("mediaRequestsPerWeek", "Media requests per week"),
)
ROLES = ("user", "admin")


@router.get("/admin/quotas")
async def quotas_fragment(
    request: Request, admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Response:
    config = await system_router.get_youtube_config(admin, session, ctx)
    return _quotas_form(request, _form_values(config.data.quotas), {})


@router.put("/admin/quotas")
async def save_quotas(
    request: Request, admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Response:
    """Every field of both roles; an empty field means unlimited (the API's null)."""
    form = await request.form()
    raw = {
        f"{role}.{name}": str(form.get(f"{role}.{name}", "")).strip()[:20]
        for role in ROLES
        for name, _label in QUOTA_FIELDS
    }
    try:
        quotas = QuotaConfig.model_validate(
            {
                role: {name: raw[f"{role}.{name}"] or None for name, _label in QUOTA_FIELDS}
                for role in ROLES
            }
        )
    except ValidationError as exc:
        errors = {
            ".".join(str(part) for part in err["loc"][:2]): plain_message(err)
            for err in exc.errors()
        }
        return _quotas_form(request, raw, errors, status_code=422)
    body = system_schemas.YoutubeConfigUpdate(quotas=quotas)
    saved = await system_router.update_youtube_config(body, admin, session, ctx, request)
    return _quotas_form(
        request, _form_values(saved.data.quotas), {}, headers=trigger("Quotas saved.", "success")
    )


def _form_values(quotas: QuotaConfig) -> dict[str, str]:
    values = quotas.model_dump(by_alias=True)
    return {
        f"{role}.{name}": "" if values[role][name] is None else f"{values[role][name]:g}"
        for role in ROLES
        for name, _label in QUOTA_FIELDS
    }


def _quotas_form(
    request: Request,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "admin/_quotas.html",
        {"values": values, "field_errors": errors, "fields": QUOTA_FIELDS, "roles": ROLES},
        status_code=status_code,
        headers=headers,
    )


# --- Plex and downloads --------------------------------------------------------------------
PlexPathField = Annotated[str, Form(alias="plexPath", max_length=1000)]


async def _plex_form(admin: AdminUser, session: SessionDep, ctx: ContextDep) -> dict[str, Any]:
    """The panel's saved values (the database only)."""
    config = (await system_router.get_youtube_config(admin, session, ctx)).data
    return {
        "plex_path": config.plex_path or "",
        "content_rating": config.content_rating or "",
        "progress": config.content_rating_progress,
        "rating_error": None,
        "in_use": config.plex_path_in_use,
        "setting": ctx.settings.youtube_plex_path,
        "view": None,
        "view_error": None,
        "error": None,
        "result": None,
        "view_later": False,
    }


async def _plex_context(
    admin: AdminUser, session: SessionDep, ctx: ContextDep, **values: Any
) -> dict[str, Any]:
    """The panel with Plex's view of it (asked now: for answers that wrote nothing)."""
    context = await _plex_form(admin, session, ctx)
    try:
        context["view"] = (await system_router.plex_downloads_info(admin, session, ctx)).data
    except MediaNestError as exc:
        context["view_error"] = exc.message
    context.update(values)
    return context


async def _plex_context_after_write(
    admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> dict[str, Any]:
    """The panel after a save: Plex's view is asked by the page once this answer is in.
    On SQLite the request's writes hold the write lock until it commits, and asking Plex
    before that made every other writer of the app wait on Plex too."""
    return await _plex_form(admin, session, ctx) | {"view_later": True}


@router.get("/admin/plex-downloads")
async def plex_downloads_fragment(
    request: Request, admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Response:
    return render(request, "admin/_plex_downloads.html", await _plex_context(admin, session, ctx))


@router.put("/admin/plex-downloads")
async def save_plex_downloads(
    request: Request,
    admin: AdminUser,
    session: SessionDep,
    ctx: ContextDep,
    plex_path: PlexPathField = "",
    content_rating: Annotated[str, Form(alias="contentRating", max_length=200)] = "",
) -> Response:
    """The Plex path of downloads and the content rating given to downloaded videos."""
    typed = {"plex_path": plex_path, "content_rating": content_rating}
    try:
        body = form_input(system_schemas.YoutubeConfigUpdate, typed)
        await system_router.update_youtube_config(body, admin, session, ctx, request)
    except MediaNestError as exc:
        await session.rollback()
        rated = (exc.details or {}).get("field") in ("contentRating", "content_rating")
        errors = {"rating_error" if rated else "error": exc.message}
        context = await _plex_context(admin, session, ctx, **typed, **errors)
        return render(request, "admin/_plex_downloads.html", context, status_code=exc.status_code)
    return render(
        request,
        "admin/_plex_downloads.html",
        await _plex_context_after_write(admin, session, ctx),
        headers=trigger("Plex and downloads saved.", "success"),
    )


@router.get("/admin/plex-downloads/rating-progress")
async def rating_progress_fragment(
    request: Request, admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Response:
    """The panel's "Re-rating 12 of 40 downloads", polled until none are left."""
    progress = (await system_router.get_youtube_config(admin, session, ctx)).data
    context = {"progress": progress.content_rating_progress, "finished": True}
    return render(request, "admin/_rating_progress.html", context)


@router.post("/admin/plex-downloads/test")
async def test_plex_path(
    request: Request,
    admin: AdminUser,
    session: SessionDep,
    ctx: ContextDep,
    plex_path: PlexPathField = "",
) -> Response:
    try:
        body = system_schemas.PlexTestIn(plex_path=plex_path.strip() or None)
        result = (await system_router.test_plex_path(body, admin, session, ctx)).data
    except MediaNestError as exc:
        context = await _plex_context(admin, session, ctx, plex_path=plex_path, error=exc.message)
        return render(request, "admin/_plex_downloads.html", context, status_code=exc.status_code)
    context = await _plex_context(admin, session, ctx, plex_path=plex_path, result=result)
    return render(request, "admin/_plex_downloads.html", context)


@router.post("/admin/plex-downloads/redeliver/{user_id}")
async def redeliver(
    request: Request,
    user: ManagedUser,
    admin: AdminUser,
    actor: ActingAdmin,
    session: SessionDep,
    ctx: ContextDep,
) -> Response:
    """The panel's "Deliver again" for one user (the API's action)."""
    marked = (await system_router.redeliver(user, actor, session, ctx)).data.downloads
    context = await _plex_context_after_write(admin, session, ctx)
    message = f"{marked} download{'s' if marked != 1 else ''} of {user.username} to deliver again."
    return render(request, "admin/_plex_downloads.html", context, headers=trigger(message))


@router.put("/admin/settings")
async def save_settings(
    request: Request,
    admin: ActingAdmin,
    session: SessionDep,
    ctx: ContextDep,
    api_per_minute: Annotated[str, Form(alias="apiPerMinute", max_length=12)] = "",
    youtube_per_hour: Annotated[str, Form(alias="youtubePerHour", max_length=12)] = "",
    requests_per_hour: Annotated[str, Form(alias="requestsPerHour", max_length=12)] = "",
    worker_concurrency: Annotated[str, Form(alias="workerConcurrency", max_length=12)] = "",
    per_user_concurrency: Annotated[str, Form(alias="perUserConcurrency", max_length=12)] = "",
    default_download_quality: Annotated[
        str, Form(alias="defaultDownloadQuality", max_length=16)
    ] = "",
    plex_sign_in: Annotated[str, Form(alias="plexSignIn", max_length=32)] = "",
    overseerr_new_people: Annotated[str, Form(alias="overseerrNewPeople", max_length=32)] = "",
    plex_sign_in_extra_usernames: Annotated[
        str | None, Form(alias="plexSignInExtraUsernames", max_length=20_000)
    ] = None,
) -> Response:
    raw = {
        "api_per_minute": api_per_minute,
        "youtube_per_hour": youtube_per_hour,
        "requests_per_hour": requests_per_hour,
        "worker_concurrency": worker_concurrency,
        "per_user_concurrency": per_user_concurrency,
        "default_download_quality": default_download_quality,
        "plex_sign_in": plex_sign_in,
        "overseerr_new_people": overseerr_new_people,
    }
    given: dict[str, Any] = {k: v for k, v in raw.items() if v.strip()}
    if plex_sign_in or plex_sign_in_extra_usernames is not None:
        # The box is part of the form with the switch: one username per line or comma;
        # an empty box (which the form layer reads as absent) clears the list.
        given["plex_sign_in_extra_usernames"] = [
            name for name in re.split(r"[,\n]", plex_sign_in_extra_usernames or "") if name.strip()
        ]
    try:
        changes = form_input(RuntimeConfigUpdate, given)
    except InvalidInput as invalid:
        shown = raw | {"plex_sign_in_extra_usernames": given.get("plex_sign_in_extra_usernames")}
        errors = invalid.details["fields"]
        return _settings_form(request, shown, errors, status_code=invalid.status_code)
    try:
        limits = await system_config.save_runtime_config(
            session, ctx=ctx, changes=changes, by=admin
        )
    except MediaNestError as error:
        await session.rollback()
        return _settings_form(request, raw, {"_form": error.message}, status_code=error.status_code)
    return _settings_form(request, limits, {}, headers=trigger("System settings saved.", "success"))


def _settings_form(
    request: Request,
    limits: Any,
    errors: dict[str, str],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    # `limits`: the saved RuntimeLimits, or the submitted strings when they were refused.
    return render(
        request,
        "admin/_settings.html",
        {"limits": limits, "qualities": QUALITIES, "field_errors": errors},
        status_code=status_code,
        headers=headers,
    )
