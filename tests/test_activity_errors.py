"""The one activity error policy: refusals are final, outages are retried, nothing is lost."""

from __future__ import annotations

import typing
import uuid
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from shared.activity_errors import problems_as_application_errors
from shared.errors import ConflictError, DependencyUnavailableError, NotFoundError, ProblemError

ENGAGEMENT_ID = uuid.UUID("6f1c8f9e-2b7a-4c1e-9d4e-0a5b3c2d1e0f")


class Refusal(BaseModel):
    """What the activity under test is asked to fail with."""

    status: int
    kind: str


class Post(BaseModel):
    text: str = Field(max_length=5)


def problem_for(request: Refusal) -> ProblemError:
    if request.kind == "dependency-unavailable":
        return DependencyUnavailableError("media-storage")
    return ProblemError(
        request.status,
        request.kind,
        f"refused with {request.status}",
        engagement_id=ENGAGEMENT_ID,
        errors=[{"field": "body.kind", "message": "unknown", "type": "enum"}],
    )


@activity.defn(name="test.refuse")
@problems_as_application_errors
async def refuse(request: Refusal) -> None:
    raise problem_for(request)


@activity.defn(name="test.post")
@problems_as_application_errors
async def post(raw: dict[str, Any]) -> Post:
    return Post.model_validate(raw)


async def failure_of(run: Any, *args: Any) -> ApplicationError:
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(run, *args)
    return raised.value


STATUSES = [
    (400, "malformed-json", False),
    (401, "unauthorized", False),
    (403, "forbidden", False),
    (404, "not-found", False),
    (408, "request-timeout", True),
    (409, "conflict", False),
    (410, "gone", False),
    (422, "validation-error", False),
    (429, "too-many-requests", True),
    (500, "internal-error", True),
    (502, "bad-gateway", True),
    (503, "service-unavailable", True),
    (504, "gateway-timeout", True),
    (503, "dependency-unavailable", True),
]


@pytest.mark.parametrize(
    ("status", "kind", "retryable"), STATUSES, ids=[kind for _, kind, _ in STATUSES]
)
async def test_a_problem_leaves_an_activity_as_an_application_error_with_all_its_fields(
    status: int, kind: str, retryable: bool
) -> None:
    request = Refusal(status=status, kind=kind)
    problem = problem_for(request)
    error = await failure_of(refuse, request)

    assert error.non_retryable is not retryable
    assert (error.type, error.message) == (kind, problem.detail)
    assert isinstance(error.__cause__, type(problem))
    document = error.details[0]
    assert (document["type"], document["status"], document["detail"]) == (
        kind,
        status,
        problem.detail,
    )
    assert document["title"] == problem.title
    if kind == "dependency-unavailable":
        assert document["dependency"] == "media-storage"
        assert error.next_retry_delay == timedelta(seconds=5)
    else:
        assert document["engagement_id"] == str(ENGAGEMENT_ID)
        assert document["errors"] == [{"field": "body.kind", "message": "unknown", "type": "enum"}]
        assert error.next_retry_delay is None


@pytest.mark.parametrize(
    "problem",
    [NotFoundError("engagement", ENGAGEMENT_ID), ConflictError("already drawn", contest="c-1")],
    ids=["not-found", "conflict"],
)
async def test_the_kernels_refusals_keep_their_kind_and_fields(problem: ProblemError) -> None:
    @problems_as_application_errors
    async def raising() -> None:
        raise problem

    error = await failure_of(raising)
    assert error.non_retryable
    assert error.type == problem.kind
    assert error.details[0] == {
        "type": problem.kind,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        **problem.extensions,
    }


async def test_an_invalid_model_is_a_final_validation_error_naming_each_field() -> None:
    error = await failure_of(post, {"text": "far too long"})
    assert error.non_retryable
    assert error.type == "validation-error"
    assert "text" in error.message
    document = error.details[0]
    assert document["status"] == 422
    assert [item["field"] for item in document["errors"]] == ["text"]
    assert document["errors"][0]["type"] == "string_too_long"


async def test_other_failures_are_left_for_temporal_to_retry() -> None:
    crash = RuntimeError("a bug")
    own = ApplicationError("the connector's own", type="retryable", non_retryable=False)

    @problems_as_application_errors
    async def raising(error: Exception) -> None:
        raise error

    for error in (crash, own):
        with pytest.raises(type(error)) as raised:
            await ActivityEnvironment().run(raising, error)
        assert raised.value is error


async def test_a_decorated_activity_keeps_its_typed_signature_and_result() -> None:
    assert typing.get_type_hints(post) == {"raw": dict[str, Any], "return": Post}
    assert await ActivityEnvironment().run(post, {"text": "short"}) == Post(text="short")
