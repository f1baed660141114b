"""Whether a mention satisfies a listening query's expression (``query_language``): the rule the
ingestion applies to every mention, kept apart from the parser that builds the expression."""

from __future__ import annotations

import re
from dataclasses import dataclass

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


@dataclass(frozen=True)
class MentionText:
    """What a mention says, as ingestion reads it. Hashtags and accounts are also found in the
    text; ``language`` is an ISO 639-1 code, possibly with a region (``it-IT``)."""

    text: str
    hashtags: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    language: str | None = None
    places: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Normalised:
    words: tuple[str, ...]
    hashtags: frozenset[str]
    accounts: frozenset[str]
    language: str | None
    places: frozenset[tuple[str, ...]]

    @classmethod
    def of(cls, mention: MentionText) -> _Normalised:
        hashtags = [*mention.hashtags, *_HASHTAG_IN_TEXT.findall(mention.text)]
        accounts = [*mention.accounts, *_ACCOUNT_IN_TEXT.findall(mention.text)]
        language = _REGION.split(mention.language)[0].lower() if mention.language else None
        return cls(
            words=words(mention.text),
            hashtags=frozenset(normalise(tag.removeprefix("#")) for tag in hashtags),
            accounts=frozenset(normalise(account.removeprefix("@")) for account in accounts),
            language=language,
            places=frozenset(words(place) for place in mention.places),
        )

    def contains(self, sequence: tuple[str, ...]) -> bool:
        size = len(sequence)
        if size == 0:
            return False
        return any(
            self.words[start : start + size] == sequence
            for start in range(len(self.words) - size + 1)
        )

    def has_account(self, handle: str) -> bool:
        wanted = normalise(handle)
        if "@" in wanted:
            return wanted in self.accounts
        # ``@quercia`` is that name on any instance: ``quercia@mastodon.social`` too.
        return any(account.split("@")[0] == wanted for account in self.accounts)


def _satisfies(expression: Expression, mention: _Normalised) -> bool:
    match expression:
        case Term(text) | Phrase(text):
            return mention.contains(words(text))
        case Hashtag(tag):
            return normalise(tag) in mention.hashtags
        case Account(handle):
            return mention.has_account(handle)
        case Lang(code):
            return mention.language == code
        case Place(name):
            place = words(name)
            return bool(place) and place in mention.places
        case Not(operand):
            return not _satisfies(operand, mention)
        case And(operands):
            return all(_satisfies(operand, mention) for operand in operands)
        case Or(operands):
            return any(_satisfies(operand, mention) for operand in operands)


def matches(expression: Expression, mention: MentionText) -> bool:
    """Whether the mention satisfies the expression: words and phrases match whole words side
    by side, ignoring case and accents (``perche`` matches ``Perché``); hashtags, accounts and
    places match whole names; ``lang:it`` matches ``it`` and ``it-IT``."""
    return _satisfies(expression, _Normalised.of(mention))
