"""Point-in-polygon and distances on plain lists of coordinates (GeoJSON order: lon, lat)."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

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


@dataclass(frozen=True, slots=True)
class _Entry(Generic[T]):
    order: int
    item: T
    shape: Shape
    # The cell lies inside the shape; else an outline crosses it and the point is tested.
    inside: bool


class ShapeGrid(Generic[T]):
    """Which of many shapes first contains a point (in the order given), from a grid of square
    cells: a cell no outline crosses is inside or outside each shape as a whole, so most points
    are answered without a point-in-polygon test, and the others test only the shapes whose
    outline crosses their cell. The answers are ``Shape.contains``'s, in order."""

    def __init__(self, shapes: Sequence[tuple[T, Shape]], cell_degrees: float) -> None:
        self._size = cell_degrees
        cells: dict[tuple[int, int], dict[int, _Entry[T]]] = {}
        for order, (item, shape) in enumerate(shapes):
            for polygon, box in zip(shape.polygons, shape.boxes, strict=True):
                for cell, inside in self._cells_of(polygon, box):
                    entries = cells.setdefault(cell, {})
                    known = entries.get(order)
                    if known is None or (inside and not known.inside):
                        entries[order] = _Entry(order, item, shape, inside)
        self._cells = {
            cell: tuple(sorted(entries.values(), key=lambda entry: entry.order))
            for cell, entries in cells.items()
        }

    def _cell(self, lon: float, lat: float) -> tuple[int, int]:
        return math.floor(lon / self._size), math.floor(lat / self._size)

    def _cells_of(
        self, polygon: Polygon, box: tuple[float, float, float, float]
    ) -> list[tuple[tuple[int, int], bool]]:
        """The cells of the polygon's box that an outline crosses (False) or that lie inside it
        (True); the cells outside it are left out."""
        west, south = self._cell(box[0], box[1])
        east, north = self._cell(box[2], box[3])
        crossed: set[tuple[int, int]] = set()
        for ring in polygon:
            x_prev, y_prev = ring[-1]
            for x, y in ring:
                low_x, low_y = self._cell(min(x, x_prev), min(y, y_prev))
                high_x, high_y = self._cell(max(x, x_prev), max(y, y_prev))
                crossed.update(
                    (column, row)
                    for column in range(low_x, high_x + 1)
                    for row in range(low_y, high_y + 1)
                )
                x_prev, y_prev = x, y
        found = [(cell, False) for cell in crossed]
        for row in range(south, north + 1):
            # Even-odd along the row's middle line, as ``_crossings_odd`` counts it.
            lat = (row + 0.5) * self._size
            crossings = sorted(
                (x_prev - x) * (lat - y) / (y_prev - y) + x
                for ring in polygon
                for (x_prev, y_prev), (x, y) in zip([ring[-1], *ring[:-1]], ring, strict=True)
                if (y > lat) != (y_prev > lat)
            )
            for column in range(west, east + 1):
                if (column, row) in crossed:
                    continue
                lon = (column + 0.5) * self._size
                if (len(crossings) - bisect_right(crossings, lon)) % 2:
                    found.append(((column, row), True))
        return found

    def first_containing(self, lon: float, lat: float) -> T | None:
        for entry in self._cells.get(self._cell(lon, lat), ()):
            if entry.inside or entry.shape.contains(lon, lat):
                return entry.item
        return None


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
