"""The admin page's Overseerr webhook panel: the same actions as `webhook_router`
(set or rotate the secret, send a test), rendered as an HTMX fragment."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response

from medianest.auth.cookies import client_ip
from medianest.auth.dependencies import AdminUser
from medianest.auth.page_user import page_router
from medianest.context import AppContext, ContextDep
from medianest.core.deps import SessionDep
from medianest.core.errors import MediaNestError
from medianest.media import webhook_setup
from medianest.web.fragments import trigger
from medianest.web.templating import render

router = page_router()


async def panel_context(session: Any, ctx: AppContext, request: Request) -> dict[str, Any]:
    setup = await webhook_setup.setup(session, ctx=ctx, base_url=str(request.base_url))
    return {"webhook": setup, "new_secret": None, "webhook_test": None, "webhook_error": None}


@router.put("/admin/webhook/secret")
async def set_secret(
    request: Request,
    admin: AdminUser,
    session: SessionDep,
    ctx: ContextDep,
    secret: Annotated[str | None, Form(max_length=256)] = None,
) -> Response:
    try:
        chosen = await webhook_setup.set_secret(
            session,
            ctx=ctx,
            secret=secret.strip() if secret and secret.strip() else None,
            actor_id=admin.id,
            ip=client_ip(request, ctx.settings),
        )
    except MediaNestError as error:
        context = await panel_context(session, ctx, request)
        context["webhook_error"] = error.message
        return render(request, "admin/_webhook.html", context, status_code=error.status_code)
    context = await panel_context(session, ctx, request)
    context["new_secret"] = chosen
    name = ctx.integrations.display_name("overseerr")
    return render(
        request,
        "admin/_webhook.html",
        context,
        headers=trigger(f"Webhook secret saved. Paste it into {name} now.", "success"),
    )


@router.post("/admin/webhook/test")
async def send_test(
    request: Request, admin: AdminUser, session: SessionDep, ctx: ContextDep
) -> Response:
    result = await webhook_setup.send_test(
        session,
        ctx=ctx,
        overseerr=await ctx.integrations.overseerr(),
        base_url=str(request.base_url),
    )
    context = await panel_context(session, ctx, request)
    context["webhook_test"] = result
    return render(request, "admin/_webhook.html", context)
