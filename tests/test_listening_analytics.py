"""The listening analytics through the gateway, on mentions stored with known values: volume in
buckets of the Europe/Rome calendar (across the switch to summer time) or UTC, top authors and
places, the GeoJSON map and its PNG picture; filters, 422s naming the field, 404 for another
organisation's engagement."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening.models import Mention
from services.listening.places.choropleth import NO_DATA, RAMP, pixel_at
from shared.auth import Role
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import stored_engagement
from tests.test_thin_thread import create_org

SIENA = {
    "place_level": "comune",
    "place_code": "052032",
    "place_name": "Siena",
    "place_method": "text",
    "place_confidence": 0.9,
    "comune_code": "052032",
    "comune_name": "Siena",
    "province_code": "052",
    "province_name": "Siena",
    "region_code": "09",
    "region_name": "Toscana",
    "country_code": "IT",
    "country_name": "Italia",
}
TUSCANY = {
    "place_level": "region",
    "place_code": "09",
    "place_name": "Toscana",
    "place_method": "profile",
    "place_confidence": 0.7,
    "region_code": "09",
    "region_name": "Toscana",
    "country_code": "IT",
    "country_name": "Italia",
}
FLORENCE = {**SIENA, "place_code": "048017", "place_name": "Firenze"} | {
    "comune_code": "048017",
    "comune_name": "Firenze",
    "province_code": "048",
    "province_name": "Firenze",
}
ROME = {
    **SIENA,
    "place_code": "058091",
    "place_name": "Roma",
    "comune_code": "058091",
    "comune_name": "Roma",
    "province_code": "058",
    "province_name": "Roma",
    "region_code": "12",
    "region_name": "Lazio",
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def mention(organization_id: str, engagement_id: str, published_at: str, **fields: Any) -> Mention:
    return Mention(
        organization_id=uuid.UUID(organization_id),
        engagement_ids=[uuid.UUID(engagement_id)],
        query_ids=fields.pop("query_ids", []),
        source=fields.pop("source", "instagram"),
        external_id=uuid.uuid4().hex,
        author_handle=fields.pop("author_handle", "lucia"),
        author_name=fields.pop("author_name", None),
        text="La Quercia",
        published_at=at(published_at),
        hashtags=[],
        accounts=[],
        language=fields.pop("language", "it"),
        sentiment_label=fields.pop("sentiment_label", None),
        sentiment_model_version="test",
        **fields,
    )


async def get(platform: Platform, engagement_id: str, route: str, **params: Any) -> httpx.Response:
    return await platform.gateway.get(
        f"/v1/listening/engagements/{engagement_id}/{route}",
        params=params,
        headers=platform.auth(Role.EDITOR),
    )


def field_of(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    field: str = response.json()["errors"][0]["field"]
    return field


@pytest.fixture(scope="module")
async def stored(platform: Platform, sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """Five mentions of an engagement around the switch to summer time in Italy (Sunday 28
    March 2027, 02:00 becomes 03:00), and two that are not the engagement's."""
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    other_engagement = await stored_engagement(platform, organization_id)
    query_id = uuid.uuid4()
    o, e = organization_id, engagement_id
    async with sessions() as session:
        session.add_all(
            [
                # 23:30 on the 27th in Rome.
                mention(o, e, "2027-03-27T22:30:00Z", sentiment_label="positive",
                        author_name="Lucia B.", query_ids=[query_id], **SIENA),
                # 00:30 on the 28th in Rome (still winter time).
                mention(o, e, "2027-03-27T23:30:00Z", sentiment_label="negative",
                        author_name="Lucia Bianchi", **TUSCANY),
                # 23:30 on the 28th in Rome (summer time).
                mention(o, e, "2027-03-28T21:30:00Z", sentiment_label="neutral",
                        source="mastodon", author_handle="marco", query_ids=[query_id], **ROME),
                # 00:30 on the 29th in Rome; a language the model does not read.
                mention(o, e, "2027-03-28T22:30:00Z", source="mastodon", author_handle="marco",
                        language="de"),
                mention(o, e, "2027-03-28T23:00:00Z", sentiment_label="mixed",
                        author_handle="anna", **FLORENCE),
                mention(o, other_engagement, "2027-03-28T12:00:00Z",
                        sentiment_label="positive", **SIENA),
            ]
        )  # fmt: skip
        await session.commit()

    async def known() -> bool:
        return (await get(platform, engagement_id, "top-authors")).status_code == 200

    await wait_until(known, timeout=15)
    return {"organization_id": o, "engagement_id": e, "query_id": str(query_id)}


FIGURES = ("count", "positive", "neutral", "negative", "mixed", "unlabelled", "net_sentiment")


