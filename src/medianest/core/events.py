"""Domain events: a domain says what happened; the packages that act on it subscribe when
the app is composed (`app.build_context`), so imports keep pointing down the layers.

An event is a frozen dataclass deriving from `DomainEvent`, defined in the domain that
publishes it (`media/events.py`, ...). Subscribers are keyed by the event's class, so a
misspelt event is a type error, not a silent miss. `publish` awaits every subscriber in
turn in the publisher's database session, before the publisher commits: what a
subscriber writes commits with the event or not at all, and its error is the
publisher's error, exactly as a direct call would be.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession


class DomainEvent:
    """Base class of the events (each one a frozen dataclass)."""

    __slots__ = ()


EventT = TypeVar("EventT", bound=DomainEvent)
Subscriber = Callable[[AsyncSession, EventT], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: dict[type[DomainEvent], list[Subscriber[Any]]] = {}

    def subscribe(self, kind: type[EventT], subscriber: Subscriber[EventT]) -> None:
        """Call `subscriber` for every `kind` published (once, however often subscribed:
        every app context of a process composes the same subscribers)."""
        subscribers = self._subscribers.setdefault(kind, [])
        if subscriber not in subscribers:
            subscribers.append(subscriber)

    def subscribed(self, kind: type[DomainEvent]) -> bool:
        return bool(self._subscribers.get(kind))

    async def publish(self, session: AsyncSession, event: DomainEvent) -> None:
        """Run the subscribers of exactly `type(event)`, in the order they subscribed."""
        for subscriber in self._subscribers.get(type(event), ()):
            await subscriber(session, event)


# The process's bus: the domains publish on it, the composition subscribes to it.
bus = EventBus()


async def publish(session: AsyncSession, event: DomainEvent) -> None:
    await bus.publish(session, event)
