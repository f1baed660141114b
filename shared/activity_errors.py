"""One error policy for every Temporal activity: how a service's problem reaches a workflow.

Decorate an activity with :func:`problems_as_application_errors` (below ``@activity.defn``, which
must stay outermost). A :class:`~shared.errors.ProblemError` raised inside it leaves as an
``ApplicationError`` whose ``type`` is the problem's kind (``not-found``, ``conflict``, ...),
whose message is the problem's detail, and whose first detail is the problem document as JSON
(``type``, ``title``, ``status``, ``detail`` and every extension field):

* a refusal, any 4xx but 408 and 429, is **non-retryable**: the same request would be refused
  again, so retrying only delays the workflow's answer;
* a timeout (408), throttling (429), or a failure on the service's side (5xx, which includes
  :class:`~shared.errors.DependencyUnavailableError`) is **retryable**, with the problem's
  ``Retry-After`` as the next attempt's delay.

Retryable problems are raised as ``ApplicationError`` too rather than re-raised as they are: a
bare exception would reach the workflow, once its retries are spent, typed by its class name
(``DependencyUnavailableError``) with the status and fields lost, while this way a workflow
matches the same ``type`` and reads the same details whatever the status, and a retry policy can
name a kind in ``non_retryable_error_types``.

A pydantic ``ValidationError`` (a model built from the activity's input) is the kernel's 422
``validation-error`` with each field's path. Any other exception is left alone for Temporal to
retry under the caller's policy: it is a bug or a dropped connection, not an answer.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from pydantic import ValidationError
from pydantic_core import to_jsonable_python
from temporalio.exceptions import ApplicationError

from shared.errors import DependencyUnavailableError, ProblemError, field_path

Params = ParamSpec("Params")
Result = TypeVar("Result")

RETRYABLE_CLIENT_STATUSES = frozenset({408, 429})


def is_retryable(problem: ProblemError) -> bool:
    return (
        isinstance(problem, DependencyUnavailableError)
        or problem.status >= 500
        or problem.status in RETRYABLE_CLIENT_STATUSES
    )


def problem_document(problem: ProblemError) -> dict[str, Any]:
    """The problem as the HTTP API would answer it (the kind without its URN prefix), as JSON."""
    document = {
        **problem.extensions,
        "type": problem.kind,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
    }
    jsonable: dict[str, Any] = to_jsonable_python(document, fallback=str)
    return jsonable


def _retry_after(problem: ProblemError) -> timedelta | None:
    seconds = problem.headers.get("Retry-After", "")
    return timedelta(seconds=int(seconds)) if seconds.isdigit() else None


def application_error(problem: ProblemError) -> ApplicationError:
    """The ``ApplicationError`` an activity raises for ``problem`` (see the module's policy)."""
    retryable = is_retryable(problem)
    return ApplicationError(
        problem.detail or problem.kind,
        problem_document(problem),
        type=problem.kind,
        non_retryable=not retryable,
        next_retry_delay=_retry_after(problem) if retryable else None,
    )


def validation_problem(error: ValidationError) -> ProblemError:
    errors = [
        {
            "field": field_path(item["loc"]),
            "message": item["msg"],
            "type": item["type"],
        }
        for item in error.errors()
    ]
    fields = "; ".join(f"{item['field']}: {item['message']}" for item in errors)
    return ProblemError(
        422,
        "validation-error",
        f"Invalid fields: {fields}",
        title="Validation failed",
        errors=errors,
    )


def problems_as_application_errors(
    run: Callable[Params, Awaitable[Result]],
) -> Callable[Params, Coroutine[Any, Any, Result]]:
    """Apply the activity error policy to an ``async`` activity; its signature is kept, so
    Temporal still converts its typed arguments."""

    @functools.wraps(run)
    async def activity_with_policy(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        try:
            return await run(*args, **kwargs)
        except ProblemError as problem:
            raise application_error(problem) from problem
        except ValidationError as error:
            raise application_error(validation_problem(error)) from error

    return activity_with_policy
