"""What a mention offers to be placed, and the place it gets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Level = Literal["comune", "province", "region", "country"]
Method = Literal["coordinates", "profile", "text"]


class Locatable(Protocol):
    """Anything with these fields can be resolved: a mention row, an event, a `MentionClues`."""

    @property
    def latitude(self) -> float | None: ...

    @property
    def longitude(self) -> float | None: ...

    @property
    def profile_location(self) -> str | None: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True, slots=True)
class MentionClues:
    text: str = ""
    profile_location: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class PlaceResolution:
    """Where a mention is from.

    For Italy the ISTAT codes and names are set down to `level` (a region-level answer has no
    province or comune); `country_code` is ISO 3166-1 alpha-2 everywhere ("IT" for Italy).
    `basis` says what the answer rests on within `method`, `matched` the words that named it.
    `latitude`/`longitude` are the place's own point (a comune's centroid), not the mention's.
    """

    level: Level
    method: Method
    confidence: float
    basis: str
    country_code: str
    country_name: str
    region_code: str | None = None
    region_name: str | None = None
    province_code: str | None = None
    province_name: str | None = None
    province_abbreviation: str | None = None
    comune_code: str | None = None
    comune_name: str | None = None
    matched: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def code(self) -> str:
        """The code at the resolution's own level: ISTAT for Italy, ISO alpha-2 elsewhere."""
        by_level = {
            "comune": self.comune_code,
            "province": self.province_code,
            "region": self.region_code,
        }
        return by_level.get(self.level) or self.country_code

    def code_at(self, level: Level) -> str | None:
        """This place's code at a coarser level, for counting mentions per region and so on."""
        if level == "country":
            return self.country_code
        return {
            "comune": self.comune_code,
            "province": self.province_code,
            "region": self.region_code,
        }[level]


@dataclass(frozen=True, slots=True)
class PlaceCounts:
    """Mentions placed in one place, with their sentiment."""

    count: int
    positive: int = 0
    neutral: int = 0
    negative: int = 0
