"""A page's form read through the JSON API's own input schema, so both refuse the same
values the same way: `InvalidInput` (422, as FastAPI answers that value in a JSON body),
with the API's sentence for the field unless the page words it for its own form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from medianest.core.errors import InvalidInput
from medianest.core.validation_words import plain_message

Schema = TypeVar("Schema", bound=BaseModel)


def form_input(
    schema: type[Schema], values: Mapping[str, Any], *, messages: Mapping[str, str] | None = None
) -> Schema:
    """`values` validated by `schema`; refused: InvalidInput naming the first field
    (`details.field`) and every refused field's sentence (`details.fields`)."""
    try:
        return schema.model_validate(dict(values))
    except ValidationError as invalid:
        fields: dict[str, str] = {}
        for error in invalid.errors():
            field = str(error["loc"][0]) if error.get("loc") else "_form"
            fields.setdefault(field, (messages or {}).get(field) or plain_message(error))
        first = next(iter(fields))
        raise InvalidInput(fields[first], details={"field": first, "fields": fields}) from None
