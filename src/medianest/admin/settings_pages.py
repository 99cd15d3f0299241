"""Admin panels for service configuration (URL, masked key, enabled, Test, Save) and
system settings, as htmx fragments over the same services as `/api/admin`."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from medianest.admin import services as services_service
from medianest.admin import system_config
from medianest.admin.dependencies import ActingAdmin
from medianest.admin.schemas import ServiceOut, ServiceTest, ServiceUpdate
from medianest.auth.dependencies import AdminUser
from medianest.context import ContextDep
from medianest.core.deps import SessionDep, api_router
from medianest.core.errors import InvalidInput, MediaNestError
from medianest.limits.runtime import RuntimeConfigUpdate
from medianest.web.forms import form_input
from medianest.web.fragments import trigger
from medianest.web.templating import render

router = api_router()
# A test answer slower than this is flagged: people notice waits of a couple of seconds.
SLOW_TEST_MS = 2000

SERVICE_LABELS = {"plex": "Plex", "overseerr": "Overseerr", "uptime_kuma": "Uptime Kuma"}
QUALITIES = {"best": "Best available", "1080p": "1080p", "720p": "720p", "audio": "Audio only"}

UrlField = Annotated[str, Form(max_length=2048)]
KeyField = Annotated[str, Form(alias="apiKey", max_length=1024)]
PasswordField = Annotated[str, Form(max_length=1024)]
SourceField = Annotated[str, Form(max_length=20)]
UsernameField = Annotated[str, Form(max_length=100)]


def _options(
    name: str, status_page: str, source: str = "", username: str = ""
) -> dict[str, Any] | None:
    """Only Uptime Kuma has options: its source (blank: metrics with a key, else the
    status page), the status page slug and the live connection's username."""
    if name != "uptime_kuma":
        return None
    given = {"statusPage": status_page.strip(), "source": source, "username": username.strip()}
    return {key: value for key, value in given.items() if value}


def _field_of(error: MediaNestError) -> str:
    field = error.details.get("field")
    return field if isinstance(field, str) else "_form"


@router.put("/admin/services/{name}")
async def save_service(
    name: str,
    request: Request,
    admin: ActingAdmin,
    session: SessionDep,
    ctx: ContextDep,
    url: UrlField = "",
    api_key: KeyField = "",
    remove_key: Annotated[str | None, Form(alias="removeKey")] = None,
    enabled: Annotated[str | None, Form()] = None,
    status_page: Annotated[str, Form(alias="statusPage", max_length=100)] = "",
    source: SourceField = "",
    username: UsernameField = "",
    password: PasswordField = "",
    remove_password: Annotated[str | None, Form(alias="removePassword")] = None,
) -> Response:
    services_service.require_service_name(name)
    try:
        change = form_input(
            ServiceUpdate,
            {
                "url": url,
                # An empty key box keeps the saved key; the checkbox removes it.
                "api_key": "" if remove_key else (api_key or None),
                "password": "" if remove_password else (password or None),
                "enabled": bool(enabled),
                "config": _options(name, status_page, source, username),
            },
        )
        out = await services_service.save_service(
            session, ctx=ctx, name=name, change=change, by=admin
        )
    except MediaNestError as error:
        await session.rollback()
        current = next(s for s in await services_service.list_services(session) if s.name == name)
        draft = current.model_copy(update={"url": url, "enabled": bool(enabled)})
        return _service_form(request, draft, error=error, status_code=error.status_code)
    return _service_form(
        request, out, headers=trigger(f"Saved {SERVICE_LABELS.get(name, name)}.", "success")
    )


@router.post("/admin/services/{name}/test")
async def test_service(
    name: str,
    request: Request,
    admin: AdminUser,
    session: SessionDep,
    ctx: ContextDep,
    url: UrlField = "",
    api_key: KeyField = "",
    status_page: Annotated[str, Form(alias="statusPage", max_length=100)] = "",
    source: SourceField = "",
    username: UsernameField = "",
    password: PasswordField = "",
) -> Response:
    try:
        draft = ServiceTest(
            name=name,
            url=url.strip() or None,
            api_key=api_key or None,
            password=password or None,
            config=_options(name, status_page, source, username),
        )
        result = await services_service.test_service(
            session, box=ctx.secret_box, integrations=ctx.integrations, draft=draft
        )
    except (MediaNestError, ValidationError) as error:
        message = error.message if isinstance(error, MediaNestError) else "Check the fields."
        return render(request, "admin/_test_result.html", {"result": None, "message": message})
    return render(
        request,
        "admin/_test_result.html",
        {"result": result, "message": None, "slow_ms": SLOW_TEST_MS},
    )


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


def _service_form(
    request: Request,
    service: ServiceOut,
    *,
    error: MediaNestError | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    field_errors = {_field_of(error): error.message} if error else {}
    return render(
        request,
        "admin/_service.html",
        {"s": service, "labels": SERVICE_LABELS, "field_errors": field_errors},
        status_code=status_code,
        headers=headers,
    )


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
