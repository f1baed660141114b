"""Validating a raw JSON body against a schema chosen at run time, with the kernel's 422."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from services.strategy.bodies import find_unstorable
from shared.errors import FieldError, field_path, validation_problem

Model = TypeVar("Model", bound=BaseModel)


def validate_body(model: type[Model], raw: Any, prefix: tuple[str, ...] = ("body",)) -> Model:
    """Validate ``raw`` against ``model``; a failure is a 422 naming each field's path."""
    found = find_unstorable(raw)
    if found is not None:
        raise validation_problem(
            [
                FieldError(
                    field=field_path((*prefix, *found.path)),
                    message=found.reason,
                    type="value_error",
                )
            ]
        )
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise validation_problem(
            [
                FieldError(
                    field=field_path((*prefix, *item["loc"])),
                    message=item["msg"],
                    type=item["type"],
                )
                for item in error.errors()
            ]
        ) from error
