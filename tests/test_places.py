"""Map Track's place resolution against the shipped gazetteer (no services needed); the grids
that find the shape containing a point and the comuni near it answer as a search of them all."""

from __future__ import annotations

import random

import pytest

from services.listening.places import MentionClues, PlaceCounts, gazetteer, resolve
from services.listening.places.geojson import feature_collection
from services.listening.places.geometry import distance_km


@pytest.mark.parametrize(
    ("text", "comune", "province", "region"),
    [
        ("Che bello Gubbio oggi!", "054024", "054", "10"),
        ("Siamo stati a Perugia per Eurochocolate", "054039", "054", "10"),
        ("Domani a Roma per lavoro", "058091", "058", "12"),
        ("Traffico a Milano stamattina", "015146", "015", "03"),
        ("Un weekend a Reggio Emilia", "035033", "035", "08"),
        ("Arrivati all'Aquila", "066049", "066", "13"),
        ("Pranzo a L'Aquila", "066049", "066", "13"),
        ("Gita a FORLÌ", "040012", "040", "08"),
    ],
)
def test_comuni_named_in_a_text_resolve_to_their_istat_codes(
    text: str, comune: str, province: str, region: str
) -> None:
    found = resolve(MentionClues(text))
    assert found is not None
    assert (found.level, found.method, found.basis) == ("comune", "text", "name")
    assert (found.comune_code, found.province_code, found.region_code) == (
        comune,
        province,
        region,
    )
    assert found.country_code == "IT"
    assert 0 < found.confidence <= 1


def test_the_codes_match_istat() -> None:
    comuni = gazetteer().comuni
    assert comuni["054024"].name == "Gubbio"
    assert comuni["054039"].name == "Perugia"
    assert comuni["058091"].name == "Roma"
    assert comuni["015146"].name == "Milano"


@pytest.mark.parametrize(
    "text",
    [
        "Mi serve un bra nuovo",
        "Ne parliamo domani.",
        "Re del calcio",
        "Ala destra in gran forma",
        "La vita è bella",
        "Scala mobile",
        "Nave in arrivo",
        "Ora basta!",
        "Vittoria meritata",
        "Abito in via Roma",
        "Il servizio clienti non risponde",
        "",
    ],
)
def test_common_words_that_are_also_comuni_do_not_place_a_mention(text: str) -> None:
    assert resolve(MentionClues(text)) is None


def test_a_common_word_comune_resolves_with_its_province_abbreviation() -> None:
    found = resolve(MentionClues("Fiera del formaggio a Bra (CN)"))
    assert found is not None
    assert (found.comune_code, found.province_abbreviation) == ("004029", "CN")


def test_the_profile_location_names_the_comune() -> None:
    found = resolve(MentionClues("ottimo servizio", profile_location="Milano, Italia"))
    assert found is not None
    assert (found.level, found.method, found.comune_code) == ("comune", "profile", "015146")
    # "Italia" agrees with Milano, so it is worth more than the field alone
    assert found.confidence > 0.85


def test_a_whole_profile_field_may_be_a_common_word_comune() -> None:
    found = resolve(MentionClues("", profile_location="Bra, Cuneo"))
    assert found is not None
    assert found.comune_code == "004029"


def test_english_exonyms_resolve_to_the_italian_comuni() -> None:
    rome = resolve(MentionClues("Visiting Rome next week"))
    florence = resolve(MentionClues("We loved the museums in Florence"))
    assert rome is not None
    assert florence is not None
    assert (rome.comune_code, rome.matched) == ("058091", "Rome")
    assert florence.comune_code == "048017"
    both = resolve(MentionClues("Rome and Florence in one trip"))
    assert both is not None
    assert both.comune_code in {"058091", "048017"}


def test_a_foreign_place_resolves_to_its_country() -> None:
    found = resolve(MentionClues("great trip", profile_location="Madrid, Spain"))
    assert found is not None
    assert (found.level, found.country_code, found.method) == ("country", "ES", "profile")
    assert found.region_code is None
    assert found.comune_code is None
    spain = resolve(MentionClues("Vacanze in Spagna"))
    assert spain is not None
    assert spain.country_code == "ES"


def test_a_mention_with_no_place_resolves_to_none() -> None:
    assert resolve(MentionClues("Prodotto ottimo, consegna veloce")) is None
    assert resolve(MentionClues("nice", profile_location="somewhere over the rainbow")) is None


def test_coordinates_in_umbria_resolve_to_umbria() -> None:
    found = resolve(MentionClues("Bel tramonto", latitude=43.35, longitude=12.58))
    assert found is not None
    assert found.method == "coordinates"
    assert (found.region_code, found.region_name) == ("10", "Umbria")
    assert found.province_code == "054"
    assert found.comune_code == "054024"  # Gubbio's centroid is the nearest
    assert found.basis == "province-polygon+nearest-comune-centroid"


