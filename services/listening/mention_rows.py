"""A raw mention's fields as a stored mention's columns: texts normalised, hashtags and accounts
without their mark, the language's ISO 639-1 code, the place and every place containing it."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from services.listening.places import PlaceResolution

_LANGUAGE = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*$")


def clean(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def names_without_mark(values: list[str], mark: str) -> list[str]:
    """Hashtags or accounts without their mark, trimmed, each once in the order given."""
    if not values:
        return []
    cleaned = (clean(value).removeprefix(mark).strip() for value in values)
    return list(dict.fromkeys(value for value in cleaned if value))


def language_code(value: str | None) -> str | None:
    """The ISO 639-1 part of what the source says (``it_IT`` is ``it``); None if unreadable."""
    if value is None:
        return None
    found = _LANGUAGE.match(value.strip())
    return found.group(1).lower() if found else None


def place_columns(place: PlaceResolution | None) -> dict[str, Any]:
    if place is None:
        return {}
    names = {
        "comune": place.comune_name,
        "province": place.province_name,
        "region": place.region_name,
        "country": place.country_name,
    }
    return {
        "place_level": place.level,
        "place_code": place.code,
        "place_name": names[place.level],
        "place_method": place.method,
        "place_confidence": place.confidence,
        "comune_code": place.comune_code,
        "comune_name": place.comune_name,
        "province_code": place.province_code,
        "province_name": place.province_name,
        "region_code": place.region_code,
        "region_name": place.region_name,
        "country_code": place.country_code,
        "country_name": place.country_name,
    }


def place_names(place: PlaceResolution | None) -> tuple[str, ...]:
    """What ``place:`` in a query can name: the place and every place containing it."""
    if place is None:
        return ()
    names = (place.comune_name, place.province_name, place.region_name, place.country_name)
    return tuple(name for name in names if name)
