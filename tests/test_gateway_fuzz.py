"""The gateway checked from outside: schemathesis generates requests from the gateway's own
OpenAPI and sends them, with a valid token, to the running platform. Whatever it sends, valid or
not, the answer is never a 5xx, its status code is documented, and its content type and body are
the documented ones.

Generation is derandomized and bounded (a few examples per operation), so a run is reproducible
and short. In valid requests, path, query and body fields naming an organisation or engagement
carry real ones (a content item and a saved reply too), so those requests reach the services'
rules rather than stopping at a 404.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from _pytest.mark import ParameterSet
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from services.gateway.app import build_app as build_gateway
from shared.auth import Role
from shared.settings import Settings
from tests.conftest import Platform
from tests.engagement_helpers import started_engagement
from tests.test_errors import assert_problem
from tests.test_thin_thread import create_org

# Hypothesis blames a strategy for any change to the global ``random`` while it draws; here the
# platform's event loop runs in another thread and uses it. Generation has its own seeded PRNG.
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# An invalid request is refused (4xx), as the documented schema says it is invalid.
INVALID_CHECKS = [*CHECKS, negative_data_rejection]
VALID_EXAMPLES = 4
INVALID_EXAMPLES = 2
REQUEST_TIMEOUT_SECONDS = 30.0
# Answers that never end: a request would wait for the stream to close.
STREAMS = frozenset({"GET /v1/stream", "GET /v1/engagements/{engagement_id}/stream"})


@dataclass
class Fuzzer:
    """Sends an operation's generated requests to the gateway and checks each answer."""

    schema: schemathesis.BaseSchema
    base_url: str
    headers: dict[str, str]
    known_ids: dict[str, str]
    session: requests.Session = field(default_factory=requests.Session)

    def run(
        self, operation: APIOperation[Any, Any, Any, Any], mode: GenerationMode, examples: int
    ) -> None:
        valid = mode is GenerationMode.POSITIVE
        strategy = operation.as_strategy(
            generation_mode=mode,
            path_parameters=self._known(operation.path_parameters) if valid else {},
            query=self._known(operation.query) if valid else {},
        )

        # No shrinking: a failure is reported as found, with its curl command, in bounded time.
        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def answers_as_documented(case: Case[Any]) -> None:
            if valid and isinstance(case.body, dict):
                for name in self.known_ids.keys() & case.body.keys():
                    case.body[name] = self.known_ids[name]
            response = case.call(
                base_url=self.base_url,
                session=self.session,
                headers=self.headers,
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
            checks = CHECKS if valid else INVALID_CHECKS
            case.validate_response(response, checks=checks, headers=self.headers)

        answers_as_documented()

    def _known(self, parameters: Any) -> dict[str, str]:
        names = {parameter.name for parameter in parameters}
        return {name: self.known_ids[name] for name in names & self.known_ids.keys()}


def operations() -> list[ParameterSet]:
    document = build_gateway(Settings()).openapi()
    labels = [
        f"{method.upper()} {path}"
        for path, methods in document["paths"].items()
        for method in methods
    ]
    return [
        pytest.param(
            label,
            marks=[pytest.mark.skip(reason="a stream never ends")] if label in STREAMS else [],
        )
        for label in labels
    ]


async def created_id(platform: Platform, path: str, body: dict[str, str]) -> str:
    created = await platform.gateway.post(path, json=body, headers=platform.auth(Role.ADMIN))
    assert created.status_code == 201, created.text
    identifier: str = created.json()["id"]
    return identifier


@pytest.fixture(scope="module")
async def fuzzer(platform: Platform) -> Fuzzer:
    organization_id = await create_org(platform, "Fuzzed Organisation")
    engagement = await started_engagement(platform, organization_id)
    item_id = await created_id(
        platform,
        "/v1/content-items",
        {"organization_id": organization_id, "kind": "text", "title": "Aperitivo in vigna"},
    )
    saved_reply_id = await created_id(
        platform,
        "/v1/listening/saved-replies",
        {"organization_id": organization_id, "title": "Orari", "text": "Aperti dalle 9 alle 18."},
    )
    document = (await platform.gateway.get("/openapi.json")).json()
    return Fuzzer(
        schema=schemathesis.openapi.from_dict(document),
        base_url=str(platform.gateway.base_url).rstrip("/"),
        headers=platform.auth(Role.ADMIN, orgs=[organization_id]),
        known_ids={
            "organization_id": organization_id,
            "engagement_id": engagement["id"],
            "item_id": item_id,
            "saved_reply_id": saved_reply_id,
        },
    )


@pytest.mark.parametrize("label", operations())
async def test_every_answer_is_documented(fuzzer: Fuzzer, label: str) -> None:
    operation = fuzzer.schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the gateway's OpenAPI"
    await asyncio.to_thread(fuzzer.run, operation, GenerationMode.POSITIVE, VALID_EXAMPLES)
    # An operation without parameters or body has no invalid request to make.
    if any((operation.path_parameters, operation.query, operation.headers, operation.body)):
        await asyncio.to_thread(fuzzer.run, operation, GenerationMode.NEGATIVE, INVALID_EXAMPLES)


async def test_a_nul_character_in_text_is_422_not_500(platform: Platform) -> None:
    """Found by the fuzzer: valid JSON, valid to the schema, and PostgreSQL cannot store it."""
    organization_id = await create_org(platform)
    response = await platform.gateway.post(
        "/v1/listening/saved-replies",
        json={"organization_id": organization_id, "title": "Orari\u0000", "text": "9-18"},
        headers=platform.auth(Role.ADMIN),
    )
    assert_problem(response, 422, "unstorable-text")
