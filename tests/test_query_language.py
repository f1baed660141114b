"""The listening query language: what it parses to, its canonical text, its errors (position,
expected, found), its bounds, and what a parsed expression matches."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.listening.query_language import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_OPERAND_LENGTH,
    MAX_OPERANDS,
    Account,
    And,
    Expression,
    Hashtag,
    Lang,
    Not,
    Or,
    Phrase,
    Place,
    QuerySyntaxError,
    Term,
    expression_from_terms,
    is_anchored,
    parse,
    searched_terms,
)
from services.listening.query_matching import MentionText, matches

a, b, c = Term("a"), Term("b"), Term("c")


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("vino", Term("vino")),
        ('"La Quercia"', Phrase("La Quercia")),
        ("#vendemmia2027", Hashtag("vendemmia2027")),
        ("@quercia", Account("quercia")),
        ("@quercia@mastodon.social", Account("quercia@mastodon.social")),
        ("@la.quercia-vini", Account("la.quercia-vini")),
        ("lang:IT", Lang("it")),
        ("place:Siena", Place("Siena")),
        ('place:"San  Gimignano"', Place("San Gimignano")),
        ("l'agriturismo", Term("l'agriturismo")),
        ("10:30", Term("10:30")),
        # NOT binds tighter than AND, AND tighter than OR.
        ("a OR b AND c", Or((a, And((b, c))))),
        ("a AND b OR c", Or((And((a, b)), c))),
        ("NOT a AND b", And((Not(a), b))),
        ("NOT (a OR b)", Not(Or((a, b)))),
        ("NOT NOT a", Not(Not(a))),
        # Side by side is AND, also before NOT and a parenthesis.
        ("a b", And((a, b))),
        ("a NOT b", And((a, Not(b)))),
        ("a (b OR c)", And((a, Or((b, c))))),
        ("a b OR c", Or((And((a, b)), c))),
        # One tree per expression: nested ANDs and ORs are flat.
        ("a AND (b AND c)", And((a, b, c))),
        ("(a OR b) OR c", Or((a, b, c))),
        ("((a))", a),
        # Operators are upper case: anything else is a word.
        ("a and b", And((a, Term("and"), b))),
        ("Or", Term("Or")),
        ('"AND"', Phrase("AND")),
        ('"say \\"ciao\\" \\\\ ok"', Phrase('say "ciao" \\ ok')),
        ('"a"b', And((Phrase("a"), b))),
    ],
)
def test_expressions_parse_to_their_trees(text: str, tree: Expression) -> None:
    assert parse(text) == tree
    assert parse(str(tree)) == tree


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        (
            '"La Quercia"  (vino OR #vendemmia) NOT @rival lang:it',
            '"La Quercia" AND (vino OR #vendemmia) AND NOT @rival AND lang:it',
        ),
        ("a OR b c", "a OR (b AND c)"),
        ("(a OR b) c", "(a OR b) AND c"),
        ("NOT (a b)", "NOT (a AND b)"),
        ('place:"Siena"', "place:Siena"),
        ('place:"San Gimignano"', 'place:"San Gimignano"'),
        ('"  due   parole "', '"due parole"'),
        ('"say \\"ciao\\""', '"say \\"ciao\\""'),
    ],
)
def test_the_canonical_text_is_explicit_and_parses_back(text: str, canonical: str) -> None:
    assert str(parse(text)) == canonical
    assert str(parse(canonical)) == canonical


@pytest.mark.parametrize(
    ("text", "position", "expected", "found"),
    [
        ("", 0, "a word, a phrase", "the end of the expression"),
        ("vino AND", 8, "a word, a phrase", "the end of the expression"),
        ("vino OR OR rosso", 8, "a word, a phrase", '"OR"'),
        ("()", 1, "a word, a phrase", '")"'),
        ("(vino OR rosso", 14, '")" to close the parenthesis at position 0', "the end"),
        ("vino)", 4, "the end of the expression (no parenthesis is open)", '")"'),
        ('vino "rosso', 11, 'a closing " for the phrase opened at position 5', "the end"),
        ('"a\\nb"', 2, '\\" or \\\\', '"\\n"'),
        ('""', 0, "a phrase with some text", '""'),
        ('"   "', 0, "a phrase with some text", '""'),
        ("#", 0, "a #hashtag", '"#"'),
        ("#vino-rosso", 0, "a #hashtag", '"#vino-rosso"'),
        ("@", 0, "an @account", '"@"'),
        ("@quercia.", 0, "an @account", '"@quercia."'),
        ("lang:ita", 5, "an ISO 639-1 language code", '"ita"'),
        ("lang:" + "x" * 100, 5, "an ISO 639-1 language code", '"xxxxxxxx'),
        ("lang:", 5, "an ISO 639-1 language code", "nothing"),
        ("vino place:", 11, "a place name", '"place:"'),
        ("site:quercia.it", 0, "lang: or place: (quote site: to search for it)", '"site:"'),
        ("https://quercia.it", 0, "lang: or place:", '"https:"'),
        ("vino - rosso", 5, "a word needs a letter or digit", '"-"'),
        ("vino && rosso", 5, "a word needs a letter or digit", '"&&"'),
    ],
)
def test_errors_name_the_position_what_was_expected_and_what_was_found(
    text: str, position: int, expected: str, found: str
) -> None:
    with pytest.raises(QuerySyntaxError) as raised:
        parse(text)

    error = raised.value
    assert error.position == position
    assert expected in error.expected
    assert error.found.startswith(found)
    assert str(error) == f"at position {position}: expected {error.expected}, found {error.found}"


def test_a_long_phrase_is_quoted_shortened_in_an_error() -> None:
    with pytest.raises(QuerySyntaxError) as raised:
        parse("a OR " * MAX_OPERANDS + '"' + "molto " * 20 + '"')
    assert raised.value.found.endswith("…")
    assert len(raised.value.found) == 40


def test_expressions_are_bounded() -> None:
    with pytest.raises(QuerySyntaxError, match=f"at position {MAX_LENGTH}: .*at most"):
        parse("a " * (MAX_LENGTH // 2 + 1))
    with pytest.raises(QuerySyntaxError, match="nested parentheses"):
        parse("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(QuerySyntaxError, match="nested at most"):
        parse("a " + "NOT " * (MAX_DEPTH + 1) + "b")
    with pytest.raises(QuerySyntaxError, match=f"at most {MAX_OPERANDS} operands"):
        parse(" OR ".join(["a"] * (MAX_OPERANDS + 1)))
    with pytest.raises(QuerySyntaxError, match=f"at most {MAX_OPERAND_LENGTH} characters"):
        parse('"' + "a" * (MAX_OPERAND_LENGTH + 1) + '"')
    # A short text whose canonical form (an AND between every two words) would be too long.
    with pytest.raises(QuerySyntaxError, match="once written out in full"):
        parse(" ".join(["ab"] * (MAX_OPERANDS - 5) + ["x" * MAX_OPERAND_LENGTH] * 5))
    assert parse("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH) == a


def test_the_searched_terms_are_the_operands_not_excluded() -> None:
    expression = parse(
        '"La Quercia" (vino OR Vino OR #vendemmia) NOT (@rival OR spam) NOT NOT @quercia lang:it '
        "place:Siena"
    )
    assert searched_terms(expression) == ["La Quercia", "vino", "#vendemmia", "@quercia"]


@pytest.mark.parametrize(
    ("text", "anchored"),
    [
        ("vino", True),
        ("vino lang:it", True),
        ("lang:it", False),
        ("NOT spam", False),
        ("vino OR lang:it", False),
        ("(vino OR #rosso) NOT spam place:Siena", True),
        ("NOT NOT vino", False),
    ],
)
def test_an_expression_is_anchored_when_every_match_contains_an_operand(
    text: str, anchored: bool
) -> None:
    assert is_anchored(parse(text)) is anchored


def test_terms_make_an_expression_that_listens_for_any_of_them() -> None:
    expression = expression_from_terms(
        ["Agriturismo La Quercia", "#vendemmia2027", "@quercia", "vino", 'il "vero"  rosso', "#"]
    )
    assert str(expression) == (
        '"Agriturismo La Quercia" OR #vendemmia2027 OR @quercia OR "vino" OR '
        '"il \\"vero\\" rosso" OR "#"'
    )
    assert parse(str(expression)) == expression
    assert expression_from_terms(["vino"]) == Phrase("vino")


@pytest.mark.parametrize(
    ("expression", "text", "expected"),
    [
        # Words: whole words, any case, any accent.
        ("vino", "Il VINO della casa", True),
        ("vino", "vinoteca", False),
        ("perche", "Perché no?", True),
        ("Perché", "perche no", True),
        ("citta", "La CITTÀ di Siena", True),
        ("l'agriturismo", "All'agriturismo l\u2019agriturismo", True),
        ("l'agriturismo", "l agriturismo", True),
        # Phrases: their words side by side, in order.
        ('"La Quercia"', "Cena alla quercia, la quercia!", True),
        ('"La Quercia"', "La grande quercia", False),
        ('"quercia la"', "la quercia", False),
        ('"vino rosso"', "vino, rosso", True),
        # Boolean structure.
        ("vino NOT rosso", "vino bianco", True),
        ("vino NOT rosso", "vino rosso", False),
        ("vino OR birra", "una birra", True),
        ("(vino OR birra) cena", "una birra", False),
        ("NOT NOT vino", "vino", True),
        # Hashtags found in the text, never as words of it and never inside a word.
        ("#vendemmia", "Si parte! #Vendemmia", True),
        ("#vendemmia", "la vendemmia", False),
        ("vendemmia", "#vendemmia", True),
        ("#caffe", "#Caffè", True),
        ("#vino", "#vinorosso", False),
        ("#vino", "a#vino", False),
        # Accounts found in the text; a name without instance is that name on any instance.
        ("@quercia", "grazie @Quercia!", True),
        ("@quercia", "scrivi a info@quercia.it", False),
        ("@quercia", "ciao @quercia@mastodon.social", True),
        ("@quercia@mastodon.social", "ciao @quercia@other.social", False),
        ("@quercia@mastodon.social", "ciao @quercia", False),
    ],
)
def test_what_a_text_matches(expression: str, text: str, expected: bool) -> None:
    assert matches(parse(expression), MentionText(text)) is expected


def test_hashtags_accounts_languages_and_places_of_the_mention_are_matched() -> None:
    tagged = MentionText(
        "Che serata",
        hashtags=("#Vendemmia2027", "toscana"),
        accounts=("@Quercia", "rival@vino.social"),
        language="it-IT",
        places=("Montalcino", "San Gimignano", "Toscana"),
    )
    for text in (
        "#vendemmia2027",
        "#TOSCANA",
        "@quercia",
        "@rival",
        "@rival@vino.social",
        "lang:it",
        "place:montalcino",
        'place:"san gimignano"',
        'place:"San-Gimignano"',
        "serata lang:it place:Toscana NOT place:Siena",
    ):
        assert matches(parse(text), tagged), text
    for text in ("lang:en", "place:San", "place:Siena", "#vendemmia", "@vino"):
        assert not matches(parse(text), tagged), text
    assert not matches(parse("lang:it"), MentionText("Che serata"))
    assert matches(parse("lang:it"), MentionText("Che serata", language="IT_it"))
    # A place with no name to match matches no place, even one without a name.
    assert not matches(parse('place:"!!"'), MentionText("Che serata", places=("", "?")))


# Operands and operators as a query author writes them, with the characters that trip parsers.
_PIECES = st.sampled_from(
    [
        "vino",
        "Perché",
        "AND",
        "OR",
        "NOT",
        "and",
        "(",
        ")",
        '"',
        '\\"',
        "\\",
        "#",
        "#tag",
        "@",
        "@acc",
        "@a@b.c",
        "lang:",
        "lang:it",
        "place:",
        'place:"',
        "site:",
        ":",
        "-",
        ".",
        " ",
        "  ",
        "\t",
        "\n",
        "\u00a0",
        "é",
        "e\u0301",
    ]
)
_QUERIES = st.one_of(st.text(max_size=300), st.lists(_PIECES, max_size=60).map("".join))


def parsed(text: str) -> Expression | QuerySyntaxError:
    """The tree of the text, or the syntax error it is; any other exception fails the test."""
    try:
        return parse(text)
    except QuerySyntaxError as error:
        return error


@settings(max_examples=1000, deadline=None)
@given(_QUERIES)
def test_any_text_parses_or_is_a_syntax_error_and_parses_back_the_same(text: str) -> None:
    expression = parsed(text)
    if isinstance(expression, QuerySyntaxError):
        assert 0 <= expression.position <= max(len(text), MAX_LENGTH)
        return
    canonical = str(expression)
    assert parse(canonical) == expression
    assert str(parse(canonical)) == canonical


@settings(max_examples=300, deadline=None)
@given(
    _QUERIES,
    st.builds(
        MentionText,
        text=st.text(max_size=200),
        hashtags=st.lists(st.text(max_size=20), max_size=3).map(tuple),
        accounts=st.lists(st.text(max_size=20), max_size=3).map(tuple),
        language=st.one_of(st.none(), st.text(max_size=6)),
        places=st.lists(st.text(max_size=20), max_size=3).map(tuple),
    ),
)
def test_matching_any_parsed_expression_against_any_mention_answers(
    text: str, mention_text: MentionText
) -> None:
    expression = parsed(text)
    if isinstance(expression, QuerySyntaxError):
        return
    assert matches(expression, mention_text) in (True, False)
    # NOT is the complement.
    assert matches(Not(expression), mention_text) is not matches(expression, mention_text)
