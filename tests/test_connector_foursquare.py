"""Foursquare place details against the fake Places API (tests/fakes/foursquare.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from services.publisher.connectors.base import AuthError, ContentRejectedError, RetryableError
from services.publisher.connectors.foursquare import FIELDS, FoursquarePlaces
from tests.fakes import foursquare
from tests.fakes.common import Fault, serve


@pytest.fixture
async def fake() -> AsyncIterator[tuple[foursquare.FakeFoursquare, FoursquarePlaces]]:
    platform = foursquare.FakeFoursquare()
    async with serve(platform.app) as base_url, httpx.AsyncClient(timeout=2) as http:
        yield platform, FoursquarePlaces(http, SecretStr(foursquare.API_KEY), base_url=base_url)


async def test_place_details_are_read_with_the_api_key_itself(
    fake: tuple[foursquare.FakeFoursquare, FoursquarePlaces],
) -> None:
    platform, places = fake
    place = await places.place(foursquare.PLACE_ID)

    assert place.name == "Agriturismo La Quercia"
    assert [category.name for category in place.categories] == ["Bed and Breakfast"]
    assert place.location.locality == "Montalcino"
    assert place.geocodes.main is not None
    assert (place.geocodes.main.latitude, place.geocodes.main.longitude) == (43.0581, 11.4893)
    assert (place.rating, place.stats.total_tips) == (8.7, 31)
    [seen] = platform.requests("read")
    assert seen.headers["authorization"] == foursquare.API_KEY
    assert seen.query == {"fields": FIELDS}


async def test_an_unknown_place_is_rejected(
    fake: tuple[foursquare.FakeFoursquare, FoursquarePlaces],
) -> None:
    _, places = fake
    with pytest.raises(ContentRejectedError, match="Place not found"):
        await places.place("nope")


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.EXPIRED_TOKEN, AuthError),
        (Fault.RATE_LIMITED, RetryableError),
        (Fault.SERVER_ERROR, RetryableError),
        (Fault.MALFORMED, RetryableError),
    ],
)
async def test_faults_are_classified(
    fake: tuple[foursquare.FakeFoursquare, FoursquarePlaces],
    fault: Fault,
    error: type[Exception],
) -> None:
    platform, places = fake
    platform.fail_next("read", fault)
    with pytest.raises(error):
        await places.place(foursquare.PLACE_ID)


async def test_a_rate_limit_names_its_delay(
    fake: tuple[foursquare.FakeFoursquare, FoursquarePlaces],
) -> None:
    platform, places = fake
    platform.fail_next("read", Fault.RATE_LIMITED)
    with pytest.raises(RetryableError) as raised:
        await places.place(foursquare.PLACE_ID)
    assert raised.value.retry_after == 15
