"""Place a mention: its coordinates, else its author's profile location, else the names in its text.

How each answer is reached and how its confidence is computed is described in docs/map-track.md;
the numbers below are the ones that page explains.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from services.listening.places.gazetteer import (
    ITALY,
    Candidate,
    Comune,
    Gazetteer,
    Province,
    Region,
    comune_chain,
    gazetteer,
)
from services.listening.places.model import Level, Locatable, Method, PlaceResolution
from services.listening.places.names import (
    COMMON_PHRASES,
    COMMON_WORDS,
    PROVINCE_WORDS,
    STREET_WORDS,
    WORD,
    fold_word,
    fold_words,
)

# Coordinates
POLYGON_CONFIDENCE = 0.95
COUNTRY_POLYGON_CONFIDENCE = 0.85
NEAREST_COMUNE_RADIUS_KM = 10.0

# Names: how much the form of the words alone is worth (see docs/map-track.md)
PROFILE_FIELD = 0.85
PROFILE_WORDS = 0.7
TEXT_CAPITALISED_PHRASE = 0.7
TEXT_CAPITALISED_WORD = 0.6
TEXT_HASHTAG = 0.55
TEXT_SENTENCE_START = 0.45
TEXT_LOWERCASE_PHRASE = 0.4
SUPPORTED_BONUS = 0.1
CONFLICT_PENALTY = 0.1
MAX_CONFIDENCE = 0.95

SEGMENT_SEPARATORS = re.compile(r"[,;|/·•()\[\]\n]| - | \u2013 | \u2014 ")
SENTENCE_END = frozenset('.!?:;\n"«“')
SPECIFICITY: dict[Level, int] = {"country": 0, "region": 1, "province": 2, "comune": 3}


def resolve(mention: Locatable) -> PlaceResolution | None:
    """The most trustworthy place a mention offers, or None when it names none."""
    places = gazetteer()
    lat, lon = mention.latitude, mention.longitude
    if lat is not None and lon is not None and _valid(lat, lon):
        found = _from_coordinates(places, lat, lon)
        if found is not None:
            return found
    if mention.profile_location:
        found = _from_profile(mention.profile_location)
        if found is not None:
            return found
    if mention.text:
        return _from_names(places, mention.text, "text")
    return None


# Authors write the same few profile locations again and again (each of their mentions carries
# it): each is read once per process.
@lru_cache(maxsize=8192)
def _from_profile(profile: str) -> PlaceResolution | None:
    return _from_names(gazetteer(), profile, "profile")


def _valid(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


# --- coordinates -------------------------------------------------------------------------------


def _from_coordinates(g: Gazetteer, lat: float, lon: float) -> PlaceResolution | None:
    region = g.region_at(lat, lon)
    if region is not None:
        province = g.province_at(region, lat, lon)
        if province is None:  # a sliver between simplified province outlines
            return _resolved(
                g, "region", region.code, "coordinates", POLYGON_CONFIDENCE, "region-polygon"
            )
        nearest = g.nearest_comune_within(lat, lon, NEAREST_COMUNE_RADIUS_KM, province.code)
        if nearest is not None:
            comune, km = nearest
            return _resolved(
                g,
                "comune",
                comune.code,
                "coordinates",
                _nearness(km, 0.5, 0.4),
                "province-polygon+nearest-comune-centroid",
            )
        return _resolved(
            g, "province", province.code, "coordinates", POLYGON_CONFIDENCE, "province-polygon"
        )
    country = g.country_at(lat, lon)
    if country is not None and country.code != ITALY:
        return _resolved(
            g, "country", country.code, "coordinates", COUNTRY_POLYGON_CONFIDENCE, "country-polygon"
        )
    # On Italy's coast (the outlines are simplified) or offshore: the nearest comune, if close.
    nearest = g.nearest_comune_within(lat, lon, NEAREST_COMUNE_RADIUS_KM)
    if nearest is not None:
        comune, km = nearest
        return _resolved(
            g,
            "comune",
            comune.code,
            "coordinates",
            _nearness(km, 0.4, 0.3),
            "nearest-comune-centroid",
        )
    if country is not None:
        return _resolved(
            g, "country", ITALY, "coordinates", COUNTRY_POLYGON_CONFIDENCE, "country-polygon"
        )
    return None


def _nearness(km: float, floor: float, span: float) -> float:
    return round(floor + span * (1 - km / NEAREST_COMUNE_RADIUS_KM), 2)


# --- names -------------------------------------------------------------------------------------


class _Token(NamedTuple):
    """A word of the text (a tuple: a text has dozens, each built on every mention)."""

    folded: str
    original: str
    start: int


@dataclass(frozen=True, slots=True)
class _Match:
    candidates: list[Candidate]
    surface: str
    strength: float
    province_hint: str | None = None
    wants_province: bool = False


@dataclass(frozen=True, slots=True)
class _Placed:
    match: _Match
    candidate: Candidate
    certainty: float  # 1 when unambiguous, the population share among same-named comuni else


def _from_names(g: Gazetteer, text: str, method: Method) -> PlaceResolution | None:
    matches = _matches(g, text, method)
    if method == "profile":
        matches = _profile_fields(g, text) + matches
    if not matches:
        return None
    placed = _place(g, matches)
    chains = {id(p): _chain(g, p.candidate) for p in placed}

    def supported(p: _Placed) -> bool:
        """Another name in the mention contains this place ("Gubbio, Umbria"), or the
        province's abbreviation follows it ("Gubbio (PG)")."""
        own = chains[id(p)]
        hinted = p.match.province_hint is not None and f"p{p.match.province_hint}" in own
        return hinted or any(
            chains[id(other)] < own for other in placed if other.candidate != p.candidate
        )

    def score(p: _Placed) -> float:
        return (
            p.match.strength * p.certainty
            + SUPPORTED_BONUS * supported(p)
            + 0.02 * SPECIFICITY[_level(p.candidate)]
        )

    best = max(placed, key=score)
    # A place inside the best one is more precise and agrees with it ("Umbria ... Gubbio").
    inside = [p for p in placed if chains[id(p)] > chains[id(best)]]
    if inside:
        best = max(inside, key=lambda p: (len(chains[id(p)]), score(p)))
    best_chain = chains[id(best)]
    rivals = any(not (chains[id(p)] <= best_chain or best_chain <= chains[id(p)]) for p in placed)
    confidence = best.match.strength * best.certainty + SUPPORTED_BONUS * supported(best)
    confidence -= CONFLICT_PENALTY * rivals
    confidence = round(max(0.05, min(MAX_CONFIDENCE, confidence)), 2)
    return _result(g, best.candidate, method, confidence, best.match.surface)