def counts(item: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(item[name] for name in FIGURES)


async def test_volume_buckets_rome_days_across_the_switch_to_summer_time(
    platform: Platform, stored: dict[str, str]
) -> None:
    response = await get(
        platform,
        stored["engagement_id"],
        "volume",
        **{"from": "2027-03-27T00:00:00+01:00"},
        **{"to": "2027-03-30T00:00:00+02:00"},
    )
    assert response.status_code == 200, response.text
    volume = response.json()
    assert volume["tz"] == "Europe/Rome"
    assert volume["interval"] == "day"
    assert [(b["start"], b["end"]) for b in volume["buckets"]] == [
        ("2027-03-27T00:00:00+01:00", "2027-03-28T00:00:00+01:00"),
        ("2027-03-28T00:00:00+01:00", "2027-03-29T00:00:00+02:00"),
        ("2027-03-29T00:00:00+02:00", "2027-03-30T00:00:00+02:00"),
    ]
    assert [counts(b) for b in volume["buckets"]] == [
        (1, 1, 0, 0, 0, 0, 1.0),
        (2, 0, 1, 1, 0, 0, -0.5),
        (2, 0, 0, 0, 1, 1, 0.0),
    ]
    assert counts(volume["total"]) == (5, 1, 1, 1, 1, 1, 0.0)


async def test_volume_in_utc_hours_and_weeks(platform: Platform, stored: dict[str, str]) -> None:
    engagement_id = stored["engagement_id"]
    utc_days = (
        await get(
            platform,
            engagement_id,
            "volume",
            tz="UTC",
            **{"from": "2027-03-26T23:00:00Z"},
            **{"to": "2027-03-29T22:00:00Z"},
        )
    ).json()
    assert [b["start"] for b in utc_days["buckets"]] == [
        "2027-03-26T00:00:00Z",
        "2027-03-27T00:00:00Z",
        "2027-03-28T00:00:00Z",
        "2027-03-29T00:00:00Z",
    ]
    assert [b["count"] for b in utc_days["buckets"]] == [0, 2, 3, 0]
    assert utc_days["buckets"][0]["net_sentiment"] is None

    hours = (
        await get(
            platform,
            engagement_id,
            "volume",
            interval="hour",
            **{"from": "2027-03-28T21:00:00Z"},
            **{"to": "2027-03-29T00:00:00Z"},
        )
    ).json()
    assert [(b["start"], b["count"]) for b in hours["buckets"]] == [
        ("2027-03-28T23:00:00+02:00", 1),
        ("2027-03-29T00:00:00+02:00", 1),
        ("2027-03-29T01:00:00+02:00", 1),
    ]

    weeks = (
        await get(
            platform,
            engagement_id,
            "volume",
            interval="week",
            **{"from": "2027-03-24T00:00:00+01:00"},
            **{"to": "2027-04-01T00:00:00+02:00"},
        )
    ).json()
    assert [(b["start"], b["count"]) for b in weeks["buckets"]] == [
        ("2027-03-22T00:00:00+01:00", 3),
        ("2027-03-29T00:00:00+02:00", 2),
    ]


async def test_volume_filters(platform: Platform, stored: dict[str, str]) -> None:
    period = {"from": "2027-03-27T00:00:00+01:00", "to": "2027-03-30T00:00:00+02:00"}

    async def total(**filters: str) -> int:
        response = await get(platform, stored["engagement_id"], "volume", **period, **filters)
        assert response.status_code == 200, response.text
        count: int = response.json()["total"]["count"]
        return count

    assert await total(sentiment="negative") == 1
    assert await total(source="mastodon") == 2
    assert await total(query_id=stored["query_id"]) == 2
    assert await total(language="it") == 4
    assert await total(place="09") == 3
    assert await total(place="IT") == 4


async def test_rankings_of_authors_and_places(platform: Platform, stored: dict[str, str]) -> None:
    engagement_id = stored["engagement_id"]
    authors = (await get(platform, engagement_id, "top-authors")).json()
    assert [(a["source"], a["handle"], a["display_name"], counts(a)) for a in authors] == [
        ("instagram", "lucia", "Lucia Bianchi", (2, 1, 0, 1, 0, 0, 0.0)),
        ("mastodon", "marco", None, (2, 0, 1, 0, 0, 1, 0.0)),
        ("instagram", "anna", None, (1, 0, 0, 0, 1, 0, 0.0)),
    ]
    first = (await get(platform, engagement_id, "top-authors", limit=1)).json()
    assert [a["handle"] for a in first] == ["lucia"]

    regions = (await get(platform, engagement_id, "top-places")).json()
    assert [(p["level"], p["code"], p["name"], counts(p)) for p in regions] == [
        ("region", "09", "Toscana", (3, 1, 0, 1, 1, 0, 0.0)),
        ("region", "12", "Lazio", (1, 0, 1, 0, 0, 0, 0.0)),
    ]
    comuni = (await get(platform, engagement_id, "top-places", level="comune")).json()
    assert [(p["code"], p["count"]) for p in comuni] == [
        ("048017", 1),
        ("052032", 1),
        ("058091", 1),
    ]
    countries = (await get(platform, engagement_id, "top-places", level="country")).json()
    assert [(p["code"], p["count"]) for p in countries] == [("IT", 4)]
    since = (
        await get(platform, engagement_id, "top-places", **{"from": "2027-03-28T00:00:00Z"})
    ).json()
    assert [(p["code"], p["count"]) for p in since] == [("09", 1), ("12", 1)]


async def test_map_is_geojson_with_counts_per_place(
    platform: Platform, stored: dict[str, str]
) -> None:
    response = await get(platform, stored["engagement_id"], "map")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/geo+json"
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    features = {feature["id"]: feature for feature in collection["features"]}
    assert features.keys() == {"09", "12"}
    tuscany = features["09"]
    assert tuscany["geometry"]["type"] == "MultiPolygon"
    assert tuscany["properties"] | {"name": None} == {
        "code": "09",
        "name": None,
        "level": "region",
        "count": 3,
        "positive": 1,
        "neutral": 0,
        "negative": 1,
        "mixed": 1,
        "unlabelled": 0,
        "net_sentiment": 0.0,
    }
    negative = (
        await get(platform, stored["engagement_id"], "map", level="province", sentiment="negative")
    ).json()
    assert negative["features"] == []
    comuni = (await get(platform, stored["engagement_id"], "map", level="comune")).json()
    siena = next(f for f in comuni["features"] if f["id"] == "052032")
    assert siena["geometry"]["type"] == "Point"
    assert siena["properties"]["count"] == 1


def close(colour: tuple[int, ...], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 6 for a, b in zip(colour[:3], expected, strict=True))


async def test_map_picture_colours_the_regions_with_mentions(
    platform: Platform, stored: dict[str, str], tmp_path: Any
) -> None:
    engagement_id = stored["engagement_id"]
    response = await get(platform, engagement_id, "map.png", width=600)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    picture = Image.open(io.BytesIO(response.content))
    assert picture.format == "PNG"
    assert picture.size == (600, 480)
    (tmp_path / "regions.png").write_bytes(response.content)

    # Toscana has 3 mentions (the darkest of three classes), Lazio 1, Lombardia none.
    rgb = picture.convert("RGB")
    assert close(rgb.getpixel(pixel_at(11.33, 43.32, 600)), RAMP[-1])  # type: ignore[arg-type]
    assert close(rgb.getpixel(pixel_at(12.49, 41.90, 600)), RAMP[0])  # type: ignore[arg-type]
    assert close(rgb.getpixel(pixel_at(9.19, 45.46, 600)), NO_DATA)  # type: ignore[arg-type]

    empty = await get(
        platform, engagement_id, "map.png", width=600, **{"from": "2030-01-01T00:00:00Z"}, lang="en"
    )
    assert empty.status_code == 200
    nothing = Image.open(io.BytesIO(empty.content)).convert("RGB")
    assert close(nothing.getpixel(pixel_at(11.33, 43.32, 600)), NO_DATA)  # type: ignore[arg-type]

    default = await get(platform, engagement_id, "map.png", level="province")
    assert Image.open(io.BytesIO(default.content)).size == (1200, 960)
    assert field_of(await get(platform, engagement_id, "map.png", width=5000)) == "query.width"
    assert field_of(await get(platform, engagement_id, "map.png", level="comune")) == (
        "query.level"
    )


async def test_bad_parameters_answer_422_naming_the_field(
    platform: Platform, stored: dict[str, str]
) -> None:
    engagement_id = stored["engagement_id"]
    assert field_of(await get(platform, engagement_id, "volume", interval="month")) == (
        "query.interval"
    )
    assert field_of(await get(platform, engagement_id, "volume", tz="Mars/Olympus")) == ("query.tz")
    too_many = await get(
        platform,
        engagement_id,
        "volume",
        interval="hour",
        **{"from": "2026-01-01T00:00:00Z"},
        **{"to": "2027-01-01T00:00:00Z"},
    )
    assert field_of(too_many) == "query.from"
    backwards = await get(
        platform,
        engagement_id,
        "top-authors",
        **{"from": "2027-03-29T00:00:00Z"},
        **{"to": "2027-03-28T00:00:00Z"},
    )
    assert field_of(backwards) == "query.to"
    assert field_of(await get(platform, engagement_id, "volume", **{"from": "2027-03-29"})) == (
        "query.from"
    )
    assert field_of(await get(platform, engagement_id, "top-authors", limit=0)) == "query.limit"
    assert field_of(await get(platform, engagement_id, "top-places", level="city")) == (
        "query.level"
    )
    assert field_of(await get(platform, engagement_id, "map", level="country")) == "query.level"


@pytest.mark.parametrize("route", ["volume", "top-authors", "top-places", "map", "map.png"])
async def test_another_organisations_engagement_is_not_found(
    platform: Platform, stored: dict[str, str], route: str
) -> None:
    stranger = platform.auth(Role.MANAGER, orgs=[str(uuid.uuid4())])
    foreign = await platform.gateway.get(
        f"/v1/listening/engagements/{stored['engagement_id']}/{route}", headers=stranger
    )
    assert foreign.status_code == 404
    assert foreign.headers["content-type"] == "application/problem+json"
    unknown = await get(platform, str(uuid.uuid4()), route)
    assert unknown.status_code == 404
