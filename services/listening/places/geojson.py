"""GeoJSON for the mentions map: one Feature per place, with its counts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.listening.places.gazetteer import Gazetteer, gazetteer
from services.listening.places.model import Level, PlaceCounts


def feature_collection(counts: Mapping[str, PlaceCounts], level: Level) -> dict[str, Any]:
    """Counts keyed by the places' codes at `level` (ISTAT for Italy, ISO alpha-2 for countries)."""
    return place_feature_collection(
        {
            code: {
                "count": placed.count,
                "positive": placed.positive,
                "neutral": placed.neutral,
                "negative": placed.negative,
            }
            for code, placed in counts.items()
        },
        level,
    )


def place_feature_collection(
    properties: Mapping[str, Mapping[str, Any]], level: Level
) -> dict[str, Any]:
    """One Feature per place, keyed by its code at `level`, with `code`, `name`, `level` and the
    place's own `properties`.

    Regions, provinces and countries with an outline get it as a MultiPolygon; comuni (the files
    carry no comune outlines) and countries too small for the world map get their centroid as a
    Point. Codes the gazetteer does not know are left out.
    """
    g = gazetteer()
    features = []
    for code, own in sorted(properties.items()):
        found = _place(g, level, code)
        if found is None:
            continue
        name, geometry = found
        features.append(
            {
                "type": "Feature",
                "id": code,
                "geometry": geometry,
                "properties": {"code": code, "name": name, "level": level, **own},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _place(g: Gazetteer, level: Level, code: str) -> tuple[str, dict[str, Any] | None] | None:
    if level == "comune" and code in g.comuni:
        comune = g.comuni[code]
        return comune.name, _point(comune.latitude, comune.longitude)
    if level == "province" and code in g.provinces:
        province = g.provinces[code]
        return province.name, province.shape.geojson()
    if level == "region" and code in g.regions:
        region = g.regions[code]
        return region.name, region.shape.geojson()
    if level == "country" and code in g.countries:
        country = g.countries[code]
        if country.shape is not None:
            return country.name, country.shape.geojson()
        if country.latitude is not None and country.longitude is not None:
            return country.name, _point(country.latitude, country.longitude)
        return country.name, None
    return None


def _point(lat: float, lon: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}
