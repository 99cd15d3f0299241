"""Overseerr's settings routes (`GET /api/v1/settings/main` and `/public`, the webhook test)
and its "Enable CSRF Protection" (`csrfProtection`): csurf in cookie mode ahead of every
route, refusing each POST/PUT/PATCH/DELETE without a valid token, whatever the API key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
from typing import Any

import httpx
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medianest_simulators.base import JSONDict, ok, read_json, tls_context
from medianest_simulators.overseerr_control import OverseerrControl
from medianest_simulators.overseerr_webhook import (
    MISSING,
    TemplateRejected,
    render_test_notification,
)

# csurf 1.11.0 (index.js): the methods it lets through, the error it passes to `next`
# (http-errors: status 403, this message, no `errors`), where it looks for the token.
IGNORED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_MESSAGE = "invalid csrf token"
TOKEN_HEADERS = ("csrf-token", "xsrf-token", "x-csrf-token", "x-xsrf-token")
SECRET_COOKIE = "_csrf"  # csurf's cookie mode: the secret, httpOnly
TOKEN_COOKIE = "XSRF-TOKEN"  # server/index.ts: a fresh token for the web app on each answer
# server/index.ts: `sameSite: true` (Strict) and `secure: !dev` (a production build).
COOKIE_FLAGS = "Path=/; Secure; SameSite=Strict"
NO_PERMISSION = "You do not have permission to access this endpoint"


def error(status: int, message: str) -> Response:
    """An answer of Overseerr's own routes: `{message, errors}`."""
    return JSONResponse({"message": message, "errors": []}, status_code=status)


def not_authenticated() -> Response:
    """middleware/auth.ts `isAuthenticated`'s 403: no user for the request, or one without
    the route's permission (an `X-API-User` id Overseerr does not have leaves `req.user`
    unset in `checkUser`)."""
    return JSONResponse({"status": 403, "error": NO_PERMISSION}, status_code=403)


def main_settings_defaults(api_key: str) -> JSONDict:
    """`MainSettings` as server/lib/settings.ts starts it (with this API key)."""
    return {
        "apiKey": api_key,
        "applicationTitle": "Overseerr",
        "applicationUrl": "",
        "csrfProtection": False,
        "cacheImages": False,
        "defaultPermissions": 32,  # Permission.REQUEST
        "defaultQuotas": {"movie": {}, "tv": {}},
        "hideAvailable": False,
        "localLogin": True,
        "newPlexLogin": True,
        "region": "",
        "originalLanguage": "",
        "trustProxy": False,
        "partialRequestsEnabled": True,
        "locale": "en",
    }


def _urlsafe(data: bytes) -> str:
    return base64.b64encode(data).decode().replace("+", "-").replace("/", "_").rstrip("=")


def csrf_token(secret: str, salt: str | None = None) -> str:
    """The `csrf` package's `Tokens.create`/`_tokenize`: salt-sha1(salt-secret), url-safe."""
    if salt is None:  # `rndm(8)`: eight alphanumeric characters
        salt = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(8))
    digest = hashlib.sha1(f"{salt}-{secret}".encode("ascii", "replace")).digest()
    return f"{salt}-{_urlsafe(digest)}"


def csrf_token_valid(secret: str | None, token: str | None) -> bool:
    """The `csrf` package's `Tokens.verify`."""
    if not secret or not token or "-" not in token:
        return False
    return hmac.compare_digest(token, csrf_token(secret, token.split("-", 1)[0]))


class CsrfProtection:
    """csurf({cookie: {...}}) and the XSRF-TOKEN cookie middleware of server/index.ts, on
    while the simulator's `csrfProtection` is; its 403 as Overseerr's final error handler
    renders it: `{"message": err.message, "errors": err.errors}`, `errors` undefined."""

    def __init__(self, app: ASGIApp, *, simulator: OverseerrSettings) -> None:
        self.app = app
        self.simulator = simulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"].startswith("/__sim/")
            or not self.simulator.csrf_protection
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        secret = request.cookies.get(SECRET_COOKIE)
        cookies: list[str] = []
        if not secret:  # csurf: no secret yet → a new one, set as a cookie
            secret = _urlsafe(secrets.token_bytes(18))
            cookies.append(f"{SECRET_COOKIE}={secret}; {COOKIE_FLAGS}; HttpOnly")
        token = request.query_params.get("_csrf") or next(
            (request.headers[h] for h in TOKEN_HEADERS if request.headers.get(h)), None
        )
        if scope["method"] not in IGNORED_METHODS and not csrf_token_valid(secret, token):
            refused = JSONResponse({"message": CSRF_MESSAGE}, status_code=403)
            for cookie in cookies:
                refused.headers.append("set-cookie", cookie)
            await refused(scope, receive, send)
            return
        cookies.append(f"{TOKEN_COOKIE}={csrf_token(secret)}; {COOKIE_FLAGS}")

        async def with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"set-cookie", c.encode("latin-1")) for c in cookies]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_cookies)


