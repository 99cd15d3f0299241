"""The account page's API tokens: the create form and the Revoke button, thin adapters
over the same service functions as POST and DELETE /api/auth/tokens.

The new token is in the answer to the form's POST only (`Cache-Control: no-store`): it is
never stored, logged or put in an address, so a reload shows the list without it.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.dependencies import CurrentUser, SessionIdentity
from medianest.auth.models import User
from medianest.auth.page_user import page_router
from medianest.auth.tokens import service as api_tokens
from medianest.auth.tokens.schemas import EXPIRES_MAX_DAYS, NAME_MAX_LENGTH, CreateApiToken
from medianest.core.deps import SessionDep
from medianest.core.errors import InvalidInput, MediaNestError
from medianest.web.forms import form_input
from medianest.web.fragments import trigger
from medianest.web.templating import render

router = page_router()
SECTION = "auth/_api_tokens.html"
# Generous: a longer name is the schema's to refuse, next to the field, with its words.
_FORM_MAX = 4096


async def token_section(session: AsyncSession, *, user: User, **values: Any) -> dict[str, Any]:
    """What `auth/_api_tokens.html` shows: the user's live tokens, the form's limits (the
    API schema's), and whatever the form answer adds (errors, the new token)."""
    context: dict[str, Any] = {
        "tokens": await api_tokens.list_tokens(session, user=user),
        "name_max": NAME_MAX_LENGTH,
        "expiry_max": EXPIRES_MAX_DAYS,
        "field_errors": {},
        "form_error": None,
        "created": None,
    }
    context.update(values)
    return context


@router.post("/account/tokens")
async def create_api_token(
    request: Request,
    identity: SessionIdentity,
    session: SessionDep,
    name: Annotated[str, Form(max_length=_FORM_MAX)] = "",
    expires_in_days: Annotated[str, Form(alias="expiresInDays", max_length=_FORM_MAX)] = "",
) -> Response:
    """The account page's "Create token": the same action as POST /api/auth/tokens (a
    signed-in browser only, the same schema, the per-user cap), shown once."""
    user = identity.user
    typed = {"name": name, "expires": expires_in_days}
    try:
        body = form_input(
            CreateApiToken, {"name": name, "expiresInDays": expires_in_days.strip() or None}
        )
        row, plaintext = await api_tokens.create_token(
            session, user=user, name=body.name, expires_in_days=body.expires_in_days
        )
    except InvalidInput as invalid:
        fields = invalid.details.get("fields") or {"name": invalid.message}
        context = await token_section(session, user=user, field_errors=fields, **typed)
        return render(request, SECTION, context, status_code=invalid.status_code)
    except MediaNestError as refused:  # the per-user cap (409), as the API says it
        context = await token_section(session, user=user, form_error=refused, **typed)
        return render(
            request, SECTION, context, status_code=refused.status_code, headers=refused.headers
        )
    context = await token_section(session, user=user, created=row, plaintext=plaintext)
    headers = trigger("Token created. Copy it now: it is not shown again.", "success")
    # Explicit, though every page answer is no-store (core/middleware.py): this one must be.
    headers["Cache-Control"] = "no-store"
    return render(request, SECTION, context, headers=headers)


@router.delete("/account/tokens/{token_id}")
async def revoke_api_token(token_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    """The account page's Revoke button: the same action as DELETE /api/auth/tokens/{id}."""
    await api_tokens.revoke_users_token(session, user=user, token_id=token_id)
    return Response(content="", media_type="text/html", headers=trigger("Token revoked.", "info"))
