"""Values stored in `system_settings` (the admin's limits and settings): each key's JSON
value has one Pydantic model, validated when it is read and written from the model
(`model_dump`).

A stored value that no longer validates (edited by hand, or a bound tightened since it
was saved) must not lock anybody out nor stop the app: it is logged with what is wrong
and the caller uses its defaults until the admin saves again.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.core.logging import get_logger
from medianest.platform.models import SystemSetting

log = get_logger(__name__)

M = TypeVar("M", bound=BaseModel)


def validated(key: str, value: Any, model: type[M]) -> M | None:
    """The stored `value` of `key` as a `model`; None when unset or no longer valid."""
    if value is None:
        return None
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors()]
        log.warning("stored_setting_invalid", key=key, problems=problems)
        return None


async def save(session: AsyncSession, key: str, value: Any) -> None:
    """Store `value` (plain JSON) as `key`'s, making the row the first time."""
    row = await session.get(SystemSetting, key)
    if row is None:
        session.add(SystemSetting(key=key, value=value))
    else:
        row.value = value
