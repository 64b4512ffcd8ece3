"""Parameter types for the Prefect run form: what each field shows, not how Python spells it.

`str | None` renders as a type toggle (string / null) in the Prefect UI; these render as the
plain box they are, and an empty box means "not set", as the parameter's description says.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema


def _unset_when_empty(value: Any) -> Any:
    return value or None


OptionalText = Annotated[
    str | None, BeforeValidator(_unset_when_empty), WithJsonSchema({"type": "string"})
]
# No empty -> None here: an empty list of keys means "none of them", not "all".
OptionalTexts = Annotated[
    list[str] | None, WithJsonSchema({"type": "array", "items": {"type": "string"}})
]
