"""How many mentions a second `resolve` places on this machine: `python -m
services.listening.places.benchmark`. The mix is mostly text, as mentions mostly are."""

from __future__ import annotations

import time

from services.listening.places.gazetteer import gazetteer
from services.listening.places.model import MentionClues
from services.listening.places.resolver import resolve

SAMPLE = (
    MentionClues("Weekend a Gubbio con la famiglia, la festa dei Ceri è stata incredibile!"),
    MentionClues("Il servizio clienti non risponde da tre giorni, pessima esperienza."),
    MentionClues("Visiting Rome and Florence next spring, any tips for a good agriturismo?"),
    MentionClues("Ne parliamo domani: la vita è bella e il re è nudo.", "Bra, Cuneo"),
    MentionClues("Ottimo prodotto, consegna veloce", "Milano, Italia"),
    MentionClues("Che spettacolo il lago stamattina", latitude=43.35, longitude=12.58),
    MentionClues("Great trip!", "Madrid, Spain"),
    MentionClues("#umbria #perugia tramonto sul Trasimeno"),
)


def mentions_per_second(rounds: int = 2000) -> float:
    gazetteer()  # loading is a one-off cost, not part of the rate
    started = time.perf_counter()
    for _ in range(rounds):
        for mention in SAMPLE:
            resolve(mention)
    return rounds * len(SAMPLE) / (time.perf_counter() - started)


if __name__ == "__main__":
    print(f"{mentions_per_second():,.0f} mentions/s")
