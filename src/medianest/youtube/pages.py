"""YouTube pages: the submit form (quality choice, errors next to the field, rate-limit
countdown) and the downloads list with live progress. Same service as `/api/youtube`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import Response

from medianest.auth.cookies import client_ip
from medianest.auth.dependencies import CurrentUser
from medianest.auth.page_user import page_router
from medianest.context import ContextDep
from medianest.core.deps import SessionDep
from medianest.core.errors import MediaNestError
from medianest.web.forms import form_input
from medianest.web.fragments import retry_at, trigger
from medianest.web.templating import render
from medianest.youtube.delivery import visibility
from medianest.youtube.dependencies import OwnedDownload
from medianest.youtube.downloads import service
from medianest.youtube.schemas import DownloadRequest, to_download
from medianest.youtube.subscriptions.pages import DELIVERIES

router = page_router()
PAGE_SIZE = 20
QUALITIES = {"best": "Best available", "1080p": "1080p", "720p": "720p", "audio": "Audio only"}


async def _downloads(
    session: SessionDep, user: CurrentUser, page: int, *, all_users: bool = False
) -> dict[str, Any]:
    scope = service.downloads_scope(user, user_id=None, all_users=all_users)
    rows, total = await service.list_downloads(
        session, user_id=scope, page=page, page_size=PAGE_SIZE
    )
    return {
        "downloads": [to_download(r) for r in rows],
        "owners": await service.owner_names(session, rows) if all_users else {},
        "all_users": all_users,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "total": total,
    }


def _form_context(ctx: ContextDep, **values: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "qualities": QUALITIES,
        "quality": ctx.settings.default_download_quality,
        "deliveries": DELIVERIES,  # the same choice as a subscription's
        "delivery": "",
        "url": "",
        "error": None,
        "retry_at": None,
    }
    context.update(values)
    return context


@router.get("/youtube")
async def youtube_page(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    all_users: Annotated[bool, Query(alias="all")] = False,
) -> Response:
    context = _form_context(ctx, nav="youtube", limit=service.youtube_limit(ctx))
    context["hourly"] = await service.hourly_left(ctx, user)
    context["library_problem"] = await visibility.notice(ctx, user)
    context.update(await _downloads(session, user, page, all_users=all_users))
    return render(request, "youtube/index.html", context)


@router.post("/youtube/download")
async def submit_download(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    ctx: ContextDep,
    url: Annotated[str, Form(max_length=4096)] = "",
    quality: Annotated[str, Form(max_length=16)] = "best",
    delivery: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    try:
        body = form_input(
            DownloadRequest,
            {"url": url, "quality": quality, "delivery": delivery or None},
            messages={"url": "Paste a YouTube link."},
        )
        job = await service.submit_request(session, ctx=ctx, user=user, wanted=body)
    except MediaNestError as error:
        context = _form_context(
            ctx,
            url=url,
            quality=quality,
            delivery=delivery,
            error=error,
            retry_at=retry_at(error),
        )
        return render(
            request,
            "youtube/_form.html",
            context,
            status_code=error.status_code,
            headers=dict(error.headers),
        )
    return render(
        request,
        "youtube/_form.html",
        _form_context(ctx, quality=quality, delivery=delivery),
        headers=trigger(
            "Download queued: it goes to "
            + ("your private playlist." if job.delivery == "playlist" else "a shared collection."),
            "success",
            **{"downloads-changed": {"id": str(job.id)}},
        ),
    )


@router.get("/youtube/downloads")
async def downloads_fragment(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    all_users: Annotated[bool, Query(alias="all")] = False,
) -> Response:
    context = await _downloads(session, user, page, all_users=all_users)
    return render(request, "youtube/_list.html", context)


@router.get("/youtube/downloads/{download_id}/row")
async def download_row(request: Request, job: OwnedDownload) -> Response:
    return render(request, "youtube/_row.html", {"d": to_download(job)})


@router.post("/youtube/downloads/{download_id}/cancel")
async def cancel_download(
    request: Request, job: OwnedDownload, user: CurrentUser, session: SessionDep, ctx: ContextDep
) -> Response:
    await service.cancel(session, ctx=ctx, job=job, actor=user, ip=client_ip(request, ctx.settings))
    return render(
        request,
        "youtube/_row.html",
        {"d": to_download(job)},
        headers=trigger("Download cancelled.", "info"),
    )


@router.post("/youtube/downloads/{download_id}/resume")
async def resume_download(
    request: Request, job: OwnedDownload, user: CurrentUser, session: SessionDep, ctx: ContextDep
) -> Response:
    try:
        await service.resume(
            session, ctx=ctx, job=job, actor=user, ip=client_ip(request, ctx.settings)
        )
    except MediaNestError as error:
        # The row stays as it is; the reason comes as a toast (204: htmx swaps nothing).
        return Response(status_code=204, headers=trigger(error.message, "warning"))
    return render(
        request,
        "youtube/_row.html",
        {"d": to_download(job)},
        headers=trigger("Download resumed.", "success"),
    )


@router.delete("/youtube/downloads/{download_id}")
async def delete_download(
    request: Request, job: OwnedDownload, user: CurrentUser, session: SessionDep, ctx: ContextDep
) -> Response:
    await service.delete(session, ctx=ctx, job=job, actor=user, ip=client_ip(request, ctx.settings))
    # An empty 200 body: htmx swaps the row out (outerHTML with nothing).
    return Response(
        content="", media_type="text/html", headers=trigger("Download deleted.", "info")
    )
