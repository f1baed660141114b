"""Automatic triage: rules, then sentiment, put a mention in one category with the reason shown.

Rules come first because they say why in words a person can check; sentiment decides only what
no rule recognised. A person may re-triage (``service.retriage``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    QUESTION = "question"
    COMPLAINT = "complaint"
    PRAISE = "praise"
    SPAM = "spam"
    OTHER = "other"


@dataclass(frozen=True)
class Triage:
    category: Category
    reason: str


SPAM_PHRASES = (
    "bitcoin",
    "crypto",
    "guadagna",
    "guadagni facili",
    "click here",
    "clicca qui",
    "follow back",
    "seguimi",
    "free followers",
    "follower gratis",
    "promo code",
    "dm for collab",
    "scrivimi in privato per collaborazione",
)
COMPLAINT_PHRASES = (
    "reclamo",
    "vergogna",
    "vergognoso",
    "scandaloso",
    "pessimo",
    "pessima",
    "rimborso",
    "disservizio",
    "non funziona",
    "ancora aspetto",
    "sto ancora aspettando",
    "deluso",
    "delusa",
    "inaccettabile",
    "mai più",
    "complaint",
    "refund",
    "terrible",
    "worst",
    "broken",
    "never again",
    "unacceptable",
    "disappointed",
)
PRAISE_PHRASES = (
    "grazie",
    "bravi",
    "complimenti",
    "fantastico",
    "fantastica",
    "ottimo",
    "ottima",
    "bellissimo",
    "bellissima",
    "stupendo",
    "thank",
    "great",
    "amazing",
    "love it",
    "awesome",
)
QUESTION_OPENINGS = (
    "come",
    "quando",
    "dove",
    "perché",
    "perche",
    "quanto",
    "quanti",
    "quale",
    "qual",
    "chi",
    "avete",
    "posso",
    "potete",
    "è possibile",
    "how",
    "when",
    "where",
    "why",
    "what",
    "which",
    "can you",
    "do you",
    "is there",
    "are you",
)
_URL = re.compile(r"https?://\S+")
# Below this confidence the sentiment model's label decides nothing.
SENTIMENT_CONFIDENCE = 0.6
# A message with this many links or more is spam whatever it says.
SPAM_LINKS = 3


def _phrase_in(text: str, phrases: tuple[str, ...]) -> str | None:
    for phrase in phrases:
        if re.search(rf"(?<!\w){re.escape(phrase)}", text):
            return phrase
    return None


def triage(text: str, sentiment_label: str | None, sentiment_score: float | None) -> Triage:
    """The category of a mention's text, and why."""
    lowered = " ".join(text.lower().split())
    links = len(_URL.findall(lowered))
    if links >= SPAM_LINKS:
        return Triage(Category.SPAM, f"rule: {links} links")
    if phrase := _phrase_in(lowered, SPAM_PHRASES):
        return Triage(Category.SPAM, f"rule: says '{phrase}'")
    if phrase := _phrase_in(lowered, COMPLAINT_PHRASES):
        return Triage(Category.COMPLAINT, f"rule: says '{phrase}'")
    if "?" in lowered:
        return Triage(Category.QUESTION, "rule: asks a question ('?')")
    words = _URL.sub("", lowered).lstrip(" @#.,;:!-")
    for opening in QUESTION_OPENINGS:
        if words.startswith(opening + " "):
            return Triage(Category.QUESTION, f"rule: opens with '{opening}'")
    confident = sentiment_score is not None and sentiment_score >= SENTIMENT_CONFIDENCE
    if sentiment_label == "negative" and confident:
        return Triage(Category.COMPLAINT, f"sentiment: negative ({sentiment_score:.2f})")
    if phrase := _phrase_in(lowered, PRAISE_PHRASES):
        return Triage(Category.PRAISE, f"rule: says '{phrase}'")
    if sentiment_label == "positive" and confident:
        return Triage(Category.PRAISE, f"sentiment: positive ({sentiment_score:.2f})")
    return Triage(Category.OTHER, "no rule matched and the sentiment is not decisive")