class OverseerrSettings(OverseerrControl):
    """The main settings (only `csrfProtection` changes anything here) and the settings
    routes MediaNest calls."""

    def reset_state(self) -> None:
        super().reset_state()
        self.main_settings: JSONDict = main_settings_defaults(self.api_key)
        self.network_settings: JSONDict | None = None  # Seerr's; None: Overseerr's layout

    def _csrf_home(self) -> JSONDict:
        return self.main_settings if self.network_settings is None else self.network_settings

    @property
    def csrf_protection(self) -> bool:
        with self.lock:
            return self._csrf_home().get("csrfProtection") is True

    def set_csrf_protection(self, enabled: bool = True) -> None:
        """Overseerr's Settings → General → "Enable CSRF Protection" (as saved there;
        Seerr's Settings → Network)."""
        with self.lock:
            self._csrf_home()["csrfProtection"] = enabled

    def use_seerr_settings(self) -> None:
        """Settings laid out as Seerr's (seerr-team/seerr server/lib/settings/index.ts,
        settings migration 0005): `csrfProtection` moved from the main settings to the
        network settings, read at `GET /api/v1/settings/network`."""
        with self.lock:
            enabled = self.main_settings.pop("csrfProtection", False)
            self.network_settings = {
                "csrfProtection": enabled,
                "forceIpv4First": False,
                "trustProxy": False,
                "dnsCache": {"enabled": False, "forceMinTtl": 0, "forceMaxTtl": -1},
                "apiRequestTimeout": 10000,
            }

    def middleware(self) -> list[Middleware]:
        return [Middleware(CsrfProtection, simulator=self)]

    def settings_routes(self) -> list[BaseRoute]:
        return [
            Route("/api/v1/settings/main", self._main_settings, methods=["GET"]),
            Route("/api/v1/settings/public", self._public_settings, methods=["GET"]),
            Route("/api/v1/settings/network", self._network_settings, methods=["GET"]),
            Route(
                "/api/v1/settings/notifications/webhook/test",
                self._webhook_test,
                methods=["POST"],
            ),
        ]

    def control_routes(self) -> list[BaseRoute]:
        return [
            *super().control_routes(),
            Route("/__sim/csrf-protection", self._http_csrf, methods=["GET", "POST"]),
        ]

    async def _http_csrf(self, request: Request) -> Response:
        """`{"enabled": true}` turns it on, `false` off; GET says which."""
        if request.method == "POST":
            self.set_csrf_protection(bool((await read_json(request)).get("enabled", True)))
        return ok({"enabled": self.csrf_protection})

    def _is_admin(self, request: Request) -> bool:
        """middleware/auth.ts `checkUser` + `isAuthenticated(Permission.ADMIN)`: the API key
        acts as user 1 (the admin) unless X-API-User names another user."""
        if request.headers.get("X-Api-Key") != self.api_key:
            return False
        return request.headers.get("X-API-User", "1") == "1"

    async def _main_settings(self, request: Request) -> Response:
        """routes/settings/index.ts `GET /main` behind `isAuthenticated(Permission.ADMIN)`
        (routes/index.ts): every main setting, `apiKey` included, for an admin; anyone
        else gets isAuthenticated's 403 `{status, error}`."""
        if not self._is_admin(request):
            return not_authenticated()
        with self.lock:
            return JSONResponse(json.loads(json.dumps(self.main_settings)))

    def set_application_title(self, title: str) -> None:
        """Settings → General → "Application Title", as an admin saves it."""
        with self.lock:
            self.main_settings["applicationTitle"] = title

    async def _public_settings(self, request: Request) -> Response:
        """routes/index.ts `GET /settings/public`: no authentication (the web app reads it
        before sign-in); server/lib/settings.ts `fullPublicSettings`, the public settings
        with these of the main ones (and Seerr's as well: seerr-team/seerr same files)."""
        with self.lock:
            main = dict(self.main_settings)
        shared = ("applicationTitle", "applicationUrl", "hideAvailable", "localLogin")
        more = ("region", "originalLanguage", "partialRequestsEnabled", "cacheImages")
        public: JSONDict = {"initialized": True} | {k: main[k] for k in (*shared, *more)}
        return JSONResponse(
            public
            | {
                "movie4kEnabled": False,
                "series4kEnabled": False,
                "vapidPublic": "",
                "enablePushRegistration": False,
                "locale": main["locale"],
                "emailEnabled": False,
                "newPlexLogin": main["newPlexLogin"],
            }
        )

    async def _network_settings(self, request: Request) -> Response:
        """Seerr's `GET /network` (admins only, as `/main`); Overseerr has no such route:
        its OpenAPI validator's 404."""
        with self.lock:
            network = None if self.network_settings is None else dict(self.network_settings)
        if network is None:
            return error(404, "not found")
        if not self._is_admin(request):
            return not_authenticated()
        return JSONResponse(network)

    async def _webhook_test(self, request: Request) -> Response:
        """routes/settings/notifications.ts: send TEST_NOTIFICATION with the settings in
        the body (not the saved ones); 204 when the POST worked, 500 when it failed.
        Admins only (the API key acts as the admin unless X-API-User says otherwise)."""
        if request.headers.get("X-Api-Key") != self.api_key:
            return error(401, f"{NO_PERMISSION}.")
        if request.headers.get("X-API-User", "1") != "1":
            return error(403, f"{NO_PERMISSION}.")
        options = (await read_json(request)).get("options")
        if not isinstance(options, dict):  # `req.body.options.jsonPayload` throws
            return error(500, "Cannot read properties of undefined (reading 'jsonPayload')")
        try:
            body = render_test_notification(options.get("jsonPayload", MISSING))
        except TemplateRejected as exc:
            return error(500, str(exc))
        if body is None or not options.get("webhookUrl"):
            return error(500, "Failed to send webhook notification.")
        return await self._send_test(options, body)

    async def _send_test(self, options: dict[str, Any], body: JSONDict) -> Response:
        auth = options.get("authHeader")
        try:
            async with httpx.AsyncClient(timeout=5, verify=tls_context()) as client:
                answer = await client.post(
                    str(options["webhookUrl"]),
                    json=body,
                    headers={"Authorization": str(auth)} if auth else {},
                )
        except httpx.HTTPError:
            return error(500, "Failed to send webhook notification.")
        with self.lock:
            self.webhook_deliveries.append(
                {"url": options["webhookUrl"], "payload": body, "status": answer.status_code}
            )
        if answer.status_code >= 400:
            return error(500, "Failed to send webhook notification.")
        return Response(status_code=204)
