"""The base of every body the strategy service stores (pure pydantic: workflows may import it).

Bodies end up in PostgreSQL JSONB, which refuses the NUL character, and travel as strict JSON,
which has no NaN or infinity; both are rejected while validating, as a 422 naming the field,
instead of failing when the body is stored or forwarded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, field_validator


class Unstorable(NamedTuple):
    path: tuple[int | str, ...]
    reason: str


NUL = "text must not contain the NUL character (\\u0000)"
NOT_FINITE = "numbers must be finite"


def find_unstorable(value: object, path: tuple[int | str, ...] = ()) -> Unstorable | None:
    """The first value (or key) in a JSON-like value that JSONB or strict JSON cannot hold."""
    if isinstance(value, str):
        return Unstorable(path, NUL) if "\x00" in value else None
    if isinstance(value, float):
        return None if math.isfinite(value) else Unstorable(path, NOT_FINITE)
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = find_unstorable(key, (*path, str(key))) or find_unstorable(
                item, (*path, str(key))
            )
            if found is not None:
                return found
    elif isinstance(value, Sequence) and not isinstance(value, bytes):
        for index, item in enumerate(value):
            found = find_unstorable(item, (*path, index))
            if found is not None:
                return found
    return None


class Body(BaseModel):
    """Base of the strategy service's input models: strict fields, storable values."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: object) -> object:
        # Nested models validate their own fields; plain strings, lists and dicts are walked.
        if not isinstance(value, BaseModel):
            found = find_unstorable(value)
            if found is not None:
                raise ValueError(found.reason)
        return value
