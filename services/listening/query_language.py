"""The boolean query language of listening queries, as listening tools write it.

``"La Quercia" AND (vino OR #vendemmia) NOT @competitor lang:it place:"San Gimignano"``

Operands are words, ``"exact phrases"`` (``\\"`` and ``\\\\`` escape a quote and a backslash),
``#hashtags``, ``@accounts`` (``@name`` or ``@name@instance``), ``lang:xx`` (ISO 639-1) and
``place:name`` or ``place:"quoted name"``. ``NOT`` binds tighter than ``AND``, which binds
tighter than ``OR``; operands side by side are joined by ``AND``. Operators are upper case
(``and`` is a word). ``parse`` returns an immutable tree whose ``str`` is the canonical text,
and ``query_matching.matches`` tells whether a mention satisfies it.

Every input either parses or raises ``QuerySyntaxError`` naming the position (the offset of the
character, 0 for the first), what was expected there and what was found; the length, the
nesting and the number of operands are bounded, so no input is costly to parse or match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum, auto

MAX_LENGTH = 2000
MAX_DEPTH = 32
MAX_OPERANDS = 200
# As long as a term of the older ``terms`` list, so each operand fits the same column.
MAX_OPERAND_LENGTH = 200

OPERAND = "a word, a phrase, a #hashtag, an @account, lang:, place:, NOT or ("
END = "the end of the expression"

_HASHTAG = re.compile(r"#(\w+)")
# ``name``, ``name.surname``, ``name@mastodon.social``: dots and hyphens only between letters.
ACCOUNT_NAME = r"\w+(?:[.\-]\w+)*(?:@\w+(?:[.\-]\w+)+)?"
_ACCOUNT = re.compile(rf"@({ACCOUNT_NAME})")
_LANGUAGE = re.compile(r"[A-Za-z]{2}")
# ``site:``, ``https:``: a field this language does not know, refused rather than read as a word.
_FIELD = re.compile(r"([A-Za-z]+):")
_WORD = re.compile(r"\w+")
_DELIMITERS = frozenset('()"')


class QuerySyntaxError(ValueError):
    def __init__(self, position: int, expected: str, found: str) -> None:
        super().__init__(f"at position {position}: expected {expected}, found {found}")
        self.position = position
        self.expected = expected
        self.found = found


def normalise(text: str) -> str:
    """Case- and accent-insensitive form: ``Perché`` and ``perche`` are one word."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words(text: str) -> tuple[str, ...]:
    """The normalised words of a text: runs of letters, digits and ``_``."""
    return tuple(_WORD.findall(normalise(text)))


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# The tree. ``And`` and ``Or`` hold two or more operands and never an operand of their own kind
# (``a AND (b AND c)`` is ``a AND b AND c``), so one expression has one tree and one text.


