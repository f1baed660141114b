"""The simulated users who comment and mention: Italian and English, mixed sentiment, some geotags.

Every choice is drawn with ``engagement.unit`` from the seed and the comment's or mention's own
coordinates, so the same conversation is generated every time it is asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from services.sandbox.engagement import unit
from services.sandbox.schemas import Author, Place

Language = Literal["it", "en"]
Sentiment = Literal["positive", "neutral", "negative"]
Kind = Literal["comment", "mention"]

# Italian towns the agency's clients (tourism, food, public bodies) are typically talked about in.
TOWNS: tuple[tuple[str, float, float], ...] = (
    ("Firenze", 43.7696, 11.2558),
    ("Siena", 43.3188, 11.3308),
    ("Lucca", 43.8429, 10.5027),
    ("Montepulciano", 43.0925, 11.7808),
    ("Bologna", 44.4949, 11.3426),
    ("Verona", 45.4384, 10.9916),
    ("Mantova", 45.1564, 10.7914),
    ("Perugia", 43.1107, 12.3908),
    ("Assisi", 43.0707, 12.6196),
    ("Matera", 40.6664, 16.6043),
    ("Lecce", 40.3529, 18.1743),
    ("Alghero", 40.5580, 8.3190),
    ("Taormina", 37.8516, 15.2853),
    ("Trento", 46.0748, 11.1217),
    ("Urbino", 43.7262, 12.6366),
    ("Ravenna", 44.4184, 12.2035),
)

PEOPLE: tuple[tuple[str, str], ...] = (
    ("giulia.viaggia", "Giulia Bianchi"),
    ("marco_rossi84", "Marco Rossi"),
    ("chiara.incucina", "Chiara Esposito"),
    ("lucaferrari", "Luca Ferrari"),
    ("sofia_trekking", "Sofia Romano"),
    ("ale.colombo", "Alessandro Colombo"),
    ("fra.ricci", "Francesca Ricci"),
    ("davide.greco", "Davide Greco"),
    ("emma_travels", "Emma Walker"),
    ("tom.eats.italy", "Tom Harris"),
    ("sarah.k", "Sarah Klein"),
    ("jamesonroad", "James O'Neill"),
)

COMMENTS: dict[tuple[Language, Sentiment], tuple[str, ...]] = {
    ("it", "positive"): (
        "Che meraviglia! Non vedo l'ora di tornarci.",
        "Bellissimo, complimenti a tutto lo staff!",
        "Esperienza fantastica, lo consiglio a tutti.",
        "Adoro questi scatti, bravissimi!",
    ),
    ("it", "neutral"): (
        "A che ora apre nel fine settimana?",
        "Si può prenotare anche online?",
        "Qual è il prezzo per un gruppo di sei persone?",
        "C'è un parcheggio vicino?",
    ),
    ("it", "negative"): (
        "Siamo stati la settimana scorsa, servizio molto lento.",
        "Prezzi troppo alti per quello che offrite.",
        "Ho scritto tre volte e nessuno mi ha risposto.",
        "Peccato, le foto sono molto meglio della realtà.",
    ),
    ("en", "positive"): (
        "Absolutely stunning, can't wait to come back!",
        "Best experience of our trip to Italy.",
        "Love this, great job everyone!",
        "Beautiful place and such friendly people.",
    ),
    ("en", "neutral"): (
        "Is it open on Sundays?",
        "Do you ship abroad?",
        "How far is it from the train station?",
        "Can we book for next weekend?",
    ),
    ("en", "negative"): (
        "We waited over an hour, really disappointing.",
        "Overpriced and the staff was rude.",
        "Still no answer to my email from last week.",
        "Not what the pictures promised.",
    ),
}

MENTIONS: dict[tuple[Language, Sentiment], tuple[str, ...]] = {
    ("it", "positive"): (
        "Weekend perfetto grazie a @{handle}, consigliatissimo!",
        "Un grazie enorme a @{handle} per l'accoglienza.",
        "Se passate da queste parti andate da @{handle}, non ve ne pentirete.",
    ),
    ("it", "neutral"): (
        "Qualcuno è già stato da @{handle}? Com'è?",
        "@{handle} fate anche consegne a domicilio?",
        "Stasera proviamo @{handle}, vi faccio sapere.",
    ),
    ("it", "negative"): (
        "Pessima esperienza con @{handle}, mai più.",
        "@{handle} prenotazione cancellata senza avviso, molto scorretto.",
        "Delusa da @{handle}, mi aspettavo molto di più.",
    ),
    ("en", "positive"): (
        "Huge thanks to @{handle} for a wonderful day!",
        "If you're in the area, @{handle} is a must.",
        "@{handle} made our holiday, highly recommended.",
    ),
    ("en", "neutral"): (
        "Has anyone tried @{handle}? Thinking of going.",
        "@{handle} what are your opening hours in August?",
        "Visiting @{handle} tomorrow, any tips?",
    ),
    ("en", "negative"): (
        "Really let down by @{handle} today.",
        "@{handle} charged us twice and nobody answers the phone.",
        "Would not recommend @{handle}, sadly.",
    ),
}

# About 1 km of jitter, so the map shows clusters around each town rather than one dot.
PLACE_JITTER_DEGREES = 0.01
GEOTAGGED_SHARE = 0.4


@dataclass(frozen=True)
class Voice:
    author: Author
    text: str
    language: Language
    sentiment: Sentiment
    place: Place | None


def _pick(draw: float, count: int) -> int:
    return min(math.floor(draw * count), count - 1)


def _sentiment(draw: float) -> Sentiment:
    if draw < 0.55:
        return "positive"
    return "neutral" if draw < 0.83 else "negative"


def _place(seed: int, key: tuple[object, ...]) -> Place | None:
    if unit(seed, "geotagged", *key) >= GEOTAGGED_SHARE:
        return None
    name, latitude, longitude = TOWNS[_pick(unit(seed, "town", *key), len(TOWNS))]
    north = (unit(seed, "north", *key) - 0.5) * 2 * PLACE_JITTER_DEGREES
    east = (unit(seed, "east", *key) - 0.5) * 2 * PLACE_JITTER_DEGREES
    return Place(
        name=name, latitude=round(latitude + north, 5), longitude=round(longitude + east, 5)
    )


def voice(seed: int, kind: Kind, owner_id: str, index: int, account_handle: str) -> Voice:
    """The ``index``-th comment on a post or mention of an account (``owner_id``)."""
    key: tuple[object, ...] = (kind, owner_id, index)
    language: Language = "it" if unit(seed, "language", *key) < 0.6 else "en"
    sentiment = _sentiment(unit(seed, "sentiment", *key))
    templates = (COMMENTS if kind == "comment" else MENTIONS)[(language, sentiment)]
    text = templates[_pick(unit(seed, "text", *key), len(templates))]
    handle, name = PEOPLE[_pick(unit(seed, "author", *key), len(PEOPLE))]
    return Voice(
        author=Author(id=f"user-{handle}", handle=handle, name=name),
        text=text.format(handle=account_handle),
        language=language,
        sentiment=sentiment,
        place=_place(seed, key),
    )
