"""The edits of an item's (or a collection's) metadata, as python-plexapi sends them: query
parameters of one `PUT /library/sections/{id}/all?type=&id=<rk>,<rk>` (library.py
`LibrarySection._edit`, which `PlexPartialObject._edit` and `multiEdit` call), for
`PlexClient.edit_items`. Each edit is locked, so Plex's agents do not overwrite it on a
metadata refresh."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from medianest.integrations.plex_answers import plex_id
from medianest.integrations.plex_models import PLEX_TYPE_NUMBERS


def query(
    item_type: str, rating_keys: Sequence[str | int], edits: Mapping[str, Any]
) -> dict[str, Any]:
    """The query of one edit of `rating_keys` (all of `item_type`: `collection` for
    collections, python-plexapi utils.SEARCHTYPES), ids joined with commas as `multiEdit`."""
    ids = ",".join(plex_id(k) for k in rating_keys)
    return {"type": PLEX_TYPE_NUMBERS[item_type], "id": ids, **edits}


def label_added(label: str) -> dict[str, Any]:
    """mixins.py `LabelMixin.addLabel` → `EditTagsMixin.editTags` → `_tagHelper`."""
    return {"label[0].tag.tag": label, "label.locked": 1}


def content_rating(value: str) -> dict[str, Any]:
    """mixins.py `ContentRatingMixin.editContentRating` → `EditFieldMixin.editField`
    (`contentRating.value`, `contentRating.locked=1`)."""
    return {"contentRating.value": value, "contentRating.locked": 1}


def item_type(plex_type: str) -> str:
    """The `type=` name of an item of `plex_type` (a movie when Plex names no known one)."""
    return plex_type if plex_type in PLEX_TYPE_NUMBERS else "movie"
