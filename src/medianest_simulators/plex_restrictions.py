"""An account's restrictions on a share (plex.tv keeps them, Plex Media Server applies
them to that account's token), shared by the plex.tv and Plex simulators.

The strings are plex.tv's, stored and handed back verbatim: python-plexapi myplex.py
`_filterDictToStr` writes `contentRating=G%2CPG|label!=adult` (`|` between conditions,
values joined with `%2C`), Plex Web `&` between conditions and URL-encoded values
(`contentRating=G%2CTV-G%2CUK%3A+U`, recorded from plex.tv `/api/users` in
stevezau/shortlist tests/fixtures/plextv_restricted_user.json and
plextv_combined_filters.json). How Plex reads them was measured on a real server
(shortlist tests/fixtures/pms_share_filter_allow_lists.json and
pms_share_filter_boolean_semantics.json, PMS 1.43): a filter is `&`-separated groups of
`|`-separated conditions, `(A|B)&C`; `field=v1,v2` admits an item with any of the values,
`field!=v1,v2` one with none of them; labels match without regard to case
(pms_label_filter.json). A collection has no content rating: `contentRating=G` leaves
collections out, `contentRating!=R` keeps them — until one is set (python-plexapi
collection.py: a `Collection` has `ContentRatingMixin`); then it is judged by it. Which string applies follows the
library's type: movie (and Other Videos) `filterMovies`, show `filterTelevision`, artist
`filterMusic`, photo `filterPhotos`. `filterAll` is listed but not applied (python-plexapi:
"Unknown")."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote_plus

from medianest_simulators.base import JSONDict

# plex.tv's attribute names, in the order of its `/api/users` `<User>`.
NAMES = ("filterAll", "filterMovies", "filterTelevision", "filterMusic", "filterPhotos")
FILTER_OF_SECTION = {
    "movie": "filterMovies",
    "show": "filterTelevision",
    "artist": "filterMusic",
    "photo": "filterPhotos",
}
_CONDITION = re.compile(r"^([A-Za-z]+)(!?=)(.*)$")
_VALUE_SEPARATOR = re.compile(r",|%2C", re.IGNORECASE)


@dataclass(frozen=True)
class Restrictions:
    """The filter strings of one share, as plex.tv lists them on `/api/users` `<User>`
    (python-plexapi myplex.py `MyPlexUser.filterMovies`...), by name; none: unrestricted."""

    filters: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, values: JSONDict | None = None, **named: str) -> Restrictions:
        """From plex.tv's names (`filterMovies="contentRating=G%2CPG"`); others are ignored."""
        given = (values or {}) | named
        return cls(tuple((name, str(given[name])) for name in NAMES if given.get(name)))

    def attributes(self) -> dict[str, str]:
        """Every name, empty when unset (as plex.tv lists them)."""
        return {name: "" for name in NAMES} | dict(self.filters)

    def changed(self, values: JSONDict) -> Restrictions:
        """These, with the ones named in `values` replaced (python-plexapi `updateFriend`
        sends only the filters it changes)."""
        return Restrictions.of(
            self.attributes() | {k: v for k, v in values.items() if v is not None}
        )

    def admits(self, section_type: str, labels: Iterable[str], content_rating: str | None) -> bool:
        """Whether an item (or a collection: no content rating) of a library of
        `section_type` with these labels passes the library type's filter."""
        name = FILTER_OF_SECTION.get(section_type, "")
        return admits(self.attributes().get(name, ""), labels, content_rating)


def admits(text: str, labels: Iterable[str], content_rating: str | None) -> bool:
    """`(A|B)&C`: every `&` group must have a condition that holds."""
    if not text.strip():
        return True
    tags = {
        "label": {label.casefold() for label in labels},
        "contentrating": {content_rating.casefold()} if content_rating else set(),
    }
    for group in text.split("&"):
        conditions = [c for c in group.split("|") if c.strip()]
        if conditions and not any(_holds(c, tags) for c in conditions):
            return False
    return True


def _holds(condition: str, tags: dict[str, set[str]]) -> bool:
    match = _CONDITION.match(condition.strip())
    if match is None:
        return False
    field, operator, raw = match.groups()
    wanted = {unquote_plus(v).strip().casefold() for v in _VALUE_SEPARATOR.split(raw)}
    present = tags.get(field.casefold(), set())  # a field not modelled: no values
    found = bool(present & (wanted - {""}))
    return found if operator == "=" else not found
