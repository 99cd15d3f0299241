"""Admin panels for the external apps' configuration (URL, masked key, enabled, Test,
Save), as htmx fragments over the same service as `/api/admin/services`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from medianest.admin.connections import service as services_service
from medianest.admin.dependencies import ActingAdmin
from medianest.admin.schemas import ServiceOut, ServiceTest, ServiceUpdate
from medianest.auth.dependencies import AdminUser
from medianest.auth.page_user import page_router
from medianest.context import ContextDep
from medianest.core.deps import SessionDep
from medianest.core.errors import MediaNestError
from medianest.web.forms import form_input
from medianest.web.fragments import trigger
from medianest.web.templating import render

router = page_router()
# A test answer slower than this is flagged: people notice waits of a couple of seconds.
SLOW_TEST_MS = 2000


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
        request, out, headers=trigger(f"Saved {ctx.integrations.display_name(name)}.", "success")
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
        {"s": service, "field_errors": field_errors},
        status_code=status_code,
        headers=headers,
    )
