"""The base of the models of an upstream service's answers (Overseerr, Plex, plex.tv)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class UpstreamModel(BaseModel):
    """camelCase fields, unknown ones ignored (a newer service still parses), and built
    on first use rather than at import: a server that never talks to a service never
    builds its models (start-up: docs/performance.md)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True
    )
