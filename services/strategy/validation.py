"""Validating a raw JSON body against a schema chosen at run time, with the kernel's 422."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from services.strategy.bodies import find_unstorable
from shared.errors import FieldError, ProblemError

Model = TypeVar("Model", bound=BaseModel)


def field_path(location: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in location)


def validation_problem(errors: Sequence[FieldError]) -> ProblemError:
    """The same 422 problem the kernel answers for an invalid request body."""
    return ProblemError(
        422,
        "validation-error",
        "The request has invalid fields.",
        title="Validation failed",
        errors=[error.model_dump() for error in errors],
    )


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
