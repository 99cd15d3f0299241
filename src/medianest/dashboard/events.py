"""What the status monitor tells the rest of MediaNest (published with `core.events.publish`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from medianest.core.events import DomainEvent


@dataclass(frozen=True)
class ServicesChanged(DomainEvent):
    """Service statuses (name -> status) before and after one round of checks."""

    before: dict[str, str]
    after: dict[str, str]
    # The names people know them by here (Integrations.display_name): "Seerr is down".
    names: dict[str, str] = field(default_factory=dict)

    def came_online(self, service: str) -> bool:
        """`service` answers as it should now and did not before: it was offline, degraded
        or not checked yet (a first round after a start, which knows no earlier state)."""
        return self.after.get(service) == "online" and self.before.get(service) != "online"
