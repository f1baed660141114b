"""Which active queries take a mention (no servers): the query's sources and languages, its
expression and exclusions, places by name; each query's expressions parsed once."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from pydantic import ValidationError

from services.listening import query_language, query_matching
from services.listening.contracts import RawMention
from services.listening.ingestion import QueryMatcher
from services.listening.models import ListeningQuery


def query(expression: str, **fields: object) -> ListeningQuery:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "organization_id": uuid.uuid4(),
        "name": "q",
        "expression": expression,
        "exclusions": None,
        "terms": [],
        "channels": ["instagram"],
        "languages": [],
        "sources": ["instagram"],
        "starts_on": date(2027, 1, 1),
        "status": "active",
        "created_by": "tester",
        **fields,
    }
    return ListeningQuery(**values)


def mention(
    text: str, language: str | None = "it", places: tuple[str, ...] = ()
) -> query_matching.MentionText:
    return query_matching.MentionText(text=text, language=language, places=places)


def test_a_query_takes_a_mention_of_its_sources_and_languages_not_excluded() -> None:
    matcher = QueryMatcher()
    wine = query("vino", exclusions="offerta")
    english_only = query("vino", languages=["en"])
    from_x = query("vino", sources=["x"])
    in_siena = query("vino place:Toscana")
    queries = [wine, english_only, from_x, in_siena]

    assert matcher.matching(queries, mention("Buon vino"), "instagram") == [wine]
    assert matcher.matching(queries, mention("Vino in offerta"), "instagram") == []
    assert matcher.matching(queries, mention("Vino", language=None), "instagram") == [wine]
    tuscan = mention("Vino", places=("Siena", "Siena", "Toscana", "Italia"))
    assert matcher.matching(queries, tuscan, "instagram") == [wine, in_siena]
    assert matcher.matching(queries, mention("vino"), "x") == [from_x]


def test_each_query_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real_parse = query_language.parse

    def counting(text: str) -> query_language.Expression:
        parsed.append(text)
        return real_parse(text)

    monkeypatch.setattr(query_language, "parse", counting)
    matcher = QueryMatcher()
    wine = query("vino", exclusions="offerta")
    for _ in range(3):
        matcher.matching([wine], mention("vino"), "instagram")
    assert parsed == ["vino", "offerta"]
    wine.expression = "birra"
    assert matcher.matching([wine], mention("vino"), "instagram") == []
    assert parsed == ["vino", "offerta", "birra", "offerta"]


def test_a_raw_mention_needs_its_ids_a_date_with_a_time_zone_and_short_tags() -> None:
    base = {
        "organization_id": str(uuid.uuid4()),
        "source": "instagram",
        "external_id": "1",
        "author": {"handle": "lucia"},
        "text": "ciao",
        "published_at": "2027-03-01T09:00:00+01:00",
    }
    assert RawMention.model_validate(base).dedup_key == f"{base['organization_id']}/instagram/1"
    for broken in (
        {"published_at": "2027-03-01T09:00:00"},
        {"source": "myspace"},
        {"external_id": ""},
        {"hashtags": ["x" * 201]},
    ):
        with pytest.raises(ValidationError):
            RawMention.model_validate({**base, **broken})
