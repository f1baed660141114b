"""The offline gazetteer: Italy's comuni, provinces and regions (ISTAT), the world's countries.

Loaded once from the gzip JSON files in `data/` (sources and licences in docs/data.md) and kept
for the life of the process: `gazetteer()` is cached.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal

from services.listening.places.geometry import EARTH_RADIUS_KM, Shape, ShapeGrid, distance_km
from services.listening.places.names import (
    COMUNE_ALIASES,
    COUNTRY_ALIASES,
    PROVINCE_ALIASES,
    REGION_ALIASES,
    fold_words,
)

DATA = Path(__file__).with_name("data")
ITALY = "IT"
GRID_DEGREES = 0.25
# Cells of the point-in-polygon grids: Italy's outlines are small, the world's countries large.
ITALY_SHAPE_CELL_DEGREES = 0.1
COUNTRY_SHAPE_CELL_DEGREES = 1.0

Kind = Literal["comune", "province", "region", "country", "city"]


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    latitude: float
    longitude: float
    shape: Shape


@dataclass(frozen=True, slots=True)
class Province:
    code: str
    name: str
    abbreviation: str
    region_code: str
    latitude: float
    longitude: float
    shape: Shape


@dataclass(frozen=True, slots=True)
class Comune:
    code: str
    name: str
    province_code: str
    latitude: float
    longitude: float
    population: int


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    name: str
    names: dict[str, list[str]]
    latitude: float | None
    longitude: float | None
    shape: Shape | None


@dataclass(frozen=True, slots=True)
class City:
    """A world capital or large city outside Italy (Natural Earth's populated places)."""

    name: str
    country_code: str
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Candidate:
    kind: Kind
    code: str  # ISTAT code, ISO alpha-2, or the city's index in `Gazetteer.cities`


@dataclass
class Gazetteer:
    regions: dict[str, Region]
    provinces: dict[str, Province]
    comuni: dict[str, Comune]
    countries: dict[str, Country]
    cities: list[City]
    names: dict[tuple[str, ...], list[Candidate]] = field(default_factory=dict)
    longest_name_from: dict[str, int] = field(default_factory=dict)
    province_by_abbreviation: dict[str, str] = field(default_factory=dict)
    comuni_by_province: dict[str, list[Comune]] = field(default_factory=dict)
    comuni_by_cell: dict[tuple[int, int], list[Comune]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for comune in self.comuni.values():
            for variant in _variants(comune.name):
                self._index(variant, Candidate("comune", comune.code))
            self.comuni_by_province.setdefault(comune.province_code, []).append(comune)
            self.comuni_by_cell.setdefault(_cell(comune.latitude, comune.longitude), []).append(
                comune
            )
        for province in self.provinces.values():
            for variant in _variants(province.name):
                self._index(variant, Candidate("province", province.code))
            self.province_by_abbreviation[province.abbreviation] = province.code
        for region in self.regions.values():
            for variant in _variants(region.name):
                self._index(variant, Candidate("region", region.code))
        for country in self.countries.values():
            for variants in country.names.values():
                for variant in variants:
                    self._index(variant, Candidate("country", country.code))
        for index, city in enumerate(self.cities):
            self._index(city.name, Candidate("city", str(index)))
        self._index_aliases()

    def _index_aliases(self) -> None:
        by_name = {
            "comune": {comune.name: comune.code for comune in self.comuni.values()},
            "province": {province.name: province.code for province in self.provinces.values()},
            "region": {region.name: region.code for region in self.regions.values()},
        }
        aliases: list[tuple[Kind, dict[str, str]]] = [
            ("comune", COMUNE_ALIASES),
            ("province", PROVINCE_ALIASES),
            ("region", REGION_ALIASES),
        ]
        for kind, table in aliases:
            for alias, official in table.items():
                self._index(alias, Candidate(kind, by_name[kind][official]))
        for code, country_aliases in COUNTRY_ALIASES.items():
            if code not in self.countries:
                raise ValueError(f"country alias for unknown code {code}")
            for alias in country_aliases:
                self._index(alias, Candidate("country", code))

    def _index(self, name: str, candidate: Candidate) -> None:
        key = fold_words(name)
        if not key:
            return
        candidates = self.names.setdefault(key, [])
        if candidate not in candidates:
            candidates.append(candidate)
        self.longest_name_from[key[0]] = max(self.longest_name_from.get(key[0], 0), len(key))

    @cached_property
    def _region_grid(self) -> ShapeGrid[Region]:
        return ShapeGrid(
            [(region, region.shape) for region in self.regions.values()],
            ITALY_SHAPE_CELL_DEGREES,
        )

    @cached_property
    def _province_grids(self) -> dict[str, ShapeGrid[Province]]:
        return {
            region: ShapeGrid(
                [(p, p.shape) for p in self.provinces.values() if p.region_code == region],
                ITALY_SHAPE_CELL_DEGREES,
            )
            for region in self.regions
        }

    @cached_property
    def _country_grid(self) -> ShapeGrid[Country]:
        return ShapeGrid(
            [(c, c.shape) for c in self.countries.values() if c.shape is not None],
            COUNTRY_SHAPE_CELL_DEGREES,
        )

    def region_at(self, lat: float, lon: float) -> Region | None:
        return self._region_grid.first_containing(lon, lat)

    def province_at(self, region: Region, lat: float, lon: float) -> Province | None:
        return self._province_grids[region.code].first_containing(lon, lat)

    def country_at(self, lat: float, lon: float) -> Country | None:
        return self._country_grid.first_containing(lon, lat)

    def nearest_comune_within(
        self, lat: float, lon: float, km: float, province_code: str | None = None
    ) -> tuple[Comune, float] | None:
        """The comune whose centroid is nearest (within the province, if one is given) when it
        is at most ``km`` away, else None; only the grid cells that can hold a centroid that
        close are searched."""
        lat_degrees = math.degrees(km / EARTH_RADIUS_KM)
        # Two points whose longitudes differ by d are at least 2R asin(cos(φ) sin(d/2)) apart,
        # φ the larger |latitude| of the two.
        poleward = min(abs(lat) + lat_degrees, 90.0)
        reach = math.sin(km / (2 * EARTH_RADIUS_KM)) / max(math.cos(math.radians(poleward)), 1e-9)
        lon_degrees = 360.0 if reach >= 1 else math.degrees(2 * math.asin(reach))
        pool = [
            comune
            for comune in self._comuni_around(
                lat,
                lon,
                math.ceil(lat_degrees / GRID_DEGREES),
                math.ceil(lon_degrees / GRID_DEGREES),
            )
            # Farther in latitude or longitude alone than ``km`` allows: not worth a distance.
            if abs(comune.latitude - lat) <= lat_degrees
            and abs(comune.longitude - lon) <= lon_degrees
            and province_code in (None, comune.province_code)
        ]
        nearest = _nearest(pool, lat, lon)
        return nearest if nearest is not None and nearest[1] <= km else None

    def _comuni_around(self, lat: float, lon: float, rows: int, columns: int) -> list[Comune]:
        row, column = _cell(lat, lon)
        return [
            comune
            for d_row in range(-rows, rows + 1)
            for d_column in range(-columns, columns + 1)
            for comune in self.comuni_by_cell.get((row + d_row, column + d_column), [])
        ]


def _nearest(pool: list[Comune], lat: float, lon: float) -> tuple[Comune, float] | None:
    if not pool:
        return None
    return min(
        ((c, distance_km(lat, lon, c.latitude, c.longitude)) for c in pool),
        key=lambda pair: pair[1],
    )


def _variants(name: str) -> list[str]:
    """An ISTAT name and, for bilingual ones ("Bolzano/Bozen"), each language's name."""
    parts = [part.strip() for part in name.split("/")]
    return [name, *parts] if len(parts) > 1 else [name]


def _cell(lat: float, lon: float) -> tuple[int, int]:
    return int(lat // GRID_DEGREES), int(lon // GRID_DEGREES)


def _read(name: str) -> list[Any]:
    rows: list[Any] = json.loads(gzip.decompress((DATA / f"{name}.json.gz").read_bytes()))
    return rows


@cache
def gazetteer() -> Gazetteer:
    regions = {
        code: Region(code, name, lat, lon, Shape.of(polygons))
        for code, name, lat, lon, polygons in _read("regions")
    }
    provinces = {
        code: Province(code, name, abbreviation, region, lat, lon, Shape.of(polygons))
        for code, name, abbreviation, region, lat, lon, polygons in _read("provinces")
    }
    comuni = {
        code: Comune(code, name, province, lat, lon, population)
        for code, name, province, lat, lon, population in _read("comuni")
    }
    countries = {
        code: Country(
            code,
            names["it"][0],
            names,
            lat,
            lon,
            Shape.of(polygons) if polygons else None,
        )
        for code, names, lat, lon, polygons in _read("countries")
    }
    cities = [City(name, code, lat, lon) for name, code, lat, lon in _read("world_cities")]
    return Gazetteer(regions, provinces, comuni, countries, cities)


def comune_chain(g: Gazetteer, code: str) -> tuple[Comune, Province, Region]:
    comune = g.comuni[code]
    province = g.provinces[comune.province_code]
    return comune, province, g.regions[province.region_code]
