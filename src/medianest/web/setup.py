"""Wire the HTML side into the FastAPI app: static files with cache headers, the page
error renderer, and every domain's page router (kept out of the OpenAPI document)."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from medianest.admin import pages as admin_pages
from medianest.admin import settings_pages as admin_settings_pages
from medianest.admin import system_pages as admin_system_pages
from medianest.admin import webhook_pages as admin_webhook_pages
from medianest.auth import pages as auth_pages
from medianest.dashboard import pages as dashboard_pages
from medianest.media import pages as media_pages
from medianest.notifications import pages as notification_pages
from medianest.plex import pages as plex_pages
from medianest.web.errors import render_page_error
from medianest.web.templating import STATIC_DIR, remember_page_user
from medianest.youtube import pages as youtube_pages
from medianest.youtube import subscription_pages as youtube_subscription_pages

PAGE_MODULES = (
    auth_pages,
    dashboard_pages,
    media_pages,
    notification_pages,
    plex_pages,
    youtube_pages,
    youtube_subscription_pages,
    admin_pages,
    admin_settings_pages,
    admin_webhook_pages,
    admin_system_pages,
)


class VersionedStaticFiles(StaticFiles):
    """Static files; a `?v=<hash>` URL never changes content, so it may be cached for a year."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        versioned = b"v=" in scope.get("query_string", b"")
        if response.status_code == 200:
            response.headers["cache-control"] = (
                "public, max-age=31536000, immutable" if versioned else "no-cache"
            )
        return response


def install_web(app: FastAPI) -> None:
    app.state.page_error_renderer = render_page_error
    app.mount("/static", VersionedStaticFiles(directory=STATIC_DIR), name="static")
    for module in PAGE_MODULES:
        app.include_router(
            module.router, include_in_schema=False, dependencies=[Depends(remember_page_user)]
        )
