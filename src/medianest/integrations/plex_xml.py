"""Plex's XML answers in the shape of its JSON answers.

Plex Media Server answers XML unless the request's Accept asks for JSON, and a proxy in
front of it may drop that header. The JSON form names a child list after the element
(`Directory`, `Hub`, `Media`, `Part`, `Location`, `Label`), except library items, which
XML names by kind (`Video`, `Directory` with a ratingKey, `Playlist`...) and JSON puts in
`Metadata`. Attribute values stay text; the models accept numbers and 1/0 as text.
"""

from __future__ import annotations

from typing import Any
from xml.parsers import expat

# Elements that are library items in XML, i.e. `Metadata` entries in JSON.
ITEM_TAGS = frozenset({"Video", "Track", "Photo", "Playlist"})


class PlexXMLError(ValueError):
    """The body is not a Plex MediaContainer document."""


def media_container_from_xml(body: bytes) -> dict[str, Any]:
    """`{"MediaContainer": {...}}` from an XML MediaContainer document."""
    root: dict[str, Any] = {}
    stack: list[dict[str, Any]] = [root]

    def start(tag: str, attributes: dict[str, str]) -> None:
        if len(stack) == 1 and (root or tag != "MediaContainer"):
            raise PlexXMLError(f"root element {tag}")
        data: dict[str, Any] = dict(attributes)
        name = "MediaContainer" if len(stack) == 1 else _list_name(tag, attributes)
        if len(stack) == 1:
            root[name] = data
        else:
            stack[-1].setdefault(name, []).append(data)
        stack.append(data)

    def end(tag: str) -> None:
        stack.pop()

    def refuse_dtd(*_: object) -> None:
        # Plex never sends one; without a DTD there are no entities to expand.
        raise PlexXMLError("XML with a DTD")

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = refuse_dtd
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise PlexXMLError(str(exc)) from None
    if not root:
        raise PlexXMLError("no MediaContainer")
    return root


def _list_name(tag: str, attributes: dict[str, str]) -> str:
    is_item = tag in ITEM_TAGS or (tag == "Directory" and "ratingKey" in attributes)
    return "Metadata" if is_item else tag
