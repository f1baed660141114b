"""Regions an entrant may come from: ISO 3166 codes, or Italy's regions by name.

A country code (``IT``) covers every subdivision of that country (``IT-25``); Italian region
names (``Lombardia``, ``Valle d'Aosta``, English ``Lombardy``) are read as their ISO 3166-2:IT
codes. Country codes are checked for their form only: the standard's list is not bundled.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_ISO_CODE = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")

# ISO 3166-2:IT region codes with the names people write them under.
_ITALIAN_REGIONS: dict[str, tuple[str, ...]] = {
    "IT-21": ("Piemonte", "Piedmont"),
    "IT-23": ("Valle d'Aosta", "Vallée d'Aoste", "Aosta Valley"),
    "IT-25": ("Lombardia", "Lombardy"),
    "IT-32": ("Trentino-Alto Adige", "Trentino-Südtirol", "Trentino-South Tyrol"),
    "IT-34": ("Veneto",),
    "IT-36": ("Friuli-Venezia Giulia",),
    "IT-42": ("Liguria",),
    "IT-45": ("Emilia-Romagna",),
    "IT-52": ("Toscana", "Tuscany"),
    "IT-55": ("Umbria",),
    "IT-57": ("Marche", "The Marches"),
    "IT-62": ("Lazio", "Latium"),
    "IT-65": ("Abruzzo",),
    "IT-67": ("Molise",),
    "IT-72": ("Campania",),
    "IT-75": ("Puglia", "Apulia"),
    "IT-77": ("Basilicata",),
    "IT-78": ("Calabria",),
    "IT-82": ("Sicilia", "Sicily"),
    "IT-88": ("Sardegna", "Sardinia"),
}


def _name_key(name: str) -> str:
    """Case, accents, spaces, hyphens and apostrophes do not matter in a region's name."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(char for char in decomposed.casefold() if char.isalnum())


_BY_NAME = {_name_key(name): code for code, names in _ITALIAN_REGIONS.items() for name in names}


def parse_region(value: str) -> str | None:
    """The ISO 3166 code ``value`` names, or None when it names no region we know."""
    code = value.strip().upper()
    if _ISO_CODE.match(code):
        return code
    return _BY_NAME.get(_name_key(value))


def normalise_region(value: str) -> str:
    """``parse_region`` for validators: an unknown region is a ValueError."""
    code = parse_region(value)
    if code is None:
        raise ValueError(
            f"{value!r} is neither an ISO 3166 code (IT, IT-25) nor an Italian region's name"
        )
    return code


def region_allowed(region: str, allowed: Iterable[str]) -> bool:
    """A region is allowed when listed, or when its country is listed."""
    return any(region == code or region.startswith(code + "-") for code in allowed)
