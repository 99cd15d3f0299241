"""The JSON payload MediaNest shows admins to paste into Overseerr's webhook agent must
stay within Overseerr's own default template (the simulator keeps that template as
decoded from Overseerr's server/lib/settings.ts): every key, at its place, with the
same template variable. Fewer keys are fine; a key Overseerr does not have is drift."""

from __future__ import annotations

import json
from typing import Any

from medianest.media.webhook_setup import DEFAULT_JSON_PAYLOAD
from medianest_simulators.overseerr_webhook import DEFAULT_TEMPLATE


def _missing_from(ours: Any, theirs: Any, where: str = "") -> list[str]:
    if isinstance(ours, dict):
        if not isinstance(theirs, dict):
            return [where or "/"]
        return [
            found
            for key, value in ours.items()
            for found in (
                _missing_from(value, theirs[key], f"{where}/{key}")
                if key in theirs
                else [f"{where}/{key}"]
            )
        ]
    return [] if ours == theirs else [f"{where} ({ours!r} != {theirs!r})"]


def test_medianests_payload_is_within_overseerrs_default_template() -> None:
    ours, theirs = json.loads(DEFAULT_JSON_PAYLOAD), json.loads(DEFAULT_TEMPLATE)
    assert _missing_from(ours, theirs) == []
    # What MediaNest reads from a notification is in it.
    assert {"notification_type", "{{media}}", "{{request}}"} <= ours.keys()
    assert {"tmdbId", "status"} <= ours["{{media}}"].keys()
    assert "request_id" in ours["{{request}}"]


def test_the_comparison_reports_a_key_overseerr_does_not_have() -> None:
    drifted = json.loads(DEFAULT_JSON_PAYLOAD)
    drifted["{{request}}"]["requested_by"] = "{{requestedBy_username}}"
    assert _missing_from(drifted, json.loads(DEFAULT_TEMPLATE)) == ["/{{request}}/requested_by"]
