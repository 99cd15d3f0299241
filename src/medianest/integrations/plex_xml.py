"""Plex's XML answers in the shape of its JSON answers.

Plex Media Server answers XML unless the request's Accept asks for JSON, and a proxy in
front of it may drop that header. The JSON form names a child list after the element
(`Directory`, `Hub`, `Media`, `Part`, `Location`, `Label`), except library items, which
XML names by kind (`Video`, `Directory` with a ratingKey, `Playlist`...) and JSON puts in
`Metadata`. Attribute values stay text; the models accept numbers and 1/0 as text.
`parse_xml` is the one XML parser for Plex and plex.tv answers.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree
from xml.parsers import expat

# Elements that are library items in XML, i.e. `Metadata` entries in JSON.
ITEM_TAGS = frozenset({"Video", "Track", "Photo", "Playlist"})


class PlexXMLError(ValueError):
    """The body is not a Plex MediaContainer document."""


def parse_xml(body: bytes) -> ElementTree.Element:
    """Parse an XML answer of Plex or plex.tv; a DTD (in any encoding) is refused, so
    there are no entities to expand. Raises PlexXMLError."""

    def refuse_dtd(*_: object) -> None:
        raise PlexXMLError("XML with a DTD")

    builder = ElementTree.TreeBuilder()
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise PlexXMLError(str(exc)) from None
    return builder.close()


def media_container_from_xml(body: bytes) -> dict[str, Any]:
    """`{"MediaContainer": {...}}` from an XML MediaContainer document."""
    root = parse_xml(body)
    if root.tag != "MediaContainer":
        raise PlexXMLError(f"root element {root.tag}")
    return {"MediaContainer": _object(root)}


def _object(element: ElementTree.Element) -> dict[str, Any]:
    data: dict[str, Any] = dict(element.attrib)
    for child in element:
        data.setdefault(_list_name(child.tag, child.attrib), []).append(_object(child))
    return data


def _list_name(tag: str, attributes: dict[str, str]) -> str:
    is_item = tag in ITEM_TAGS or (tag == "Directory" and "ratingKey" in attributes)
    return "Metadata" if is_item else tag
