"""When bot checks ("Sign in to confirm you're not a bot") open the queue breaker, the
admin's view of it (`GET /api/admin/system`, the admin page) says what to do: set YouTube
cookies, try the ones saved since, or replace the ones YouTube refused."""

from __future__ import annotations

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest.youtube.jobs import pushback
from tests.factories.users import signed_in_client
from tests.youtube_extras.test_youtube_cookies_downloads import cookies_txt


async def breaker_advice(app: MediaNestApp, admin: User) -> tuple[str | None, str]:
    async with await signed_in_client(app, admin) as admin_client:
        system = (await admin_client.get("/api/admin/system")).json()["data"]
        page = await admin_client.get("/admin/system", headers={"HX-Request": "true"})
    return system["queueBreaker"]["advice"], page.text


async def test_bot_checks_that_open_the_breaker_tell_the_admin_what_to_do_about_cookies(
    app: MediaNestApp, admin: User, settings: Settings
) -> None:
    factory = app.ctx.session_factory
    for _ in range(settings.youtube_breaker_threshold):
        await pushback.record_outcome(factory, settings, "bot_check")
    advice, page = await breaker_advice(app, admin)
    assert advice is not None and "Set YouTube cookies" in advice
    assert "Set YouTube cookies" in page

    # Cookies saved while paused: resume to try them.
    async with await signed_in_client(app, admin) as admin_client:
        await admin_client.put("/api/admin/youtube/cookies", json={"cookies": cookies_txt()})
    advice, _page = await breaker_advice(app, admin)
    assert advice is not None and "resume downloads to try them" in advice

    # Bot checks with those cookies in use: YouTube refused them.
    async with session_scope(factory) as session:
        await pushback.close(session)
    for _ in range(settings.youtube_breaker_threshold):
        await pushback.record_outcome(factory, settings, "bot_check")
    advice, page = await breaker_advice(app, admin)
    assert advice is not None and "refused the YouTube cookies that are set" in advice
    assert "export fresh ones" in page

    # 429s are not a sign-in problem: no cookie advice.
    async with session_scope(factory) as session:
        await pushback.close(session)
    for _ in range(settings.youtube_breaker_threshold):
        await pushback.record_outcome(factory, settings, "http_429")
    advice, _page = await breaker_advice(app, admin)
    assert advice is None