def _matches(g: Gazetteer, text: str, method: Method) -> list[_Match]:
    tokens = [_Token(fold_word(m.group()), m.group(), m.start()) for m in WORD.finditer(text)]
    found: list[_Match] = []
    i = 0
    while i < len(tokens):
        longest = min(g.longest_name_from.get(tokens[i].folded, 0), len(tokens) - i)
        for n in range(longest, 0, -1):
            candidates = g.names.get(tuple(t.folded for t in tokens[i : i + n]))
            if candidates is None:
                continue
            match = _judge(g, text, tokens, i, n, candidates, method)
            if match is not None:
                found.append(match)
                i += n
                break
        else:
            i += 1
    return found


def _judge(
    g: Gazetteer,
    text: str,
    tokens: list[_Token],
    i: int,
    n: int,
    candidates: list[Candidate],
    method: Method,
) -> _Match | None:
    """Whether the words at tokens[i:i+n] name the place, and how strongly their form says so."""
    words = tokens[i : i + n]
    previous = tokens[i - 1].folded if i > 0 else None
    if previous in STREET_WORDS:
        return None
    hint = _abbreviation_after(g, tokens, i + n)
    key = tuple(t.folded for t in words)
    if (n == 1 and key[0] in COMMON_WORDS) or key in COMMON_PHRASES:
        in_hinted = hint is not None and any(
            c.kind == "comune" and g.comuni[c.code].province_code == hint for c in candidates
        )
        if not in_hinted:
            return None
    first = words[0].original
    before = text[: words[0].start].rstrip()
    hashtag = before.endswith("#")
    capitalised = first[0].isupper()
    sentence_start = not before or before[-1] in SENTENCE_END
    if method == "profile":
        strength = PROFILE_WORDS
    elif hashtag:
        strength = TEXT_HASHTAG
    elif not capitalised:
        if n == 1:
            return None
        strength = TEXT_LOWERCASE_PHRASE
    elif sentence_start and n == 1:
        strength = TEXT_SENTENCE_START
    elif n > 1:
        strength = TEXT_CAPITALISED_PHRASE
    else:
        strength = TEXT_CAPITALISED_WORD
    if n == 1 and len(first) < 3 and not (first.isupper() or method == "profile"):
        return None
    surface = text[words[0].start : words[-1].start + len(words[-1].original)]
    wants_province = previous in PROVINCE_WORDS or (
        previous in {"di", "of"} and i > 1 and tokens[i - 2].folded in PROVINCE_WORDS
    )
    return _Match(candidates, surface, strength, hint, wants_province)


def _abbreviation_after(g: Gazetteer, tokens: list[_Token], j: int) -> str | None:
    """A province abbreviation right after a name, as in "Gubbio (PG)" or "Bra, CN"."""
    if j < len(tokens):
        word = tokens[j].original
        if len(word) == 2 and word.isupper():
            return g.province_by_abbreviation.get(word)
    return None


def _profile_fields(g: Gazetteer, profile: str) -> list[_Match]:
    """Fields of a profile location that are exactly a place's name ("Milano, Italia")."""
    found = []
    for field in SEGMENT_SEPARATORS.split(profile):
        key = fold_words(field)
        candidates = g.names.get(key) if key else None
        if candidates:
            found.append(_Match(candidates, field.strip(), PROFILE_FIELD))
    return found


