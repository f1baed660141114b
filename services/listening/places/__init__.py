"""Map Track's place resolution: where a mention is from, offline (docs/map-track.md)."""

from services.listening.places.gazetteer import Gazetteer, gazetteer
from services.listening.places.model import (
    Level,
    Locatable,
    MentionClues,
    Method,
    PlaceCounts,
    PlaceResolution,
)
from services.listening.places.resolver import resolve

__all__ = [
    "Gazetteer",
    "Level",
    "Locatable",
    "MentionClues",
    "Method",
    "PlaceCounts",
    "PlaceResolution",
    "gazetteer",
    "resolve",
]
