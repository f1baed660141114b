"""Polarity lexicons, and the sums of positive and negative words in each text.

English: VADER's lexicon (C.J. Hutto, MIT licence), read from the ``vaderSentiment`` package.
Italian: the project's own lexicon (``data/lexicon-it.tsv``), with VADER's emoticons. A word
after a negation (within three tokens) counts the other way, damped as VADER does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from services.listening.sentiment.language import ENGLISH, ITALIAN, contains
from services.listening.sentiment.text import Batch, token_hashes

F64 = NDArray[np.float64]

ITALIAN_LEXICON = Path(__file__).parent / "data" / "lexicon-it.tsv"
NEGATION_DAMPING = -0.74
NEGATION_REACH = 3
_NEGATIONS = {
    ITALIAN: "non mai nessuno nessuna nessun niente nulla né senza neanche nemmeno neppure",
    ENGLISH: "not no never none nobody nothing neither nor without cannot t nt",
}
_ADJECTIVE = ("o", "a", "i", "e", "issimo", "issima", "issimi", "issime")
_ADJECTIVE_E = ("e", "i", "issimo", "issima", "issimi", "issime")
_NOUN = {"a": "e", "o": "i", "e": "i"}
_VERB = {
    "are": (
        "are", "o", "i", "a", "iamo", "ate", "ano", "ato", "ata", "ati", "ate", "avo", "ava",
        "avano", "erò", "erà", "eranno", "erei", "erebbe", "erebbero", "ando", "ino", "assi",
    ),
    "ere": (
        "ere", "o", "i", "e", "iamo", "ete", "ono", "uto", "uta", "uti", "ute", "evo", "eva",
        "evano", "erò", "erà", "eranno", "erei", "erebbe", "erebbero", "endo", "a", "ano",
    ),
    "ire": (
        "ire", "o", "i", "e", "iamo", "ite", "ono", "ito", "ita", "iti", "ite", "ivo", "iva",
        "ivano", "irò", "irà", "iranno", "irei", "irebbe", "irebbero", "endo", "a", "ano",
        "isco", "isci", "isce", "iscono",
    ),
}  # fmt: skip


def italian_forms(word: str, kind: str) -> list[str]:
    """The forms of a lexicon entry: an adjective's genders, numbers and superlatives, a
    noun's plural, a verb's common tenses (regular conjugation; a few odd forms are harmless)."""
    if kind == "adj" and word.endswith("o"):
        return [word[:-1] + ending for ending in _ADJECTIVE]
    if kind == "adj2" and word.endswith("e"):
        return [word[:-1] + ending for ending in _ADJECTIVE_E]
    if kind == "noun" and word[-1:] in _NOUN:
        return [word, word[:-1] + _NOUN[word[-1]]]
    if kind == "verb" and word[-3:] in _VERB:
        return [word[:-3] + ending for ending in _VERB[word[-3:]]]
    return [word]


@cache
def _vader() -> dict[str, float]:
    text = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text("utf-8")
    entries: dict[str, float] = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) >= 2 and fields[0]:
            entries[fields[0].lower()] = float(fields[1])
    return entries


def _italian() -> dict[str, float]:
    entries: dict[str, float] = {}
    for line in ITALIAN_LEXICON.read_text("utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        word, polarity, kind = line.split("\t")
        for form in italian_forms(word, kind):
            entries[form] = float(polarity)
    return entries


def _is_emoticon(word: str) -> bool:
    return not any(char.isalpha() for char in word)


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Sorted token hashes with their polarity, and the negation words' hashes."""

    hashes: NDArray[np.uint64]
    polarity: F64
    negations: NDArray[np.uint64]

    @classmethod
    def of(cls, entries: dict[str, float], negations: str) -> Lexicon:
        words = list(entries)
        table: dict[int, float] = {}
        for word, value in zip(words, token_hashes(words), strict=True):
            if value is not None:
                table[value] = entries[word]
        ordered = sorted(table)
        negation_hashes = {value for value in token_hashes(negations.split()) if value is not None}
        return cls(
            hashes=np.array(ordered, dtype=np.uint64),
            polarity=np.array([table[value] for value in ordered], dtype=np.float64),
            negations=np.array(sorted(negation_hashes), dtype=np.uint64),
        )

    def token_polarity(self, batch: Batch) -> F64:
        """Each token's polarity (0 outside the lexicon)."""
        found = contains(self.hashes, batch.token_hash)
        polarity = np.zeros(len(batch.token_hash), dtype=np.float64)
        where = np.searchsorted(self.hashes, batch.token_hash[found])
        polarity[found] = self.polarity[where]
        return polarity

    def negated(self, batch: Batch) -> NDArray[np.bool_]:
        """Tokens with a negation among the three before them, in the same text."""
        negation = contains(self.negations, batch.token_hash)
        negated = np.zeros(len(negation), dtype=bool)
        for distance in range(1, NEGATION_REACH + 1):
            same_text = batch.token_text[distance:] == batch.token_text[:-distance]
            negated[distance:] |= negation[:-distance] & same_text
        return negated


@cache
def lexicons() -> dict[str, Lexicon]:
    vader = _vader()
    emoticons = {word: value for word, value in vader.items() if _is_emoticon(word)}
    return {
        ITALIAN: Lexicon.of({**emoticons, **_italian()}, _NEGATIONS[ITALIAN]),
        ENGLISH: Lexicon.of(vader, _NEGATIONS[ENGLISH]),
    }


@dataclass(frozen=True, slots=True)
class Sums:
    """Per text: the positive and the negative polarity it holds (both >= 0)."""

    positive: F64
    negative: F64


def polarity_sums(batch: Batch, languages: list[str], negation: bool = True) -> Sums:
    """Each text read with its language's lexicon; ``negation=False`` counts words as they are."""
    language_of_text = np.array([language == ENGLISH for language in languages], dtype=bool)
    english_token = language_of_text[batch.token_text] if batch.size else np.zeros(0, dtype=bool)
    polarity = np.zeros(len(batch.token_hash), dtype=np.float64)
    for language, lexicon in lexicons().items():
        mine = english_token if language == ENGLISH else ~english_token
        values = lexicon.token_polarity(batch)
        if negation:
            values = np.where(lexicon.negated(batch), values * NEGATION_DAMPING, values)
        polarity[mine] = values[mine]
    positive = np.bincount(batch.token_text, np.maximum(polarity, 0.0), minlength=batch.size)
    negative = np.bincount(batch.token_text, np.maximum(-polarity, 0.0), minlength=batch.size)
    return Sums(positive=positive.astype(np.float64), negative=negative.astype(np.float64))