def _place(g: Gazetteer, matches: list[_Match]) -> list[_Placed]:
    """Pick one candidate for each match, using the other matches as context."""
    context_regions = {c.code for m in matches for c in m.candidates if c.kind == "region"}
    context_provinces = {c.code for m in matches for c in m.candidates if c.kind == "province"}
    context_provinces |= {m.province_hint for m in matches if m.province_hint}
    italian_context = bool(context_regions or context_provinces) or any(
        c == Candidate("country", ITALY) for m in matches for c in m.candidates
    )
    placed = []
    for match in matches:
        kinds = {c.kind for c in match.candidates}
        comuni = [c for c in match.candidates if c.kind == "comune"]
        if match.wants_province and "province" in kinds:
            chosen = [c for c in match.candidates if c.kind == "province"]
        elif "region" in kinds:
            chosen = [c for c in match.candidates if c.kind == "region"]
        elif comuni and ("country" not in kinds or italian_context):
            chosen = comuni
        elif "province" in kinds:
            chosen = [c for c in match.candidates if c.kind == "province"]
        elif "country" in kinds:
            chosen = [c for c in match.candidates if c.kind == "country"]
        else:
            chosen = match.candidates
        if len(chosen) > 1 and chosen[0].kind == "comune":
            placed.append(_pick_comune(g, match, chosen, context_regions, context_provinces))
        else:
            placed.append(_Placed(match, chosen[0], 1.0))
    return placed


def _pick_comune(
    g: Gazetteer,
    match: _Match,
    comuni: list[Candidate],
    context_regions: set[str],
    context_provinces: set[str],
) -> _Placed:
    """Same-named comuni: the one the context points to, else the most populous."""

    def in_context(c: Candidate) -> bool:
        province = g.provinces[g.comuni[c.code].province_code]
        hinted = match.province_hint in (None, province.code)
        return hinted and (
            province.code in context_provinces or province.region_code in context_regions
        )

    pointed = [c for c in comuni if in_context(c)]
    if len(pointed) == 1:
        return _Placed(match, pointed[0], 1.0)
    pool = pointed or comuni
    populations = [g.comuni[c.code].population for c in pool]
    best = max(range(len(pool)), key=populations.__getitem__)
    share = populations[best] / max(1, sum(populations))
    return _Placed(match, pool[best], max(0.5, share))


def _level(candidate: Candidate) -> Level:
    if candidate.kind == "city":
        return "country"
    return candidate.kind


def _chain(g: Gazetteer, candidate: Candidate) -> frozenset[str]:
    """The place and everything containing it, as tagged codes, to compare places by inclusion."""
    if candidate.kind == "comune":
        comune, province, region = comune_chain(g, candidate.code)
        return frozenset({f"c{comune.code}", f"p{province.code}", f"r{region.code}", ITALY})
    if candidate.kind == "province":
        province = g.provinces[candidate.code]
        return frozenset({f"p{province.code}", f"r{province.region_code}", ITALY})
    if candidate.kind == "region":
        return frozenset({f"r{candidate.code}", ITALY})
    if candidate.kind == "city":
        return frozenset({g.cities[int(candidate.code)].country_code})
    return frozenset({candidate.code})


def _result(
    g: Gazetteer, candidate: Candidate, method: Method, confidence: float, matched: str
) -> PlaceResolution:
    if candidate.kind == "comune":
        return _resolved(g, "comune", candidate.code, method, confidence, "name", matched)
    if candidate.kind == "province":
        return _resolved(g, "province", candidate.code, method, confidence, "name", matched)
    if candidate.kind == "region":
        return _resolved(g, "region", candidate.code, method, confidence, "name", matched)
    if candidate.kind == "city":
        city = g.cities[int(candidate.code)]
        return _resolved(g, "country", city.country_code, method, confidence, "city-name", matched)
    return _resolved(g, "country", candidate.code, method, confidence, "name", matched)


# --- building results --------------------------------------------------------------------------


def _resolved(
    g: Gazetteer,
    level: Level,
    code: str,
    method: Method,
    confidence: float,
    basis: str,
    matched: str | None = None,
) -> PlaceResolution:
    """The answer at ``level`` for the place ``code``: for Italy with the codes and names of every
    coarser level too; the point is the place's own."""
    if level == "country":
        country = g.countries[code]
        return PlaceResolution(
            level=level,
            method=method,
            confidence=confidence,
            basis=basis,
            country_code=country.code,
            country_name=country.name,
            matched=matched,
            latitude=country.latitude,
            longitude=country.longitude,
        )
    place: Comune | Province | Region
    comune: Comune | None = None
    province: Province | None = None
    if level == "comune":
        comune, province, region = comune_chain(g, code)
        place = comune
    elif level == "province":
        place = province = g.provinces[code]
        region = g.regions[province.region_code]
    else:
        place = region = g.regions[code]
    return PlaceResolution(
        level=level,
        method=method,
        confidence=confidence,
        basis=basis,
        country_code=ITALY,
        country_name=g.countries[ITALY].name,
        region_code=region.code,
        region_name=region.name,
        province_code=province.code if province else None,
        province_name=province.name if province else None,
        province_abbreviation=province.abbreviation if province else None,
        comune_code=comune.code if comune else None,
        comune_name=comune.name if comune else None,
        matched=matched,
        latitude=place.latitude,
        longitude=place.longitude,
    )
