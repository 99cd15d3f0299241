"""Personal API tokens of the signed-in user: list, create (shown once), revoke.

Creating one takes a signed-in browser (`SessionIdentity`): a token that could mint
tokens would let a leaked one outlive its own expiry and revocation. Listing and
revoking stay open to tokens, for scripts that tidy up (neither widens access).
"""

from __future__ import annotations

import uuid

from fastapi import Response

from medianest.auth.dependencies import CurrentUser, SessionIdentity
from medianest.auth.tokens import service as api_tokens
from medianest.auth.tokens.schemas import ApiTokenOut, CreateApiToken, CreatedApiTokenOut
from medianest.core.deps import SessionDep, api_router
from medianest.core.envelope import ERROR_RESPONSES, Envelope, envelope

router = api_router(prefix="/api/auth/tokens", tags=["auth"], responses=ERROR_RESPONSES)


@router.get("", response_model=Envelope[list[ApiTokenOut]])
async def list_api_tokens(user: CurrentUser, session: SessionDep) -> Envelope[list[ApiTokenOut]]:
    """The caller's API tokens (never the tokens themselves)."""
    rows = await api_tokens.list_tokens(session, user=user)
    return envelope([ApiTokenOut.model_validate(row) for row in rows])


@router.post("", response_model=Envelope[CreatedApiTokenOut], status_code=201)
async def create_api_token(
    body: CreateApiToken, identity: SessionIdentity, session: SessionDep
) -> Envelope[CreatedApiTokenOut]:
    """Create a token for `Authorization: Bearer ...`; copy it now, it is not shown again.
    A signed-in browser only: an API token is refused (403, reason `session_required`)."""
    row, plaintext = await api_tokens.create_token(
        session, user=identity.user, name=body.name, expires_in_days=body.expires_in_days
    )
    out = ApiTokenOut.model_validate(row).model_dump()
    return envelope(CreatedApiTokenOut(**out, token=plaintext))


@router.delete("/{token_id}", status_code=204, response_class=Response)
async def revoke_api_token(token_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    """Revoke one of the caller's tokens; another user's token is a 404."""
    await api_tokens.revoke_users_token(session, user=user, token_id=token_id)
    return Response(status_code=204)
