"""Bounded inputs: the gateway caps request bodies (413 problem+json), and every string, list and
number a request may carry has a bound in the gateway's OpenAPI, so an oversized value is a 422
problem rather than a 500 or unbounded work in a service."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from services.gateway.app import build_app as build_gateway
from shared.auth import Role
from shared.media_links import PATH as PUBLIC_MEDIA_PATH
from shared.settings import GatewaySettings, Settings
from tests.conftest import Platform
from tests.test_content_media import png
from tests.test_errors import assert_problem
from tests.test_thin_thread import create_org

JSON_CAP = 2_000
UPLOAD_CAP = 50_000


@asynccontextmanager
async def capped_gateway(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway with small caps, in front of the platform's services."""
    capped = settings.model_copy(
        update={"gateway": GatewaySettings(max_body_bytes=JSON_CAP, max_upload_bytes=UPLOAD_CAP)}
    )
    transport = httpx.ASGITransport(app=build_gateway(capped))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


async def chunked(data: bytes, size: int = 500) -> AsyncIterator[bytes]:
    """The body without a Content-Length: sent chunked, its size unknown until its end."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def organization_body(name_length: int) -> bytes:
    return json.dumps({"name": "x" * name_length}).encode()


async def test_a_declared_length_over_the_cap_is_413_before_the_body_is_read(
    platform: Platform,
) -> None:
    async with capped_gateway(platform.settings) as gateway:
        response = await gateway.post(
            "/v1/organizations",
            content=organization_body(JSON_CAP),
            headers={**platform.auth(Role.MANAGER), "Content-Type": "application/json"},
        )
    body = assert_problem(response, 413, "payload-too-large")
    assert body["limit_bytes"] == JSON_CAP


async def test_a_chunked_body_passing_the_cap_is_413(platform: Platform) -> None:
    async with capped_gateway(platform.settings) as gateway:
        json_route = await gateway.post(
            "/v1/organizations",
            content=chunked(organization_body(JSON_CAP)),
            headers={**platform.auth(Role.ADMIN), "Content-Type": "application/json"},
        )
        # A forwarded upload is cut off while it streams to the content service.
        upload = await gateway.post(
            "/v1/media",
            params={"organization_id": str(uuid.uuid4()), "filename": "big.png"},
            content=chunked(png(200, 200) + b"\x00" * UPLOAD_CAP, size=4096),
            headers={**platform.auth(Role.EDITOR), "Content-Type": "image/png"},
        )
    assert "content-length" not in json_route.request.headers
    assert_problem(json_route, 413, "payload-too-large")
    assert assert_problem(upload, 413, "payload-too-large")["limit_bytes"] == UPLOAD_CAP


async def test_bodies_under_their_cap_go_through(platform: Platform) -> None:
    organization_id = await create_org(platform)
    # Past the JSON cap, well under the upload cap (bytes after the image's end are kept).
    image = png(60, 60) + b"\x00" * JSON_CAP
    assert JSON_CAP < len(image) < UPLOAD_CAP
    async with capped_gateway(platform.settings) as gateway:
        created = await gateway.post(
            "/v1/organizations",
            content=chunked(organization_body(150), size=40),
            headers={**platform.auth(Role.ADMIN), "Content-Type": "application/json"},
        )
        # An upload has the larger cap of raw bodies, not the JSON one.
        uploaded = await gateway.post(
            "/v1/media",
            params={"organization_id": organization_id, "filename": "fits.png"},
            content=image,
            headers={**platform.auth(Role.EDITOR), "Content-Type": "image/png"},
        )
    assert created.status_code == 201, created.text
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["size_bytes"] == len(image)


async def test_a_media_link_expiry_of_thousands_of_digits_is_422(platform: Platform) -> None:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{platform.settings.ports.content}"
    ) as content:
        response = await content.get(
            f"{PUBLIC_MEDIA_PATH}/{uuid.uuid4()}",
            params={"expires": "9" * 5000, "signature": "x"},
        )
    assert_problem(response, 422, "validation-error")


async def test_a_draw_number_out_of_range_is_422(platform: Platform) -> None:
    for number in ("1" + "0" * 32, "0"):
        response = await platform.gateway.get(
            f"/v1/contests/{uuid.uuid4()}/draws/{number}/verification",
            headers=platform.auth(Role.MANAGER),
        )
        assert_problem(response, 422, "validation-error")


# Fields left unbounded on purpose, each with why (none today).
NOT_YET_BOUNDED: set[str] = set()
# A string in one of these formats has a length of its own.
SIZED_FORMATS = frozenset({"uuid", "date-time", "date", "time", "binary", "email"})
# An anchored pattern with no unbounded repetition (``*``, ``+``, ``{n,}``) bounds the length.
UNBOUNDED_REPETITION = re.compile(r"(?<!\\)[*+]|\{\d+,\}")


def bounded_pattern(pattern: str | None) -> bool:
    return (
        pattern is not None
        and pattern.startswith("^")
        and pattern.endswith("$")
        and not UNBOUNDED_REPETITION.search(pattern)
    )


def unbounded(schema: dict[str, Any], where: str, components: dict[str, Any]) -> Iterator[str]:
    """Where ``schema`` lets a caller send a string, list, map or integer of any size."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        yield from unbounded(components[name], name, components)
        return
    for alternative in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(alternative, []):
            yield from unbounded(option, where, components)
    if "enum" in schema or "const" in schema:
        return
    kind = schema.get("type")
    if kind == "object":
        for name, field in schema.get("properties", {}).items():
            yield from unbounded(field, f"{where}.{name}", components)
        values = schema.get("additionalProperties")
        if isinstance(values, dict):
            if "maxProperties" not in schema:
                yield where
            yield from unbounded(values, f"{where}.*", components)
    elif kind == "array":
        if "maxItems" not in schema:
            yield where
        yield from unbounded(schema.get("items", {}), f"{where}[]", components)
    elif kind == "string":
        if not (
            "maxLength" in schema
            or schema.get("format") in SIZED_FORMATS
            or bounded_pattern(schema.get("pattern"))
        ):
            yield where
    elif kind == "integer" and "maximum" not in schema and "exclusiveMaximum" not in schema:
        yield where


def test_every_string_list_and_integer_a_request_carries_is_bounded() -> None:
    document = build_gateway(Settings()).openapi()
    components = document["components"]["schemas"]
    found: set[str] = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where = f"{method.upper()} {path} {parameter['in']}:{parameter['name']}"
                found.update(unbounded(parameter["schema"], where, components))
            for content in operation.get("requestBody", {}).get("content", {}).values():
                found.update(unbounded(content["schema"], f"{method.upper()} {path}", components))
    assert sorted(found - NOT_YET_BOUNDED) == []
    assert sorted(NOT_YET_BOUNDED - found) == [], "bounded now: take them off the list"
