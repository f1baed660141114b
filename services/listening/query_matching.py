"""Whether a mention satisfies a listening query's expression (``query_language``): the rule the
ingestion applies to every mention, kept apart from the parser that builds the expression.

Ingestion matches every mention against every active query, so both sides are prepared once: a
mention is normalised once (``Normalised.of``) whatever the number of queries, and an expression
is compiled once (``compiled``) into a predicate whose words are already normalised."""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from services.listening.query_language import (
    ACCOUNT_NAME,
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

_ACCOUNT_IN_TEXT = re.compile(rf"(?<![\w@])@({ACCOUNT_NAME})")
_HASHTAG_IN_TEXT = re.compile(r"(?<![\w#])#(\w+)")
# ``it-IT``, ``it_IT``: the language is the part before the region.
_REGION = re.compile(r"[-_]")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class MentionText:
    """What a mention says, as ingestion reads it. Hashtags and accounts are also found in the
    text; ``language`` is an ISO 639-1 code, possibly with a region (``it-IT``)."""

    text: str
    hashtags: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    language: str | None = None
    places: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Normalised:
    """A mention as expressions read it: its words, hashtags and accounts case- and
    accent-insensitive, its language without region, its places as words."""

    words: tuple[str, ...]
    # The same words as a set, so a word that is absent is found so at once.
    vocabulary: frozenset[str]
    hashtags: frozenset[str]
    accounts: frozenset[str]
    # Each account's name without its instance (``quercia`` of ``quercia@mastodon.social``).
    account_names: frozenset[str]
    language: str | None
    places: frozenset[tuple[str, ...]]

    @classmethod
    def of(cls, mention: MentionText) -> Normalised:
        text = mention.text
        hashtags = [*mention.hashtags, *(_HASHTAG_IN_TEXT.findall(text) if "#" in text else ())]
        accounts = frozenset(
            _folded(account.removeprefix("@"))
            for account in (
                *mention.accounts,
                *(_ACCOUNT_IN_TEXT.findall(text) if "@" in text else ()),
            )
        )
        text_words = text_words_of(text)
        return cls(
            words=text_words,
            vocabulary=frozenset(text_words),
            hashtags=frozenset(_folded(tag.removeprefix("#")) for tag in hashtags),
            accounts=accounts,
            account_names=frozenset(account.split("@")[0] for account in accounts),
            language=_REGION.split(mention.language)[0].lower() if mention.language else None,
            places=_places(mention.places),
        )

    def contains(self, sequence: tuple[str, ...]) -> bool:
        """Whether the words of ``sequence`` are among the mention's, side by side."""
        if not sequence or not self.vocabulary.issuperset(sequence):
            return False
        size = len(sequence)
        first = sequence[0]
        found = self.words
        return any(
            found[start] == first and found[start : start + size] == sequence
            for start in range(len(found) - size + 1)
        )


def text_words_of(text: str) -> tuple[str, ...]:
    """``query_language.words`` of a mention's text, the same words sooner (``_folded``)."""
    return tuple(_WORD.findall(_folded(text)))


def _folded(text: str) -> str:
    """``query_language.normalise``, sooner: an ASCII text is its own decomposition and its case
    fold is ``lower``, and the accents of any other are dropped by one ``translate`` rather than
    a test of each character."""
    if text.isascii():
        return text.lower()
    folded = unicodedata.normalize("NFKD", text.casefold())
    return folded if folded.isascii() else folded.translate(_combining_marks())


@cache
def _combining_marks() -> dict[int, None]:
    """A ``translate`` table deleting every combining character (912 of them)."""
    return {code: None for code in range(sys.maxunicode + 1) if unicodedata.combining(chr(code))}


# Places are few and repeated on every mention from there (``Siena``, ``Toscana``, ``Italia``).
_PLACES: dict[tuple[str, ...], frozenset[tuple[str, ...]]] = {}
_PLACES_KEPT = 4096


def _places(places: tuple[str, ...]) -> frozenset[tuple[str, ...]]:
    found = _PLACES.get(places)
    if found is None:
        found = frozenset(words(place) for place in places)
        if len(_PLACES) < _PLACES_KEPT:
            _PLACES[places] = found
    return found


Predicate = Callable[[Normalised], bool]


def _never(mention: Normalised) -> bool:
    return False


def compiled(expression: Expression) -> Predicate:
    """The expression as a predicate on a normalised mention, its own words normalised once."""
    match expression:
        case Term(text) | Phrase(text):
            sequence = words(text)
            if not sequence:
                return _never
            if len(sequence) == 1:
                word = sequence[0]
                return lambda mention: word in mention.vocabulary
            return lambda mention: mention.contains(sequence)
        case Hashtag(tag):
            wanted_tag = normalise(tag)
            return lambda mention: wanted_tag in mention.hashtags
        case Account(handle):
            wanted = normalise(handle)
            if "@" in wanted:
                return lambda mention: wanted in mention.accounts
            # ``@quercia`` is that name on any instance: ``quercia@mastodon.social`` too.
            return lambda mention: wanted in mention.account_names
        case Lang(code):
            return lambda mention: mention.language == code
        case Place(name):
            place = words(name)
            if not place:
                return _never
            return lambda mention: place in mention.places
        case Not(operand):
            inner = compiled(operand)
            return lambda mention: not inner(mention)
        case And(operands):
            every = tuple(compiled(operand) for operand in operands)
            return lambda mention: all(test(mention) for test in every)
        case Or(operands):
            some = tuple(compiled(operand) for operand in operands)
            return lambda mention: any(test(mention) for test in some)


def matches(expression: Expression, mention: MentionText) -> bool:
    """Whether the mention satisfies the expression: words and phrases match whole words side
    by side, ignoring case and accents (``perche`` matches ``Perché``); hashtags, accounts and
    places match whole names; ``lang:it`` matches ``it`` and ``it-IT``."""
    return compiled(expression)(Normalised.of(mention))
