"""Parameter types for the Prefect run form: what each field shows, not how Python spells it.

`X | None` renders as a type toggle (X / null) in the Prefect UI, and a null default as a
field its validator refuses. These types render as the plain box, list or dropdown they are,
and an empty one means "not set" (None in the flow), as the parameter's description says.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

from schemas.presets import PresetName


def _unset_when_empty(value: Any) -> Any:
    return value or None


# Declared with the default "" (an empty box in the form); "" reaches the flow as None.
OptionalText = Annotated[
    str | None, BeforeValidator(_unset_when_empty), WithJsonSchema({"type": "string"})
]

# Declared with the default (): an empty list in the form; an empty list reaches the flow as None.
OptionalKeys = Annotated[
    list[str] | None,
    BeforeValidator(_unset_when_empty),
    WithJsonSchema({"type": "array", "items": {"type": "string"}}),
]

# Declared with the default "": a dropdown of the presets whose first, empty choice is "all".
OptionalPreset = Annotated[
    PresetName | None,
    BeforeValidator(_unset_when_empty),
    WithJsonSchema({"type": "string", "enum": ["", *(p.value for p in PresetName)]}),
]