def test_coordinates_win_over_profile_and_text() -> None:
    found = resolve(
        MentionClues("Saluti da Milano", profile_location="Roma", latitude=43.11, longitude=12.39)
    )
    assert found is not None
    assert (found.method, found.region_code) == ("coordinates", "10")


def test_coordinates_abroad_resolve_to_the_country() -> None:
    found = resolve(MentionClues(latitude=40.4168, longitude=-3.7038))
    assert found is not None
    assert (found.level, found.country_code, found.basis) == ("country", "ES", "country-polygon")


def test_coordinates_in_the_open_sea_fall_back_to_the_names() -> None:
    found = resolve(MentionClues("Gubbio", latitude=38.0, longitude=-30.0))
    assert found is not None
    assert found.method == "text"


def test_regions_and_provinces_resolve_at_their_level() -> None:
    region = resolve(MentionClues("Vacanze in Toscana"))
    province = resolve(MentionClues("Vivo in provincia di Perugia"))
    assert region is not None
    assert province is not None
    assert (region.level, region.code) == ("region", "09")
    assert (province.level, province.code, province.region_code) == ("province", "054", "10")


def test_a_comune_with_its_region_prefers_the_comune_and_gains_confidence() -> None:
    alone = resolve(MentionClues("Una giornata a Gubbio"))
    with_region = resolve(MentionClues("Una giornata a Gubbio, in Umbria"))
    assert alone is not None
    assert with_region is not None
    assert with_region.comune_code == "054024"
    assert with_region.confidence > alone.confidence


def test_feature_collection_for_regions_has_polygons_and_counts() -> None:
    collection = feature_collection(
        {"10": PlaceCounts(5, positive=3, neutral=1, negative=1), "99": PlaceCounts(1)},
        "region",
    )
    assert collection["type"] == "FeatureCollection"
    [feature] = collection["features"]  # the unknown code 99 is left out
    assert feature["type"] == "Feature"
    assert feature["properties"] == {
        "code": "10",
        "name": "Umbria",
        "level": "region",
        "count": 5,
        "positive": 3,
        "neutral": 1,
        "negative": 1,
    }
    geometry = feature["geometry"]
    assert geometry["type"] == "MultiPolygon"
    for polygon in geometry["coordinates"]:
        for ring in polygon:
            assert len(ring) >= 4
            assert ring[0] == ring[-1]
            assert all(len(point) == 2 for point in ring)


def test_feature_collection_for_comuni_has_points() -> None:
    collection = feature_collection({"054024": PlaceCounts(2)}, "comune")
    [feature] = collection["features"]
    assert feature["geometry"]["type"] == "Point"
    lon, lat = feature["geometry"]["coordinates"]
    assert 43 < lat < 44
    assert 12 < lon < 13


def test_feature_collection_for_countries() -> None:
    collection = feature_collection({"ES": PlaceCounts(1), "IT": PlaceCounts(4)}, "country")
    assert [f["properties"]["code"] for f in collection["features"]] == ["ES", "IT"]
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in collection["features"])


def _points(
    count: int, west: float, south: float, east: float, north: float
) -> list[tuple[float, float]]:
    chance = random.Random(12)
    return [(chance.uniform(south, north), chance.uniform(west, east)) for _ in range(count)]


def test_the_grids_answer_as_testing_every_shape_in_order() -> None:
    g = gazetteer()
    italy = _points(4000, 6.0, 35.5, 19.0, 47.5)
    # Points near outlines are the hard ones: around comuni centroids, a few metres apart.
    chance = random.Random(3)
    near = [
        (c.latitude + chance.uniform(-0.05, 0.05), c.longitude + chance.uniform(-0.05, 0.05))
        for c in list(g.comuni.values())[::4]
    ]
    for lat, lon in italy + near:
        region = next((r for r in g.regions.values() if r.shape.contains(lon, lat)), None)
        assert g.region_at(lat, lon) == region
        if region is not None:
            in_region = (p for p in g.provinces.values() if p.region_code == region.code)
            province = next((p for p in in_region if p.shape.contains(lon, lat)), None)
            assert g.province_at(region, lat, lon) == province
    for lat, lon in italy[:500] + _points(1500, -180.0, -60.0, 180.0, 80.0):
        country = next(
            (c for c in g.countries.values() if c.shape and c.shape.contains(lon, lat)), None
        )
        assert g.country_at(lat, lon) == country


def test_the_nearest_comune_within_a_radius_is_the_nearest_of_all() -> None:
    g = gazetteer()
    for lat, lon in _points(400, 6.0, 35.5, 19.0, 47.5):
        for province_code in (None, "052", "054"):
            pool = [c for c in g.comuni.values() if province_code in (None, c.province_code)]
            nearest = min(pool, key=lambda c: distance_km(lat, lon, c.latitude, c.longitude))
            km = distance_km(lat, lon, nearest.latitude, nearest.longitude)
            expected = (nearest, km) if km <= 10 else None
            assert g.nearest_comune_within(lat, lon, 10, province_code) == expected
