"""Point-in-polygon and distances on plain lists of coordinates (GeoJSON order: lon, lat)."""

from __future__ import annotations

import math
from dataclasses import dataclass

Ring = list[tuple[float, float]]
Polygon = list[Ring]  # the outer ring, then its holes
MultiPolygon = list[Polygon]

EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True, slots=True)
class Shape:
    """A multipolygon with the bounding box of each polygon, for a cheap first test."""

    polygons: MultiPolygon
    boxes: tuple[tuple[float, float, float, float], ...]

    @classmethod
    def of(cls, coordinates: list[list[list[list[float]]]]) -> Shape:
        polygons = [[[(x, y) for x, y in ring] for ring in polygon] for polygon in coordinates]
        boxes = tuple(
            (
                min(x for x, _ in polygon[0]),
                min(y for _, y in polygon[0]),
                max(x for x, _ in polygon[0]),
                max(y for _, y in polygon[0]),
            )
            for polygon in polygons
        )
        return cls(polygons, boxes)

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (
            min(box[0] for box in self.boxes),
            min(box[1] for box in self.boxes),
            max(box[2] for box in self.boxes),
            max(box[3] for box in self.boxes),
        )

    def contains(self, lon: float, lat: float) -> bool:
        for polygon, (west, south, east, north) in zip(self.polygons, self.boxes, strict=True):
            if west <= lon <= east and south <= lat <= north:
                inside = False
                for ring in polygon:  # even-odd over the outer ring and its holes
                    inside ^= _crossings_odd(ring, lon, lat)
                if inside:
                    return True
        return False

    def geojson(self) -> dict[str, object]:
        return {
            "type": "MultiPolygon",
            "coordinates": [[[list(point) for point in ring] for ring in p] for p in self.polygons],
        }


def _crossings_odd(ring: Ring, lon: float, lat: float) -> bool:
    odd = False
    x_prev, y_prev = ring[-1]
    for x, y in ring:
        if (y > lat) != (y_prev > lat) and lon < (x_prev - x) * (lat - y) / (y_prev - y) + x:
            odd = not odd
        x_prev, y_prev = x, y
    return odd


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))
