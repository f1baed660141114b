"""A choropleth of Italy as a PNG, for reports: regions or provinces coloured by how many
mentions they have, with a title, a legend and the most mentioned places.

Drawn offline with Pillow from the gazetteer's outlines, at twice the size and scaled down, so
edges and text are smooth. The layout is drawn for `BASE_WIDTH` and scaled to the width asked.
"""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

from services.listening.places.gazetteer import gazetteer
from services.listening.places.geometry import Ring

PictureLevel = Literal["region", "province"]
Language = Literal["it", "en"]
Colour = tuple[int, int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

BASE_WIDTH = 1200
HEIGHT_RATIO = 0.8
SUPERSAMPLE = 2
TOP_PLACES = 5
EN_DASH = "\u2013"

BACKGROUND: Colour = (255, 255, 255)
NO_DATA: Colour = (224, 224, 224)
BORDER: Colour = (255, 255, 255)
REGION_BORDER: Colour = (140, 140, 140)
INK: Colour = (33, 33, 33)
MUTED: Colour = (105, 105, 105)
# ColorBrewer YlOrRd, 5 classes: light to dark, none of them close to the grey of no data.
RAMP: tuple[Colour, ...] = (
    (254, 217, 118),
    (254, 178, 76),
    (253, 141, 60),
    (240, 59, 32),
    (189, 0, 38),
)

WORDS: dict[Language, dict[str, str]] = {
    "it": {
        "legend": "Menzioni",
        "none": "nessuna menzione",
        "empty": "Nessuna menzione nel periodo",
        "total": "Totale",
        "top": "Le più menzionate",
        "credit": "Confini © Openpolis, geojson-italy (CC BY 4.0); codici ISTAT",
    },
    "en": {
        "legend": "Mentions",
        "none": "no mentions",
        "empty": "No mentions in the period",
        "total": "Total",
        "top": "Most mentioned",
        "credit": "Boundaries © Openpolis, geojson-italy (CC BY 4.0); ISTAT codes",
    },
}

# The layout at BASE_WIDTH (x0, y0, x1, y1): the map and the legend beside it.
MAP_BOX = (20, 118, 770, 912)
LEGEND_X = 800
LEGEND_RIGHT = 1170


@dataclass(frozen=True)
class Choropleth:
    level: PictureLevel
    counts: Mapping[str, int]  # by ISTAT code at `level`; places without mentions left out
    title: str
    subtitle: str
    language: Language
    width: int


def classes(highest: int) -> list[tuple[int, int]]:
    """The legend's classes (first, last count): one per count up to five, else five at most
    of a round width (1-20, 21-40, ...)."""
    if highest <= 0:
        return []
    if highest <= len(RAMP):
        return [(n, n) for n in range(1, highest + 1)]
    width = _round_up(math.ceil(highest / len(RAMP)))
    return [(k * width + 1, (k + 1) * width) for k in range(math.ceil(highest / width))]


def _round_up(n: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``n``."""
    power = 1
    while True:
        for mantissa in (1, 2, 5):
            if mantissa * power >= n:
                return mantissa * power
        power *= 10


def class_colours(count: int) -> list[Colour]:
    if count == 1:
        return [RAMP[3]]
    return [RAMP[round(i * (len(RAMP) - 1) / (count - 1))] for i in range(count)]


@dataclass(frozen=True)
class _Fonts:
    """DejaVu Sans (the system's, else the copy in matplotlib's wheel); else Pillow's own font,
    which has no accents, with the text folded to ASCII."""

    unicode: bool

    def get(self, size: int, *, bold: bool = False) -> Font:
        return _font(size, bold, self.unicode)

    def text(self, words: str) -> str:
        if self.unicode:
            return words
        plain = words.replace(EN_DASH, "-").replace("©", "(c)")
        return unicodedata.normalize("NFKD", plain).encode("ascii", "ignore").decode()


@cache
def _font(size: int, bold: bool, unicode: bool) -> Font:
    if not unicode:
        return ImageFont.load_default(size)
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(name, size)
    except OSError:
        # A machine without the font installed: the copy matplotlib's wheel ships.
        return ImageFont.truetype(str(_bundled_fonts() / name), size)


@cache
def _bundled_fonts() -> Path:
    return Path(str(resources.files("matplotlib") / "mpl-data" / "fonts" / "ttf"))


@cache
def _fonts() -> _Fonts:
    try:
        _font(12, False, True)
        _font(12, True, True)
    except OSError:
        return _Fonts(unicode=False)
    return _Fonts(unicode=True)


@dataclass(frozen=True)
class _Projection:
    """Longitude and latitude to pixels: equirectangular, shrunk east-west by the cosine of the
    middle latitude, fitted and centred in a box."""

    west: float
    north: float
    shrink: float
    scale: float
    left: float
    top: float

    @classmethod
    def fitting(
        cls, bounds: tuple[float, float, float, float], box: tuple[int, int, int, int]
    ) -> _Projection:
        west, south, east, north = bounds
        shrink = math.cos(math.radians((south + north) / 2))
        box_width, box_height = box[2] - box[0], box[3] - box[1]
        scale = min(box_width / ((east - west) * shrink), box_height / (north - south))
        left = box[0] + (box_width - (east - west) * shrink * scale) / 2
        top = box[1] + (box_height - (north - south) * scale) / 2
        return cls(west, north, shrink, scale, left, top)

    def points(self, ring: Ring) -> list[tuple[float, float]]:
        return [
            (
                self.left + (lon - self.west) * self.shrink * self.scale,
                self.top + (self.north - lat) * self.scale,
            )
            for lon, lat in ring
        ]


def _outlines(level: PictureLevel) -> dict[str, tuple[str, list[list[Ring]]]]:
    """Each place's short name and polygons (outer ring, then holes)."""
    g = gazetteer()
    places = g.regions if level == "region" else g.provinces
    return {
        code: (place.name.split("/")[0], place.shape.polygons) for code, place in places.items()
    }


def _bounds() -> tuple[float, float, float, float]:
    boxes = [region.shape.box for region in gazetteer().regions.values()]
    return (
        min(box[0] for box in boxes),
        min(box[1] for box in boxes),
        max(box[2] for box in boxes),
        max(box[3] for box in boxes),
    )


def _fill(image: Image.Image, polygon: list[list[tuple[float, float]]], colour: Colour) -> None:
    """Fill a polygon with holes: through a mask the size of its outer ring's box."""
    xs = [x for x, _ in polygon[0]]
    ys = [y for _, y in polygon[0]]
    x0, y0 = math.floor(min(xs)), math.floor(min(ys))
    x1, y1 = math.ceil(max(xs)) + 1, math.ceil(max(ys)) + 1
    mask = Image.new("L", (x1 - x0, y1 - y0), 0)
    pen = ImageDraw.Draw(mask)
    for index, ring in enumerate(polygon):
        pen.polygon([(x - x0, y - y0) for x, y in ring], fill=0 if index else 255)
    image.paste(colour, (x0, y0, x1, y1), mask)


def _trace(
    draw: ImageDraw.ImageDraw,
    polygons: Sequence[list[list[tuple[float, float]]]],
    colour: Colour,
    width: int,
) -> None:
    for polygon in polygons:
        for ring in polygon:
            draw.line([*ring, ring[0]], fill=colour, width=width, joint="curve")


def _fitted(draw: ImageDraw.ImageDraw, words: str, font: Font, room: float) -> str:
    """``words``, cut with an ellipsis to fit ``room`` pixels."""
    if draw.textlength(words, font=font) <= room:
        return words
    while words and draw.textlength(words + "…", font=font) > room:
        words = words[:-1]
    return words.rstrip() + "…"


def _label(bounds: tuple[int, int]) -> str:
    first, last = bounds
    return str(first) if first == last else f"{first}{EN_DASH}{last}"


class _Canvas:
    """The picture at twice its size, addressed in the layout's units (`BASE_WIDTH` wide)."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.height = round(width * HEIGHT_RATIO)
        self.factor = width / BASE_WIDTH * SUPERSAMPLE
        self.image = Image.new("RGB", (width * SUPERSAMPLE, self.height * SUPERSAMPLE), BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)
        self.fonts = _fonts()

    def px(self, value: float) -> int:
        return round(value * self.factor)

    def line_width(self, value: float) -> int:
        return max(1, self.px(value))

    def write(
        self,
        x: float,
        y: float,
        words: str,
        size: int,
        *,
        right: float,
        bold: bool = False,
        colour: Colour = INK,
    ) -> None:
        """Text from (x, y), cut to end before ``right``."""
        font = self.fonts.get(self.px(size), bold=bold)
        room = self.px(right) - self.px(x)
        fitted = _fitted(self.draw, self.fonts.text(words), font, room)
        self.draw.text((self.px(x), self.px(y)), fitted, font=font, fill=colour)

    def write_right(self, right: float, y: float, words: str, size: int) -> None:
        font = self.fonts.get(self.px(size))
        start = self.px(right) - self.draw.textlength(words, font=font)
        self.draw.text((start, self.px(y)), words, font=font, fill=INK)

    def png(self) -> bytes:
        small = self.image.resize((self.width, self.height), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        small.save(buffer, format="PNG", optimize=True)
        return buffer.getvalue()


def render_choropleth(choropleth: Choropleth) -> bytes:
    """The PNG, `width` by 4/5 of it."""
    canvas = _Canvas(choropleth.width)
    words = WORDS[choropleth.language]
    counts = choropleth.counts
    legend = classes(max(counts.values(), default=0))
    colours = class_colours(len(legend))
    places = _draw_map(canvas, choropleth.level, counts, legend, colours)

    canvas.write(40, 26, choropleth.title, 34, right=BASE_WIDTH - 30, bold=True)
    canvas.write(40, 74, choropleth.subtitle, 19, right=BASE_WIDTH - 30, colour=MUTED)

    y = 150
    canvas.write(LEGEND_X, y, words["legend"], 22, right=LEGEND_RIGHT, bold=True)
    y += 42
    rows = [*zip(map(_label, legend), colours, strict=True), (words["none"], NO_DATA)]
    for row_label, colour in rows:
        canvas.draw.rectangle(
            (canvas.px(LEGEND_X), canvas.px(y), canvas.px(LEGEND_X + 34), canvas.px(y + 22)),
            fill=colour,
            outline=REGION_BORDER,
            width=canvas.line_width(1),
        )
        canvas.write(LEGEND_X + 48, y, row_label, 19, right=LEGEND_RIGHT)
        y += 34
    y += 14
    total = sum(counts.values())
    canvas.write(LEGEND_X, y, f"{words['total']}: {total}", 19, right=LEGEND_RIGHT, bold=True)
    y += 46
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_PLACES]
    if ranked:
        canvas.write(LEGEND_X, y, words["top"], 22, right=LEGEND_RIGHT, bold=True)
        y += 40
        for position, (code, count) in enumerate(ranked, start=1):
            canvas.write(LEGEND_X, y, f"{position}. {places[code]}", 19, right=LEGEND_RIGHT - 70)
            canvas.write_right(LEGEND_RIGHT, y, str(count), 19)
            y += 32
    else:
        _empty_notice(canvas, words["empty"])
    canvas.write(
        MAP_BOX[0] + 20,
        BASE_WIDTH * HEIGHT_RATIO - 28,
        words["credit"],
        14,
        right=BASE_WIDTH - 20,
        colour=MUTED,
    )
    return canvas.png()


def _draw_map(
    canvas: _Canvas,
    level: PictureLevel,
    counts: Mapping[str, int],
    legend: Sequence[tuple[int, int]],
    colours: Sequence[Colour],
) -> dict[str, str]:
    """Fill each place with its class's colour and trace the borders; the places' names."""

    def colour_of(count: int) -> Colour:
        for (_, last), colour in zip(legend, colours, strict=True):
            if count and count <= last:
                return colour
        return NO_DATA

    x0, y0, x1, y1 = MAP_BOX
    box = (canvas.px(x0), canvas.px(y0), canvas.px(x1), canvas.px(y1))
    projection = _Projection.fitting(_bounds(), box)
    places = _outlines(level)
    projected = {
        code: [[projection.points(ring) for ring in polygon] for polygon in polygons]
        for code, (_, polygons) in places.items()
    }
    for code, polygons in projected.items():
        for polygon in polygons:
            _fill(canvas.image, polygon, colour_of(counts.get(code, 0)))
    for polygons in projected.values():
        _trace(canvas.draw, polygons, BORDER, canvas.line_width(1.2))
    if level == "province":
        regions = [
            [projection.points(ring) for ring in polygon]
            for _, polygons in _outlines("region").values()
            for polygon in polygons
        ]
        _trace(canvas.draw, regions, REGION_BORDER, canvas.line_width(1.4))
    return {code: name for code, (name, _) in places.items()}


def _empty_notice(canvas: _Canvas, words: str) -> None:
    """The "no mentions" state: a notice over the middle of the map."""
    text = canvas.fonts.text(words)
    font = canvas.fonts.get(canvas.px(24), bold=True)
    half_width = canvas.draw.textlength(text, font=font) / 2 + canvas.px(24)
    half_height = canvas.px(32)
    centre_x = canvas.px((MAP_BOX[0] + MAP_BOX[2]) / 2)
    centre_y = canvas.px((MAP_BOX[1] + MAP_BOX[3]) / 2)
    canvas.draw.rounded_rectangle(
        (
            centre_x - half_width,
            centre_y - half_height,
            centre_x + half_width,
            centre_y + half_height,
        ),
        radius=canvas.px(10),
        fill=BACKGROUND,
        outline=REGION_BORDER,
        width=canvas.line_width(1.5),
    )
    canvas.draw.text((centre_x, centre_y), text, font=font, fill=INK, anchor="mm")


def pixel_at(lon: float, lat: float, width: int) -> tuple[int, int]:
    """Where a point lands in a picture `width` wide: to place a marker, or check a colour."""
    factor = width / BASE_WIDTH
    box = (
        round(MAP_BOX[0] * factor),
        round(MAP_BOX[1] * factor),
        round(MAP_BOX[2] * factor),
        round(MAP_BOX[3] * factor),
    )
    [(x, y)] = _Projection.fitting(_bounds(), box).points([(lon, lat)])
    return round(x), round(y)
