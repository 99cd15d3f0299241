"""Service configuration for admins: list, change (audited, keys encrypted) and test.

Keys and passwords are written encrypted and never read back out of this module except
into a client; what callers get is `ServiceOut` with `apiKeySet` and `passwordSet`.
"""

from __future__ import annotations

import functools
import re
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.admin.schemas import (
    ServiceOut,
    ServiceTest,
    ServiceTestOut,
    ServiceUpdate,
    service_url_problem,
)
from medianest.context import AppContext
from medianest.core.crypto import SecretBox
from medianest.core.errors import NotFound, ValidationFailed
from medianest.dashboard import monitor as status_monitor
from medianest.db.engine import after_commit
from medianest.integrations.models import ServiceConfig
from medianest.integrations.registry import (
    SERVICE_NAMES,
    Integrations,
    ServiceSettings,
)
from medianest.integrations.service_store import (
    decrypt_key,
    decrypt_password,
    key_context,
    password_context,
)
from medianest.platform import audit

_SLUG = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


class _NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _UptimeKumaOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status_page: str | None = Field(default=None, alias="statusPage", pattern=_SLUG.pattern)
    # "socket": the live connection (username + password), polling the others as fallback.
    source: Literal["metrics", "status_page", "socket"] | None = None
    username: str | None = Field(default=None, min_length=1, max_length=100)


_OPTIONS: dict[str, type[BaseModel]] = {
    "plex": _NoOptions,
    "overseerr": _NoOptions,
    "uptime_kuma": _UptimeKumaOptions,
}


def require_service_name(name: str) -> str:
    if name not in SERVICE_NAMES:
        raise NotFound(
            f"There is no service called {name!r}.", details={"services": list(SERVICE_NAMES)}
        )
    return name


def validate_url(url: str) -> str:
    """The one URL rule (`schemas.service_url_problem`) for callers without a schema."""
    problem = service_url_problem(url.strip())
    if problem is not None:
        raise ValidationFailed(problem, details={"field": "url"})
    return url.strip().rstrip("/")


def validate_options(name: str, config: dict[str, Any]) -> dict[str, Any]:
    try:
        options = _OPTIONS[name].model_validate(config)
    except ValidationError as exc:
        fields = [".".join(str(p) for p in err["loc"]) for err in exc.errors()]
        raise ValidationFailed(
            f"Invalid options for {name}.", details={"field": "config", "options": fields}
        ) from None
    return options.model_dump(by_alias=True, exclude_none=True)


