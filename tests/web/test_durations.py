"""How waits read on the pages: long ones in days, as people say them."""

from __future__ import annotations

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
