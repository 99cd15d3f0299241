"""Domain events (`core/events.py`): subscribers keyed by the event's class run in order,
in the publisher's session, and their errors reach the publisher; once the app is
composed, every event a domain defines has a subscriber."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.app import subscribe_to_events
from medianest.core.events import DomainEvent, EventBus

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "medianest"


@dataclass(frozen=True)
class Happened(DomainEvent):
    what: str


@dataclass(frozen=True)
class Other(DomainEvent):
    what: str


SESSION = cast(AsyncSession, object())


async def test_subscribers_run_in_order_with_the_publishers_session_and_only_for_their_class() -> (
    None
):
    bus = EventBus()
    seen: list[tuple[str, AsyncSession, str]] = []

    async def first(session: AsyncSession, event: Happened) -> None:
        seen.append(("first", session, event.what))

    async def second(session: AsyncSession, event: Happened) -> None:
        seen.append(("second", session, event.what))

    bus.subscribe(Happened, first)
    bus.subscribe(Happened, second)
    bus.subscribe(Happened, first)  # every app context composes again: still once
    await bus.publish(SESSION, Happened("a"))
    await bus.publish(SESSION, Other("b"))
    assert seen == [("first", SESSION, "a"), ("second", SESSION, "a")]
    assert bus.subscribed(Happened) and not bus.subscribed(Other)


async def test_a_subscribers_error_is_the_publishers() -> None:
    bus = EventBus()

    async def broken(session: AsyncSession, event: Happened) -> None:
        raise RuntimeError(event.what)

    bus.subscribe(Happened, broken)
    with pytest.raises(RuntimeError, match="boom"):
        await bus.publish(SESSION, Happened("boom"))


def test_every_domain_event_has_a_subscriber_once_composed() -> None:
    for path in sorted(PACKAGE.glob("*/events.py")):
        importlib.import_module(f"medianest.{path.parent.name}.events")
    defined = [
        kind for kind in DomainEvent.__subclasses__() if kind.__module__.startswith("medianest.")
    ]
    bus = EventBus()
    subscribe_to_events(bus)
    assert len(defined) >= 7
    assert [kind.__name__ for kind in defined if not bus.subscribed(kind)] == []
