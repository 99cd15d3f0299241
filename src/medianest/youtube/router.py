"""JSON API of YouTube downloads: submit, list, read, cancel, delete (own downloads only;
admins reach everyone's, audited)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request, Response, status

from medianest.auth.cookies import client_ip
from medianest.auth.dependencies import CurrentUser
from medianest.context import ContextDep
from medianest.core.deps import SessionDep, api_router
from medianest.core.envelope import ERROR_RESPONSES, Envelope, PagedEnvelope, envelope, paged
from medianest.youtube.dependencies import OwnedDownload
from medianest.youtube.downloads import service
from medianest.youtube.schemas import Download, DownloadRequest, to_download

router = api_router(prefix="/api/youtube", tags=["youtube"], responses=ERROR_RESPONSES)


@router.post("/download", response_model=Envelope[Download], status_code=status.HTTP_201_CREATED)
async def submit_download(
    body: DownloadRequest, user: CurrentUser, session: SessionDep, ctx: ContextDep
) -> Envelope[Download]:
    """Queue a YouTube playlist or video for download (5 per hour per user by default)."""
    job = await service.submit_request(session, ctx=ctx, user=user, wanted=body)
    return envelope(to_download(job))


@router.get("/downloads", response_model=PagedEnvelope[Download])
async def list_downloads(
    user: CurrentUser,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100)] = 20,
    user_id: Annotated[uuid.UUID | None, Query(alias="userId")] = None,
    all_users: Annotated[bool, Query(alias="all")] = False,
) -> PagedEnvelope[Download]:
    """The caller's downloads, newest first; admins may ask for one user's (`userId`) or
    everyone's (`all=true`)."""
    scope = service.downloads_scope(user, user_id=user_id, all_users=all_users)
    rows, total = await service.list_downloads(
        session, user_id=scope, page=page, page_size=page_size
    )
    return paged([to_download(r) for r in rows], page=page, page_size=page_size, total=total)


@router.get("/downloads/{download_id}", response_model=Envelope[Download])
async def get_download(job: OwnedDownload) -> Envelope[Download]:
    """One of the caller's downloads with per-item progress (admins: anyone's)."""
    return envelope(to_download(job))


@router.post("/downloads/{download_id}/cancel", response_model=Envelope[Download])
async def cancel_download(
    job: OwnedDownload, user: CurrentUser, session: SessionDep, ctx: ContextDep, request: Request
) -> Envelope[Download]:
    """Stop a queued or running download; finished items stay on disk."""
    ip = client_ip(request, ctx.settings)
    await service.cancel(session, ctx=ctx, job=job, actor=user, ip=ip)
    return envelope(to_download(job))


@router.post("/downloads/{download_id}/resume", response_model=Envelope[Download])
async def resume_download(
    job: OwnedDownload, user: CurrentUser, session: SessionDep, ctx: ContextDep, request: Request
) -> Envelope[Download]:
    """Queue a cancelled download again; finished items are kept (409 unless cancelled)."""
    ip = client_ip(request, ctx.settings)
    await service.resume(session, ctx=ctx, job=job, actor=user, ip=ip)
    return envelope(to_download(job))


@router.delete(
    "/downloads/{download_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
async def delete_download(
    job: OwnedDownload, user: CurrentUser, session: SessionDep, ctx: ContextDep, request: Request
) -> Response:
    """Cancel if running, then delete the files, the Plex collection and the record."""
    ip = client_ip(request, ctx.settings)
    await service.delete(session, ctx=ctx, job=job, actor=user, ip=ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
