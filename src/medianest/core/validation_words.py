"""Plain sentences for input validation errors: Pydantic's messages ("Input should be a
valid integer, unable to parse string as an integer") are written for developers.

One translation for the JSON API's `details.fields` and for the HTML forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def plain_message(error: Mapping[str, Any]) -> str:
    """One Pydantic error (an item of `ValidationError.errors()`) as a sentence to act on."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return "Enter a whole number, like 3."
    if kind in ("float_parsing", "float_type", "decimal_parsing"):
        return "Enter a number, like 2.5."
    if kind == "greater_than_equal":
        return f"Enter {_number(ctx.get('ge'))} or more."
    if kind == "greater_than":
        return f"Enter more than {_number(ctx.get('gt'))}."
    if kind == "less_than_equal":
        return f"Enter {_number(ctx.get('le'))} or less."
    if kind == "less_than":
        return f"Enter less than {_number(ctx.get('lt'))}."
    if kind == "missing":
        return "Required."
    if kind == "string_too_short":
        minimum = ctx.get("min_length", 1)
        return "Required." if minimum == 1 else f"Use at least {minimum} characters."
    if kind == "string_too_long":
        return f"Use at most {ctx.get('max_length')} characters."
    if kind in ("bool_parsing", "bool_type"):
        return "Choose yes or no."
    if kind in ("literal_error", "enum"):
        return f"Choose one of {ctx.get('expected', 'the offered values')}."
    if kind == "extra_forbidden":
        return "Not a field this form accepts."
    message = str(error.get("msg") or "Invalid value.")
    # "Value error, <our own sentence>": our validators already speak plainly.
    return message.removeprefix("Value error, ")
