"""The offline gazetteer: Italy's comuni, provinces and regions (ISTAT), the world's countries.

Loaded once from the gzip JSON files in `data/` (sources and licences in docs/data.md) and kept
for the life of the process: `gazetteer()` is cached.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from services.listening.places.geometry import Shape, distance_km
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

    def region_at(self, lat: float, lon: float) -> Region | None:
        return next((r for r in self.regions.values() if r.shape.contains(lon, lat)), None)

    def province_at(self, region: Region, lat: float, lon: float) -> Province | None:
        in_region = (p for p in self.provinces.values() if p.region_code == region.code)
        return next((p for p in in_region if p.shape.contains(lon, lat)), None)

    def country_at(self, lat: float, lon: float) -> Country | None:
        return next(
            (c for c in self.countries.values() if c.shape and c.shape.contains(lon, lat)), None
        )

    def nearest_comune(
        self, lat: float, lon: float, province_code: str | None = None
    ) -> tuple[Comune, float] | None:
        """The comune whose centroid is nearest: within a province, or among those nearby."""
        if province_code is not None:
            pool = self.comuni_by_province.get(province_code, [])
        else:
            row, column = _cell(lat, lon)
            pool = [
                comune
                for d_row in (-1, 0, 1)
                for d_column in (-1, 0, 1)
                for comune in self.comuni_by_cell.get((row + d_row, column + d_column), [])
            ]
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
