"""Admin API for the YouTube cookies yt-dlp sends (a Netscape cookies.txt exported from a
browser signed in to YouTube): set, remove, and what is set. Write-only: no answer
carries a cookie, only how many, for which domains and when they were saved or expire."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from medianest.admin.dependencies import ActingAdmin
from medianest.auth.dependencies import AdminUser
from medianest.context import ContextDep
from medianest.core.deps import SessionDep, api_router
from medianest.core.envelope import ERROR_RESPONSES, ApiInput, ApiModel, Envelope, envelope
from medianest.youtube.cookies import store as youtube_cookies

router = api_router(prefix="/api/admin/youtube/cookies", tags=["admin"], responses=ERROR_RESPONSES)


class YoutubeCookiesOut(ApiModel):
    set: bool
    count: int = Field(description="How many cookies are stored")
    domains: list[str]
    saved_at: datetime | None
    rotated_at: datetime | None = Field(description="When a download last kept what YouTube set")
    earliest_expiry: datetime | None = Field(description="When the first cookie runs out")


class YoutubeCookiesIn(ApiInput):
    cookies: str = Field(description="The cookies.txt text (Netscape format), at most 256 kB")


def cookies_out(status: youtube_cookies.CookiesStatus) -> YoutubeCookiesOut:
    return YoutubeCookiesOut(
        set=status.set,
        count=status.count,
        domains=list(status.domains),
        saved_at=status.saved_at,
        rotated_at=status.rotated_at,
        earliest_expiry=status.earliest_expiry,
    )


@router.get("", response_model=Envelope[YoutubeCookiesOut])
async def get_cookies(admin: AdminUser, session: SessionDep) -> Envelope[YoutubeCookiesOut]:
    """Whether cookies are set, how many, for which domains, when saved and first expiring."""
    return envelope(cookies_out(await youtube_cookies.cookies_status(session)))


@router.put("", response_model=Envelope[YoutubeCookiesOut])
async def set_cookies(
    body: YoutubeCookiesIn, admin: ActingAdmin, session: SessionDep, ctx: ContextDep
) -> Envelope[YoutubeCookiesOut]:
    """Replace the cookies downloads send (400 naming the line or the foreign domains)."""
    status = await youtube_cookies.save_cookies(
        session,
        box=ctx.secret_box,
        text=body.cookies,
        extra_hosts=ctx.settings.youtube_extra_host_list,
        by=admin,
    )
    return envelope(cookies_out(status))


@router.delete("", response_model=Envelope[YoutubeCookiesOut])
async def remove_cookies(admin: ActingAdmin, session: SessionDep) -> Envelope[YoutubeCookiesOut]:
    """Forget the cookies: downloads go without them from now on."""
    return envelope(cookies_out(await youtube_cookies.remove_cookies(session, by=admin)))