@dataclass(frozen=True)
class Term:
    """A word as written (``vino``, ``l'agriturismo``): its words, side by side."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Phrase:
    """Words side by side, in this order; whitespace inside is one space."""

    text: str

    def __str__(self) -> str:
        return _quoted(self.text)


@dataclass(frozen=True)
class Hashtag:
    tag: str

    def __str__(self) -> str:
        return f"#{self.tag}"


@dataclass(frozen=True)
class Account:
    handle: str

    def __str__(self) -> str:
        return f"@{self.handle}"


@dataclass(frozen=True)
class Lang:
    code: str

    def __str__(self) -> str:
        return f"lang:{self.code}"


@dataclass(frozen=True)
class Place:
    name: str

    def __str__(self) -> str:
        return f"place:{self.name if _is_bare(self.name) else _quoted(self.name)}"


@dataclass(frozen=True)
class Not:
    operand: Expression

    def __str__(self) -> str:
        return f"NOT {_grouped(self.operand, (And, Or))}"


@dataclass(frozen=True)
class And:
    operands: tuple[Expression, ...]

    def __str__(self) -> str:
        # ``(a OR b) AND c`` needs its parentheses.
        return " AND ".join(_grouped(operand, (Or,)) for operand in self.operands)


@dataclass(frozen=True)
class Or:
    operands: tuple[Expression, ...]

    def __str__(self) -> str:
        # ``(a AND b) OR c`` would parse the same without them: they are kept for the reader.
        return " OR ".join(_grouped(operand, (And,)) for operand in self.operands)


Operand = Term | Phrase | Hashtag | Account | Lang | Place
Expression = Operand | Not | And | Or


def _grouped(expression: Expression, kinds: tuple[type[And] | type[Or], ...]) -> str:
    return f"({expression})" if isinstance(expression, kinds) else str(expression)


def _is_bare(value: str) -> bool:
    """Whether a place name reads back the same without quotes."""
    return bool(words(value)) and not any(char.isspace() or char in _DELIMITERS for char in value)


# Tokens.


class _Kind(Enum):
    WORD = auto()
    PHRASE = auto()
    OPEN = auto()
    CLOSE = auto()
    AND = auto()
    OR = auto()
    NOT = auto()
    END = auto()


_OPERATORS = {"AND": _Kind.AND, "OR": _Kind.OR, "NOT": _Kind.NOT}


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    # A word as written, a phrase unescaped, an operator or parenthesis as written.
    text: str
    position: int
    # The value of a ``place:"quoted name"`` token, unescaped.
    quoted_value: str | None = None

    def described(self) -> str:
        if self.kind is _Kind.END:
            return END
        return _shown(_quoted(self.text) if self.kind is _Kind.PHRASE else f'"{self.text}"')


def _shown(found: str) -> str:
    """A message quotes the start of a long word or phrase, not all of it."""
    return found if len(found) <= 40 else found[:39] + "…"


def _read_phrase(text: str, opening: int) -> tuple[str, int]:
    """The unescaped text of the phrase whose quote is at ``opening``, and the offset after its
    closing quote."""
    characters: list[str] = []
    index = opening + 1
    while index < len(text):
        char = text[index]
        if char == '"':
            return "".join(characters), index + 1
        if char == "\\":
            escaped = text[index + 1 : index + 2]
            if escaped not in ('"', "\\"):
                found = f'"\\{escaped}"' if escaped else END
                raise QuerySyntaxError(index, '\\" or \\\\ (an escaped quote or backslash)', found)
            characters.append(escaped)
            index += 2
            continue
        characters.append(char)
        index += 1
    raise QuerySyntaxError(
        len(text), f'a closing " for the phrase opened at position {opening}', END
    )


def _tokens(text: str) -> Iterator[_Token]:
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char == "(":
            yield _Token(_Kind.OPEN, char, index)
            index += 1
        elif char == ")":
            yield _Token(_Kind.CLOSE, char, index)
            index += 1
        elif char == '"':
            phrase, index_after = _read_phrase(text, index)
            yield _Token(_Kind.PHRASE, phrase, index)
            index = index_after
        else:
            start = index
            while index < len(text) and not (text[index].isspace() or text[index] in _DELIMITERS):
                index += 1
            word = text[start:index]
            if word == "place:" and text[index : index + 1] == '"':
                value, index = _read_phrase(text, index)
                yield _Token(_Kind.WORD, text[start:index], start, quoted_value=value)
            else:
                yield _Token(_OPERATORS.get(word, _Kind.WORD), word, start)
    yield _Token(_Kind.END, "", len(text))


def _operand(token: _Token) -> Operand:
    """The operand a word or phrase token stands for."""
    if token.kind is _Kind.PHRASE:
        phrase = " ".join(token.text.split())
        if not phrase:
            raise QuerySyntaxError(token.position, "a phrase with some text", '""')
        _check_length(phrase, token)
        return Phrase(phrase)
    text = token.text
    if text.startswith("#"):
        hashtag = _HASHTAG.fullmatch(text)
        if hashtag is None:
            raise QuerySyntaxError(
                token.position, "a #hashtag (# then letters, digits or _)", token.described()
            )
        _check_length(text, token)
        return Hashtag(hashtag.group(1))
    if text.startswith("@"):
        account = _ACCOUNT.fullmatch(text)
        if account is None:
            raise QuerySyntaxError(
                token.position,
                "an @account (@name or @name@instance, letters, digits, _ . -)",
                token.described(),
            )
        _check_length(text, token)
        return Account(account.group(1))
    field_prefix = _FIELD.match(text)
    if field_prefix is not None:
        return _field_operand(field_prefix.group(1), token)
    if not words(text):
        raise QuerySyntaxError(
            token.position,
            f"{OPERAND} (a word needs a letter or digit; quote it to search for it)",
            token.described(),
        )
    _check_length(text, token)
    return Term(text)


def _field_operand(name: str, token: _Token) -> Operand:
    value_at = token.position + len(name) + 1
    value = token.text[len(name) + 1 :]
    if name == "lang":
        if _LANGUAGE.fullmatch(value) is None:
            raise QuerySyntaxError(
                value_at,
                "an ISO 639-1 language code of two letters (lang:it)",
                _shown(f'"{value}"') if value else "nothing",
            )
        return Lang(value.lower())
    if name == "place":
        if token.quoted_value is not None:
            place = " ".join(token.quoted_value.split())
        elif words(value):
            place = value
        else:
            raise QuerySyntaxError(
                value_at, 'a place name (place:Siena, place:"San Gimignano")', token.described()
            )
        if not place:
            raise QuerySyntaxError(value_at, "a place name", '""')
        _check_length(place, token)
        return Place(place)
    raise QuerySyntaxError(
        token.position, f"lang: or place: (quote {name}: to search for it)", f'"{name}:"'
    )


def _check_length(text: str, token: _Token) -> None:
    if len(text) > MAX_OPERAND_LENGTH:
        raise QuerySyntaxError(
            token.position,
            f"an operand of at most {MAX_OPERAND_LENGTH} characters",
            f"one of {len(text)}",
        )


_STARTS_OPERAND = frozenset({_Kind.WORD, _Kind.PHRASE, _Kind.OPEN, _Kind.NOT})


class _Parser:
    """Recursive descent over the tokens; each rule returns the tree and its depth."""

    def __init__(self, text: str) -> None:
        self._tokens = _tokens(text)
        self._current = next(self._tokens)
        self._operands = 0
        self._groups = 0

    def _advance(self) -> _Token:
        token = self._current
        if token.kind is not _Kind.END:
            self._current = next(self._tokens)
        return token

    def parse(self) -> Expression:
        expression, _ = self._or()
        # Only a ")" that closes nothing stops the rules before the end.
        if self._current.kind is not _Kind.END:
            raise QuerySyntaxError(
                self._current.position,
                f"{END} (no parenthesis is open)",
                self._current.described(),
            )
        return expression

    def _or(self) -> tuple[Expression, int]:
        first = self._and()
        operands = [first]
        while self._current.kind is _Kind.OR:
            self._advance()
            operands.append(self._and())
        return _joined(Or, operands, self._current)

    def _and(self) -> tuple[Expression, int]:
        operands = [self._not()]
        while True:
            if self._current.kind is _Kind.AND:
                self._advance()
            elif self._current.kind not in _STARTS_OPERAND:
                break
            operands.append(self._not())
        return _joined(And, operands, self._current)

    def _not(self) -> tuple[Expression, int]:
        # A loop, not recursion: ``NOT NOT ... x`` costs no stack.
        negations: list[_Token] = []
        while self._current.kind is _Kind.NOT:
            negations.append(self._advance())
        expression, depth = self._primary()
        for negation in reversed(negations):
            expression, depth = Not(expression), depth + 1
            _check_depth(depth, negation)
        return expression, depth

    def _primary(self) -> tuple[Expression, int]:
        token = self._current
        if token.kind is _Kind.OPEN:
            self._groups += 1
            if self._groups > MAX_DEPTH:
                raise QuerySyntaxError(
                    token.position, f"at most {MAX_DEPTH} nested parentheses", '"("'
                )
            self._advance()
            grouped = self._or()
            if self._current.kind is not _Kind.CLOSE:
                raise QuerySyntaxError(
                    self._current.position,
                    f'")" to close the parenthesis at position {token.position}',
                    self._current.described(),
                )
            self._advance()
            self._groups -= 1
            return grouped
        if token.kind in (_Kind.WORD, _Kind.PHRASE):
            self._operands += 1
            if self._operands > MAX_OPERANDS:
                raise QuerySyntaxError(
                    token.position, f"at most {MAX_OPERANDS} operands", token.described()
                )
            self._advance()
            return _operand(token), 1
        raise QuerySyntaxError(token.position, OPERAND, token.described())


def _joined(
    kind: type[And] | type[Or], operands: Sequence[tuple[Expression, int]], after: _Token
) -> tuple[Expression, int]:
    if len(operands) == 1:
        return operands[0]
    flat: list[Expression] = []
    depth = 0
    for operand, operand_depth in operands:
        if isinstance(operand, kind):
            flat.extend(operand.operands)
            depth = max(depth, operand_depth)
        else:
            flat.append(operand)
            depth = max(depth, operand_depth + 1)
    _check_depth(depth, after)
    return kind(tuple(flat)), depth


def _check_depth(depth: int, token: _Token) -> None:
    if depth > MAX_DEPTH:
        raise QuerySyntaxError(
            token.position, f"an expression nested at most {MAX_DEPTH} deep", "a deeper one"
        )


def parse(text: str) -> Expression:
    """The tree of an expression; its ``str`` is the canonical text, which parses to the same
    tree."""
    if len(text) > MAX_LENGTH:
        raise QuerySyntaxError(MAX_LENGTH, f"{END} (at most {MAX_LENGTH} characters)", "more text")
    expression = _Parser(text).parse()
    canonical = str(expression)
    # Implicit ANDs and parentheses make the canonical text longer than the one written; it
    # must parse again, so it is held to the same bound.
    if len(canonical) > MAX_LENGTH:
        raise QuerySyntaxError(
            len(text),
            f"an expression of at most {MAX_LENGTH} characters once written out in full",
            f"one of {len(canonical)}",
        )
    return expression


def leaves(expression: Expression) -> Iterator[tuple[Operand, bool]]:
    """Every operand with whether it is negated (under an odd number of ``NOT``)."""
    stack: list[tuple[Expression, bool]] = [(expression, False)]
    while stack:
        node, negated = stack.pop()
        if isinstance(node, Not):
            stack.append((node.operand, not negated))
        elif isinstance(node, And | Or):
            stack.extend((operand, negated) for operand in reversed(node.operands))
        else:
            yield node, negated


def searched_terms(expression: Expression) -> list[str]:
    """The words, phrases, hashtags and accounts the expression listens for (not those it
    excludes), as the older ``terms`` list wrote them: ``La Quercia``, ``#vendemmia``."""
    found: dict[str, str] = {}
    for operand, negated in leaves(expression):
        if negated or isinstance(operand, Lang | Place):
            continue
        text = operand.text if isinstance(operand, Term | Phrase) else str(operand)
        found.setdefault(text.casefold(), text)
    return list(found.values())


def is_anchored(expression: Expression) -> bool:
    """Whether every mention it matches contains one of its words, phrases, hashtags or
    accounts. ``lang:it`` alone, or ``NOT spam``, would match a whole network."""
    if isinstance(expression, Term | Phrase | Hashtag | Account):
        return True
    if isinstance(expression, And):
        return any(is_anchored(operand) for operand in expression.operands)
    if isinstance(expression, Or):
        return all(is_anchored(operand) for operand in expression.operands)
    return False


def expression_from_terms(terms: Iterable[str]) -> Expression:
    """The expression that listens for any of the older ``terms``: each an exact phrase, or a
    hashtag or account when it is one (``"La Quercia" OR #vendemmia2027``)."""
    operands: list[Expression] = []
    for term in terms:
        if _HASHTAG.fullmatch(term):
            operands.append(Hashtag(term[1:]))
        elif _ACCOUNT.fullmatch(term):
            operands.append(Account(term[1:]))
        else:
            operands.append(Phrase(" ".join(term.split())))
    if not operands:
        raise ValueError("an expression needs at least one term")
    return operands[0] if len(operands) == 1 else Or(tuple(operands))
