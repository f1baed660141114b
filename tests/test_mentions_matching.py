"""Which active queries take a mention (no servers): the query's sources and languages, its
expression and exclusions, places by name; each query's expressions parsed once; a compiled
expression against a mention normalised once answers as the expression read word by word."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.listening import query_language, query_matching
from services.listening.contracts import RawMention
from services.listening.models import ListeningQuery
from services.listening.query_language import (
    Account,
    And,
    Expression,
    Hashtag,
    Lang,
    Not,
    Or,
    Phrase,
    Place,
    Term,
    normalise,
    words,
)
from services.listening.query_matcher import QueryMatcher


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


def matched(
    matcher: QueryMatcher,
    queries: list[ListeningQuery],
    mention: query_matching.MentionText,
    source: str,
) -> list[ListeningQuery]:
    """The queries taking the mention, as a batch matches them (``ready`` once, then each
    mention)."""
    taken = {query.id for query in matcher.matching(matcher.ready(queries), mention, source)}
    return [query for query in queries if query.id in taken]


def test_a_query_takes_a_mention_of_its_sources_and_languages_not_excluded() -> None:
    matcher = QueryMatcher()
    wine = query("vino", exclusions="offerta")
    english_only = query("vino", languages=["en"])
    from_x = query("vino", sources=["x"])
    in_siena = query("vino place:Toscana")
    queries = [wine, english_only, from_x, in_siena]

    assert matched(matcher, queries, mention("Buon vino"), "instagram") == [wine]
    assert matched(matcher, queries, mention("Vino in offerta"), "instagram") == []
    assert matched(matcher, queries, mention("Vino", language=None), "instagram") == [wine]
    tuscan = mention("Vino", places=("Siena", "Siena", "Toscana", "Italia"))
    assert matched(matcher, queries, tuscan, "instagram") == [wine, in_siena]
    assert matched(matcher, queries, mention("vino"), "x") == [from_x]


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
        matched(matcher, [wine], mention("vino"), "instagram")
    assert parsed == ["vino", "offerta"]
    wine.expression = "birra"
    assert matched(matcher, [wine], mention("vino"), "instagram") == []
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


def reference_matches(expression: Expression, mention: query_matching.MentionText) -> bool:
    """The rule read literally, normalising the mention again for every operand: what
    ingestion did before expressions were compiled."""
    match expression:
        case Term(text) | Phrase(text):
            wanted = words(text)
            found = words(mention.text)
            return bool(wanted) and any(
                found[start : start + len(wanted)] == wanted
                for start in range(len(found) - len(wanted) + 1)
            )
        case Hashtag(tag):
            tags = [*mention.hashtags, *query_matching._HASHTAG_IN_TEXT.findall(mention.text)]
            return normalise(tag) in {normalise(t.removeprefix("#")) for t in tags}
        case Account(handle):
            named = [*mention.accounts, *query_matching._ACCOUNT_IN_TEXT.findall(mention.text)]
            accounts = {normalise(a.removeprefix("@")) for a in named}
            if "@" in normalise(handle):
                return normalise(handle) in accounts
            return any(a.split("@")[0] == normalise(handle) for a in accounts)
        case Lang(code):
            language = mention.language or ""
            return bool(language) and query_matching._REGION.split(language)[0].lower() == code
        case Place(name):
            return bool(words(name)) and words(name) in {words(p) for p in mention.places}
        case Not(operand):
            return not reference_matches(operand, mention)
        case And(operands):
            return all(reference_matches(operand, mention) for operand in operands)
        case Or(operands):
            return any(reference_matches(operand, mention) for operand in operands)


# Few words, in several cases and accents, so expressions often match and often do not.
_WORDS = st.sampled_from(
    ["vino", "Vino", "perché", "perche", "PERCHÉ", "la", "quercia", "Quercia", "", "a b", "é"]
)
_HANDLES = st.sampled_from(["quercia", "quercia@mastodon.social", "Quercia", "poggio"])
_OPERANDS: st.SearchStrategy[Expression] = st.one_of(
    st.builds(Term, _WORDS),
    st.builds(Phrase, st.lists(_WORDS, max_size=3).map(" ".join)),
    st.builds(Hashtag, _WORDS),
    st.builds(Account, _HANDLES),
    st.builds(Lang, st.sampled_from(["it", "en"])),
    st.builds(Place, st.sampled_from(["Toscana", "San Gimignano", "siena", ""])),
)
_EXPRESSIONS: st.SearchStrategy[Expression] = st.recursive(
    _OPERANDS,
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.builds(And, st.lists(inner, min_size=2, max_size=4).map(tuple)),
        st.builds(Or, st.lists(inner, min_size=2, max_size=4).map(tuple)),
    ),
    max_leaves=12,
)
_TEXT_PIECES = st.one_of(
    _WORDS,
    _HANDLES.map(lambda handle: f"@{handle}"),
    _WORDS.map(lambda word: f"#{word}"),
    st.sampled_from([" ", ", ", "!", "e\u0301", "\u00a0"]),
    st.text(max_size=5),
)
_MENTIONS = st.builds(
    query_matching.MentionText,
    text=st.lists(_TEXT_PIECES, max_size=12).map(" ".join),
    hashtags=st.lists(_WORDS, max_size=2).map(tuple),
    accounts=st.lists(_HANDLES, max_size=2).map(tuple),
    language=st.sampled_from([None, "it", "it-IT", "en_GB", "EN", ""]),
    places=st.lists(
        st.sampled_from(["Siena", "Toscana", "San  Gimignano", "Italia"]), max_size=3
    ).map(tuple),
)


@settings(max_examples=1000, deadline=None)
@given(_EXPRESSIONS, _MENTIONS)
def test_a_compiled_expression_answers_as_the_rule_read_literally(
    expression: Expression, text: query_matching.MentionText
) -> None:
    expected = reference_matches(expression, text)
    assert query_matching.matches(expression, text) is expected
    normalised = query_matching.Normalised.of(text)
    assert query_matching.compiled(expression)(normalised) is expected


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.text(), _TEXT_PIECES))
def test_a_mention_text_has_the_words_the_query_language_reads(text: str) -> None:
    assert query_matching.text_words_of(text) == words(text)
    assert query_matching._folded(text) == normalise(text)
