"""A venue's Foursquare presence as analysis evidence (kind ``place``): the gateway reads it with
the Foursquare Places client from a fake that follows the documented API
(tests/fakes/foursquare.py), and the evidence goes into the analysis deliverable as it is."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from services.gateway.app import build_app as build_gateway
from shared.auth import Role
from shared.settings import OAuthAppSettings
from tests.conftest import Platform
from tests.engagement_helpers import stored_engagement
from tests.fakes import foursquare
from tests.fakes.common import Fault, serve
from tests.test_strategy_deliverables import analysis_body, save
from tests.test_thin_thread import create_org


@dataclass
class Gateway:
    """A gateway whose settings name the agency's Foursquare key and the fake's address, in
    front of the platform's services."""

    http: httpx.AsyncClient
    fake: foursquare.FakeFoursquare


@pytest.fixture
async def gateway(platform: Platform) -> AsyncIterator[Gateway]:
    fake = foursquare.FakeFoursquare()
    async with serve(fake.app) as fake_url:
        publisher = platform.settings.publisher.model_copy(
            update={
                "api_base_urls": {
                    **platform.settings.publisher.api_base_urls,
                    "foursquare": fake_url,
                },
                "oauth_apps": {
                    "foursquare": OAuthAppSettings(
                        client_id="agency-project", client_secret=foursquare.API_KEY
                    )
                },
            }
        )
        settings = platform.settings.model_copy(update={"publisher": publisher})
        async with (
            serve(build_gateway(settings)) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            yield Gateway(http, fake)


def evidence_path(engagement_id: str, fsq_id: str = foursquare.PLACE_ID) -> str:
    return f"/v1/engagements/{engagement_id}/place-evidence/{fsq_id}"


async def test_the_place_is_evidence_the_analysis_cites(
    platform: Platform, gateway: Gateway
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)

    read = await gateway.http.get(evidence_path(engagement_id), headers=platform.auth(Role.EDITOR))

    assert read.status_code == 200, read.text
    answer = read.json()
    assert answer["evidence"] == {
        "kind": "place",
        "ref": foursquare.PLACE_ID,
        "note": "Foursquare: Agriturismo La Quercia (Bed and Breakfast); rating 8.7/10 from 120 "
        "ratings; 31 tips; 88 photos",
    }
    place = answer["place"]
    assert (place["name"], place["categories"]) == ("Agriturismo La Quercia", ["Bed and Breakfast"])
    assert (place["rating"], place["total_tips"], place["popularity"]) == (8.7, 31, 0.93)
    assert place["address"] == "Strada della Quercia 12, 53024 Montalcino SI"
    [seen] = gateway.fake.requests("read")
    assert seen.headers["authorization"] == foursquare.API_KEY

    saved = await save(
        platform, {"id": engagement_id}, "analysis", analysis_body(answer["evidence"])
    )
    assert saved.status_code in (200, 201), saved.text
    [strength] = saved.json()["body"]["strengths"]
    assert strength["evidence"] == [answer["evidence"]]


async def test_unknown_places_other_clients_roles_and_failures(
    platform: Platform, gateway: Gateway
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    editor = platform.auth(Role.EDITOR)

    unknown = await gateway.http.get(evidence_path(engagement_id, "0" * 24), headers=editor)
    malformed = await gateway.http.get(evidence_path(engagement_id, "a-b"), headers=editor)
    outsider = await gateway.http.get(
        evidence_path(engagement_id),
        headers=platform.auth(Role.MANAGER, orgs=[str(uuid.uuid4())]),
    )
    client = await gateway.http.get(
        evidence_path(engagement_id),
        headers=platform.auth(Role.CLIENT_APPROVER, orgs=[organization_id]),
    )
    reads_so_far = len(gateway.fake.requests("read"))
    gateway.fake.fail_next("read", Fault.SERVER_ERROR)
    down = await gateway.http.get(evidence_path(engagement_id), headers=editor)
    unconfigured = await platform.gateway.get(evidence_path(engagement_id), headers=editor)

    assert (unknown.status_code, unknown.json()["resource"]) == (404, "Foursquare place")
    assert malformed.status_code == 422
    assert outsider.status_code == 404
    assert client.status_code == 403
    # Neither the malformed id, the other client's engagement nor the client's role reached it.
    assert reads_so_far == 1
    assert down.status_code == 503
    assert down.headers["content-type"] == "application/problem+json"
    assert unconfigured.status_code == 409
    assert unconfigured.json()["integration"] in ("spotify", "foursquare")
