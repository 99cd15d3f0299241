"""Wire the HTML side into the FastAPI app: static files with cache headers, the page
error renderer and what pages need from sign-in. The domains' page routers are mounted
by the app (medianest/pages.py): web/ knows no domain."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from medianest.web.errors import render_page_error
from medianest.web.templating import STATIC_DIR, PageHooks, keep_compiled_templates


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


def install_web(app: FastAPI, hooks: PageHooks, *, compiled_templates: Path) -> None:
    """`compiled_templates`: where compiled templates are kept from one start to the next."""
    keep_compiled_templates(compiled_templates)
    app.state.page_hooks = hooks
    app.state.page_error_renderer = render_page_error
    app.mount("/static", VersionedStaticFiles(directory=STATIC_DIR), name="static")
