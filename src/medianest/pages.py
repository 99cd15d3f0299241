"""Composition of the HTML side: every domain's page router on the app (kept out of the
OpenAPI document), with what web/ needs from the domains above it — the signed-in
user and CSRF cookie from auth, the download-failure wording from youtube."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.routing import BaseRoute

from medianest.admin.connections import pages as admin_connections_pages
from medianest.admin.connections import webhook_pages as admin_webhook_pages
from medianest.admin.system import cookies_pages as admin_cookies_pages
from medianest.admin.system import pages as admin_system_pages
from medianest.admin.users import pages as admin_pages
from medianest.auth import pages as auth_pages
from medianest.auth.page_user import PAGE_HOOKS
from medianest.auth.tokens import pages as auth_token_pages
from medianest.context import AppContext
from medianest.dashboard import pages as dashboard_pages
from medianest.integrations.outcomes import service_name
from medianest.media import pages as media_pages
from medianest.notifications import pages as notification_pages
from medianest.notifications.events import worded
from medianest.plex import pages as plex_pages
from medianest.settings import Settings
from medianest.web.setup import install_web
from medianest.web.templating import add_filter
from medianest.youtube import pages as youtube_pages
from medianest.youtube.subscriptions import pages as youtube_subscription_pages
from medianest.youtube.ytdlp import failure_words

PAGE_MODULES = (
    auth_pages,
    auth_token_pages,
    dashboard_pages,
    media_pages,
    notification_pages,
    plex_pages,
    youtube_pages,
    youtube_subscription_pages,
    admin_pages,
    admin_connections_pages,
    admin_webhook_pages,
    admin_system_pages,
    admin_cookies_pages,
)

# At import, like the filters web/ defines itself: every template sees it from the start.
add_filter("download_failure", failure_words.describe)


def display_name(template: Any, service: str) -> str:
    """`{{ "overseerr" | service_name }}`: the name the service goes by here (Seerr, a
    renamed Overseerr: `Integrations.display_name`); autoescaped like any other text."""
    state = getattr(getattr(template.get("request"), "app", None), "state", None)
    ctx = getattr(state, "ctx", None)
    if not isinstance(ctx, AppContext):  # a page rendered before the app started
        return service_name(service)
    return ctx.integrations.display_name(service)


add_filter("service_name", display_name, with_context=True)


def with_service_names(template: Any, label: str) -> str:
    """`{{ label | with_service_names }}`: an event's words (notifications/events.py)
    with each service named as it goes by here."""
    return worded(label, lambda service: display_name(template, service))


add_filter("with_service_names", with_service_names, with_context=True)


def install_pages(app: FastAPI) -> None:
    """What the pages need on the app itself: the sign-in hooks, the error renderer and
    the static files (the page routes are in the app's route table: `page_routes`)."""
    settings: Settings = app.state.settings
    install_web(app, PAGE_HOOKS, compiled_templates=settings.data_dir / "compiled-templates")


def page_routes() -> list[BaseRoute]:
    """Every page route (each domain's `page_router()`)."""
    return [route for module in PAGE_MODULES for route in module.router.routes]