def to_out(name: str, row: ServiceConfig | None) -> ServiceOut:
    if row is None:
        return ServiceOut(
            name=name,
            configured=False,
            url=None,
            enabled=False,
            api_key_set=False,
            password_set=False,
            config={},
            updated_at=None,
            updated_by=None,
        )
    return ServiceOut(
        name=name,
        configured=True,
        url=row.service_url,
        enabled=row.enabled,
        api_key_set=bool(row.api_key),
        password_set=bool(row.password),
        config=dict(row.config_data or {}),
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def _refuse_saved_secrets_elsewhere(
    row: ServiceConfig, url: str, *, key_given: bool, password_given: bool
) -> None:
    """A saved key or password goes only to the URL it was saved with: testing or saving
    another URL with it would hand it to whoever answers there (an admin session, stolen
    or not, could read every stored secret that way), so it must be typed again."""
    if row.service_url is not None and url == row.service_url.strip().rstrip("/"):
        return
    missing = [
        field
        for field, saved, given in (
            ("apiKey", row.api_key, key_given),
            ("password", row.password, password_given),
        )
        if saved and not given
    ]
    if missing:
        raise ValidationFailed(
            "The saved key is only sent to the URL it was saved with. Type the key again to "
            "use it with this URL (or leave the URL as it was).",
            details={"field": missing[0], "reason": "key_bound_to_saved_url"},
        )


async def list_services(session: AsyncSession) -> list[ServiceOut]:
    rows = {r.service_name: r for r in (await session.scalars(select(ServiceConfig))).all()}
    return [to_out(name, rows.get(name)) for name in SERVICE_NAMES]


async def update_service(
    session: AsyncSession,
    *,
    box: SecretBox,
    name: str,
    change: ServiceUpdate,
    actor_id: uuid.UUID,
    ip: str | None,
) -> ServiceOut:
    """Create or change a service's configuration; the key and password stay unless given."""
    require_service_name(name)
    url = validate_url(change.url)
    row = await session.get(ServiceConfig, name)
    config = validate_options(
        name, change.config if change.config is not None else dict(row.config_data) if row else {}
    )
    if row is None:
        row = ServiceConfig(service_name=name)
        session.add(row)
    key_action = "kept"
    _refuse_saved_secrets_elsewhere(
        row, url, key_given=change.api_key is not None, password_given=change.password is not None
    )
    if change.api_key == "":
        row.api_key, key_action = None, "removed"
    elif change.api_key is not None:
        row.api_key = box.encrypt(change.api_key, context=key_context(name))
        key_action = "changed"
    password_action = _store_password(box, row, name=name, password=change.password)
    _require_socket_sign_in(config, password_set=bool(row.password))
    row.service_url, row.enabled, row.config_data, row.updated_by = (
        url,
        change.enabled,
        config,
        actor_id,
    )
    await session.flush()
    audit.record(
        session,
        action="service.update",
        actor_id=actor_id,
        target=f"service:{name}",
        # Never the key itself: only what happened to it.
        details={
            "url": url,
            "enabled": change.enabled,
            "keyChange": key_action,
            "signInChange": password_action,  # a "password" key would be redacted
            "config": config,
        },
        ip=ip,
    )
    return to_out(name, row)


async def save_service(
    session: AsyncSession, *, ctx: AppContext, name: str, change: ServiceUpdate, by: audit.Actor
) -> ServiceOut:
    """The one "save a service" action of the admin page and the API: stored (audited),
    committed, then the clients rebuilt and the service checked at once."""
    out = await update_service(
        session, box=ctx.secret_box, name=name, change=change, actor_id=by.id, ip=by.ip
    )
    # The clients are rebuilt from the database (here and, by the configuration's
    # fingerprint, on the other instances): once the change is committed, before the answer.
    after_commit(session, functools.partial(apply_saved, ctx, name=name))
    return out


async def apply_saved(ctx: AppContext, *, name: str) -> None:
    """After a committed change: rebuild the clients, then check the service at once and
    push the result (the dashboard stops saying "Not configured" now, not a round later)."""
    await ctx.integrations.reload()
    await status_monitor.check_now(ctx, [name])


def _store_password(box: SecretBox, row: ServiceConfig, *, name: str, password: str | None) -> str:
    """Write-only: encrypted when given, removed on "", kept when omitted."""
    if password is None:
        return "kept"
    if name != "uptime_kuma" and password:
        raise ValidationFailed(
            f"{name} takes no password.", details={"field": "password", "service": name}
        )
    if password == "":
        row.password = None
        return "removed"
    row.password = box.encrypt(password, context=password_context(name))
    return "changed"


def _require_socket_sign_in(config: dict[str, Any], *, password_set: bool) -> None:
    """The live source signs in to Kuma: it needs the account's username and password."""
    if config.get("source") != "socket":
        return
    if not config.get("username"):
        raise ValidationFailed(
            "The live connection needs the Uptime Kuma username.",
            details={"field": "config", "options": ["username"]},
        )
    if not password_set:
        raise ValidationFailed(
            "The live connection needs the Uptime Kuma password.", details={"field": "password"}
        )


async def test_service(
    session: AsyncSession, *, box: SecretBox, integrations: Integrations, draft: ServiceTest
) -> ServiceTestOut:
    """Reachability, version and latency of the saved configuration or a draft of it."""
    name = require_service_name(draft.name)
    row = await session.get(ServiceConfig, name)
    url = validate_url(draft.url) if draft.url is not None else row.service_url if row else None
    if url is None:
        raise ValidationFailed(
            f"{name} is not configured; give a URL to test.", details={"field": "url"}
        )
    api_key, password = draft.api_key, draft.password or None
    if row is not None:
        _refuse_saved_secrets_elsewhere(
            row, url, key_given=api_key is not None, password_given=password is not None
        )
        api_key = decrypt_key(box, row) if api_key is None else api_key
        password = decrypt_password(box, row) if password is None else password
    config = (
        validate_options(name, draft.config)
        if draft.config is not None
        else dict(row.config_data or {})
        if row
        else {}
    )
    health = await integrations.probe(
        ServiceSettings(
            name=name,
            url=url,
            api_key=api_key or None,
            password=password or None,
            enabled=True,
            config=config,
        )
    )
    return ServiceTestOut(
        name=name,
        reachable=health.status != "offline",
        status=health.status,
        version=health.version,
        latency_ms=round(health.response_time_ms, 1) if health.response_time_ms else None,
        error=health.error,
        monitor_count=health.monitor_count,
    )
