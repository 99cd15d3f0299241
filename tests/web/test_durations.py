"""How waits read on the pages: long ones in days, as people say them; and moments as
the page writes them, in UTC, for the browser to say how long ago."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from medianest.web.templating import templates


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (9, "9 s"),
        (250, "4 min 10 s"),
        (3900, "1 h 5 min"),
        (86400, "1 day"),
        (86400 + 3 * 3600 + 100, "1 day 3 h"),
        (167 * 3600 + 52 * 60, "7 days"),
    ],
)
def test_a_wait_is_shown_in_the_unit_people_use(seconds: int, shown: str) -> None:
    assert templates().env.filters["duration"](seconds) == shown


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        (datetime(2026, 12, 6, 13, 45, 59, tzinfo=UTC), "6 Dec, 13:45 UTC"),
        (datetime(2026, 12, 6, 13, 45), "6 Dec, 13:45 UTC"),  # naive: the database's UTC
        (datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))), "31 Dec, 22:30 UTC"),
        (None, "never"),
    ],
)
def test_a_moment_is_written_in_utc_whatever_its_zone(moment: datetime | None, shown: str) -> None:
    assert templates().env.filters["utc"](moment) == shown
