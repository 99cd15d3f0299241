"""Declarative base, shared column types and the constraint naming convention."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter
from sqlalchemy import JSON, DateTime, MetaData, TypeDecorator, Uuid
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Alembic names constraints identically on SQLite and PostgreSQL only with a convention.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Each dialect is imported where its database is used: a SQLite process never loads
# PostgreSQL's, nor a PostgreSQL process SQLite's (docs/performance.md, "Memory and start").


def _json_of(dialect: Dialect) -> Any:
    """JSONB on PostgreSQL, JSON elsewhere."""
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return dialect.type_descriptor(JSONB())
    return dialect.type_descriptor(JSON())


class JSONColumn(TypeDecorator[Any]):
    """A JSON column: JSONB on PostgreSQL."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        return _json_of(dialect)


JSONType = JSONColumn()


def insert_for(dialect: Dialect) -> Any:
    """The database's INSERT, with `on_conflict_do_nothing` and `on_conflict_do_update`."""
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        return insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


T = TypeVar("T")


class PydanticJSON(TypeDecorator[T], Generic[T]):
    """A JSON column (JSONB on PostgreSQL) read and written through a Pydantic type, e.g.
    `PydanticJSON(list[JobItem])`: the ORM hands out models, the database keeps plain JSON.

    Written by alias and with only the fields that were set, so a row keeps the keys it
    was stored with. Like any JSON column, a value changed in place is not seen by the
    session: assign a new value (or write it with an UPDATE)."""

    impl = JSON
    cache_ok = True

    def __init__(self, value_type: Any) -> None:
        super().__init__()
        self.value_type = value_type  # the cache key: a hashable type expression
        self._adapter: TypeAdapter[T] = TypeAdapter(value_type)

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        return _json_of(dialect)

    def process_bind_param(self, value: T | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        # Validated first: plain dicts and lists are accepted where models are expected.
        typed = self._adapter.validate_python(value)
        return self._adapter.dump_python(typed, mode="json", by_alias=True, exclude_unset=True)

    def process_result_value(self, value: Any, dialect: Dialect) -> T | None:
        return None if value is None else self._adapter.validate_python(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {
        datetime: UTCDateTime(),
        uuid.UUID: Uuid(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class CreatedAt:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
