"""Italian or English, per text, offline: which language's common words a text uses more.

Function words (articles, prepositions, pronouns, auxiliaries) make up a large share of any
sentence, even a short post, and the two lists below share none: a word both languages write
(``a``, ``i``, ``in``, ``no``, ``me``, ``so``, ``come``) is in neither. A text with more Italian
than English ones is Italian, more English ones English; a tie (no such word at all, or as many
of each) is undetermined. The lists are the project's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

from services.listening.sentiment.text import Batch, token_hashes

ITALIAN = "it"
ENGLISH = "en"
LANGUAGES = (ITALIAN, ENGLISH)

_FUNCTION_WORDS = {
    ITALIAN: """
        il lo la gli le un una uno di del dello della dei degli delle da dal dallo dalla dai
        dagli dalle al allo alla ai agli alle nel nello nella nei negli nelle sul sullo sulla
        sui sugli sulle con per tra fra che chi cui non più ma anche perché perche però quindi
        questo questa questi queste quello quella quelli quelle è sono sei siamo siete era
        erano sarà sarebbe stato stata essere ho hai ha abbiamo avete hanno avere c ci si mi ti
        vi ne gli io tu lui lei noi voi loro mio mia miei mie tuo tua suo sua nostro nostra
        molto tanto troppo tutto tutti tutta tutte ancora già sempre mai ora oggi ieri domani
        dopo prima poi quando dove cosa ecco solo proprio ogni niente nulla qualcosa
        fare fa fatto va vuole può deve della anzi oppure invece allora mentre senza sopra
        sotto dentro fuori contro verso quale quali quanto quanti bene male comunque
    """,
    ENGLISH: """
        the an and or of to is are was were be been being it its this that these those for
        on with as at by from you he she we they my your his her our their not but have has
        had does did will would can could should just what who which if about there all him
        them get got like than then when where why how because only very really also some any
        much more most other into over after before up out off down here now been am i'm
        it's don't can't won't isn't doesn't didn't don doesn didn isn wasn aren t s ll re ve
        myself yourself something nothing everything anything someone everyone
    """,
}


@dataclass(frozen=True, slots=True)
class Detection:
    """Per text: the detected language (None: undetermined) and the likelier one of the two."""

    detected: list[str | None]
    likelier: list[str]


@cache
def _function_word_hashes() -> dict[str, NDArray[np.uint64]]:
    tables: dict[str, NDArray[np.uint64]] = {}
    for language, words in _FUNCTION_WORDS.items():
        hashes = {value for value in token_hashes(words.split()) if value is not None}
        tables[language] = np.array(sorted(hashes), dtype=np.uint64)
    return tables


def contains(table: NDArray[np.uint64], hashes: NDArray[np.uint64]) -> NDArray[np.bool_]:
    """Which of ``hashes`` are in the sorted ``table``."""
    if len(table) == 0:
        return np.zeros(hashes.shape, dtype=bool)
    where = np.minimum(np.searchsorted(table, hashes), len(table) - 1)
    found: NDArray[np.bool_] = table[where] == hashes
    return found


def detect(batch: Batch, preferred: str = ITALIAN) -> Detection:
    """Each text's language; ``preferred`` is the likelier one where neither has more words."""
    counts = {
        language: np.bincount(
            batch.token_text[contains(table, batch.token_hash)], minlength=batch.size
        )
        for language, table in _function_word_hashes().items()
    }
    italian, english = counts[ITALIAN], counts[ENGLISH]
    detected: list[str | None] = [
        ITALIAN if i > e else ENGLISH if e > i else None
        for i, e in zip(italian.tolist(), english.tolist(), strict=True)
    ]
    likelier = [language or preferred for language in detected]
    return Detection(detected=detected, likelier=likelier)
