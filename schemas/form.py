"""Parameter types for the Prefect run form: what each field shows, not how Python spells it.

`str | None` renders as a type toggle (string / null) in the Prefect UI, and a null default
as a field its validator refuses; `OptionalText = ""` renders as the plain box it is, and an
empty box means "not set", as the parameter's description says.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema


def _unset_when_empty(value: Any) -> Any:
    return value or None


# Declared with the default "" (an empty box in the form); "" reaches the flow as None.
OptionalText = Annotated[
    str | None, BeforeValidator(_unset_when_empty), WithJsonSchema({"type": "string"})
]
