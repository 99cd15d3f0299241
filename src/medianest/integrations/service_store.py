"""Service configuration in the database: decrypted reads, first-start seeding, and the
`Integrations` registry wired to it (installed on the app context at start).

API keys are stored AES-GCM encrypted with the service name as associated data, so a
ciphertext copied to another service's row does not decrypt.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from medianest.core.context import CoreContext
from medianest.core.crypto import DecryptionError, SecretBox
from medianest.core.data_changes import changes_of
from medianest.core.logging import get_logger
from medianest.db.engine import session_scope
from medianest.integrations.models import ServiceConfig
from medianest.integrations.registry import SERVICE_NAMES, Integrations, ServiceSettings
from medianest.integrations.service_names import Known, KnownNames
from medianest.platform import stored_settings
from medianest.platform.models import SystemSetting
from medianest.settings import Settings

log = get_logger(__name__)

CLIENT_IDENTIFIER_KEY = "plex_client_identifier"
# The names the services gave themselves, with the server each was learned of
# (service_names.py), so a restart shows them before the first check.
SERVICE_NAMES_KEY = "service_display_names"


def key_context(name: str) -> str:
    return f"service:{name}"


def password_context(name: str) -> str:
    # Its own associated data: a key ciphertext copied into the password column fails.
    return f"service:{name}:password"


def decrypt_key(box: SecretBox, row: ServiceConfig) -> str | None:
    if not row.api_key:
        return None
    try:
        return box.decrypt(row.api_key, context=key_context(row.service_name))
    except DecryptionError:
        # A lost or rotated-away key: treat as unset so the admin re-enters it.
        log.warning("service_key_undecryptable", service=row.service_name)
        return None


def decrypt_password(box: SecretBox, row: ServiceConfig) -> str | None:
    if not row.password:
        return None
    try:
        return box.decrypt(row.password, context=password_context(row.service_name))
    except DecryptionError:
        log.warning("service_password_undecryptable", service=row.service_name)
        return None


def to_settings(box: SecretBox, row: ServiceConfig) -> ServiceSettings:
    return ServiceSettings(
        name=row.service_name,
        url=row.service_url,
        api_key=decrypt_key(box, row),
        password=decrypt_password(box, row),
        enabled=row.enabled,
        config=dict(row.config_data or {}),
    )


class DatabaseConfigSource:
    """`ConfigSource` over the service_config table."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        box: SecretBox,
        *,
        database_url: str,
    ) -> None:
        self._session_factory = session_factory
        self._box = box
        # This database's committed changes, other instances' relayed through Redis.
        self._changes = changes_of(database_url)

    async def load(self) -> list[ServiceSettings]:
        async with session_scope(self._session_factory) as session:
            rows = (await session.scalars(select(ServiceConfig))).all()
            return [
                to_settings(self._box, row) for row in rows if row.service_name in SERVICE_NAMES
            ]

    def may_have_changed(self, since: int) -> bool:
        # (Another process on a SQLite file without Redis is seen by the periodic check.)
        return not self._changes.unchanged_since(since, {ServiceConfig.__tablename__})

    async def version(self) -> str:
        # Any insert or update moves max(updated_at) or the count: a cheap fingerprint.
        async with session_scope(self._session_factory) as session:
            count, latest = (
                await session.execute(
                    select(func.count(), func.max(ServiceConfig.updated_at)).select_from(
                        ServiceConfig
                    )
                )
            ).one()
        return f"{count}:{latest.isoformat() if latest else '-'}"


class StoredNames:
    """`NameStore` over system_settings (written only when a name changed)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory

    async def load(self) -> dict[str, Known]:
        async with session_scope(self._session_factory) as session:
            row = await session.get(SystemSetting, SERVICE_NAMES_KEY)
            value = row.value if row is not None else None
        found = stored_settings.validated(SERVICE_NAMES_KEY, value, KnownNames)
        return found.root if found is not None else {}

    async def save(self, names: dict[str, Known]) -> None:
        async with session_scope(self._session_factory) as session:
            await stored_settings.save(session, SERVICE_NAMES_KEY, KnownNames(names).model_dump())


def seed_rows(settings: Settings, box: SecretBox) -> list[ServiceConfig]:
    """Rows for the services the environment configures (used once, on an empty table)."""
    candidates: list[tuple[str, str | None, str | None, dict[str, Any]]] = [
        (
            "plex",
            settings.plex_url,
            settings.plex_token.get_secret_value() if settings.plex_token else None,
            {},
        ),
        (
            "overseerr",
            settings.overseerr_url,
            settings.overseerr_api_key.get_secret_value() if settings.overseerr_api_key else None,
            {},
        ),
        (
            "uptime_kuma",
            settings.uptime_kuma_url,
            settings.uptime_kuma_api_key.get_secret_value()
            if settings.uptime_kuma_api_key
            else None,
            {"statusPage": settings.uptime_kuma_status_page}
            if settings.uptime_kuma_status_page
            else {},
        ),
    ]
    return [
        ServiceConfig(
            service_name=name,
            service_url=url,
            api_key=box.encrypt(key, context=key_context(name)) if key else None,
            enabled=True,
            config_data=config,
        )
        for name, url, key, config in candidates
        if url
    ]


async def seed_from_environment(
    session: AsyncSession, *, settings: Settings, box: SecretBox
) -> int:
    """On first start (no service configured yet), copy MEDIANEST_* service settings in."""
    existing = await session.scalar(select(func.count()).select_from(ServiceConfig))
    if existing:
        return 0
    rows = seed_rows(settings, box)
    session.add_all(rows)
    if rows:
        log.info("services_seeded_from_environment", services=[r.service_name for r in rows])
    return len(rows)


async def client_identifier(session_factory: async_sessionmaker[AsyncSession]) -> str:
    """This install's X-Plex-Client-Identifier, created once and kept in system_settings."""
    async with session_scope(session_factory) as session:
        stored = await session.get(SystemSetting, CLIENT_IDENTIFIER_KEY)
        if stored is not None and isinstance(stored.value, str):
            return stored.value
    created = str(uuid.uuid4())
    try:
        async with session_scope(session_factory) as session:
            session.add(SystemSetting(key=CLIENT_IDENTIFIER_KEY, value=created))
    except IntegrityError:
        # Another instance created it first: use theirs.
        async with session_scope(session_factory) as session:
            stored = await session.get(SystemSetting, CLIENT_IDENTIFIER_KEY)
            assert stored is not None
            return str(stored.value)
    return created


async def start_integrations(core: CoreContext) -> Integrations:
    """Seed on first start and build the clients (the caller closes them at shutdown)."""
    try:
        async with session_scope(core.session_factory) as session:
            await seed_from_environment(session, settings=core.settings, box=core.secret_box)
    except IntegrityError:
        pass  # another instance seeded at the same moment
    integrations = Integrations(
        settings=core.settings,
        cache=core.cache,
        source=DatabaseConfigSource(
            core.session_factory, core.secret_box, database_url=str(core.engine.url)
        ),
        client_identifier=await client_identifier(core.session_factory),
        names_store=StoredNames(core.session_factory),
    )
    await integrations.reload()
    await integrations.names.restore()  # the names shown from the first page on
    return integrations
