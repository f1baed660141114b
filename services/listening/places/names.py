"""How names are compared, and the name tables the project writes itself.

Every name, in the gazetteer and in a mention, is compared folded: accents dropped, case folded,
apostrophes, hyphens and slashes turned into spaces, so "Forlì", "FORLI'" and "forli" meet, and
"L'Aquila" is the two words "l aquila".
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

WORD = re.compile(r"[^\W_]+")


@lru_cache(maxsize=65536)
def fold_word(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def fold_words(name: str) -> tuple[str, ...]:
    return tuple(fold_word(word) for word in WORD.findall(name))


# Comuni (and a few capitals and countries) whose name is also an everyday Italian or English
# word, a common first name, a food or wine, or a painter: as a lone word in a text they are far
# more often that than the place. They still resolve when they are a whole field of a profile
# location ("Bra, Cuneo") or come with their province's abbreviation ("Bra (CN)").
COMMON_WORDS = frozenset(
    """
    acri acuto ala alba albino ali alto amaro amato anzi arcade archi arco arena asiago asso
    assolo badia barolo bee bella bianco bomba bore borghi borgia bra brunello bruno calci
    calcio camerino camini camino campagna canale canino canna caravaggio carini carro casina
    castelli castelmagno castro casto cavallino cavour cave cene cento ceres ceto cervo chiusa
    chiusi cicala colonna conta cori covo dello dolce dolo donato elice erba erbe este fallo
    fascia felino fondi fonte force fortezza fossa fosso front gaby gavi giove gorgonzola grado
    grana greci grosso grotte jersey laces laghi lago lana lauro lavagna lei lenta lesa liberi
    lode lupara maglie male mali malo mango mara marino marta meta mele mese milo minori mira
    mirto monta montagna monti mori mossa mura musei nave ne noci nomi none norma noto nove
    onore opera ora ospedaletto ospitaletto ossi ottone paese pagani paola parete pareto patti
    penne pero pesche piatto pigna pila pizzo poli ponte ponti popoli porte portici posta postal
    preci quarto re rea rialto rio riga rive romana rosa rose rossa russi sacco sale salve
    santiago scala scena scopa segni selci serre sesto siano soave sofia sommo spessa spiazzo
    stella taleggio taverna terzo tirol tito toro torno trevi troia tufo ultimo urbe vaglia
    verano viale vinci viola vita vittoria volano zeri zone
    """.split()  # noqa: SIM905 - a word list reads better as words than as 200 quoted strings
)

# Multi-word comuni whose name is also a common phrase or a saint's name.
COMMON_PHRASES = frozenset({("san", "paolo"), ("tre", "ville")})

# A place name right after one of these words is a street or a square, not the place.
STREET_WORDS = frozenset(
    {"via", "viale", "piazza", "piazzale", "corso", "largo", "vicolo", "strada", "street", "calle"}
)

# Words before a name that ask for the province rather than its chief town.
PROVINCE_WORDS = frozenset({"provincia", "province", "prov"})

# Other names people write for Italian places: exonyms (English, French, German, Spanish) and
# the short forms of official names. Each maps to the official ISTAT name it stands for.
COMUNE_ALIASES = {
    "Rome": "Roma",
    "Rom": "Roma",
    "Milan": "Milano",
    "Mailand": "Milano",
    "Milán": "Milano",
    "Florence": "Firenze",
    "Florenz": "Firenze",
    "Florencia": "Firenze",
    "Venice": "Venezia",
    "Venedig": "Venezia",
    "Venise": "Venezia",
    "Venecia": "Venezia",
    "Naples": "Napoli",
    "Neapel": "Napoli",
    "Nápoles": "Napoli",
    "Turin": "Torino",
    "Turín": "Torino",
    "Genoa": "Genova",
    "Gênes": "Genova",
    "Genua": "Genova",
    "Padua": "Padova",
    "Padoue": "Padova",
    "Mantua": "Mantova",
    "Leghorn": "Livorno",
    "Reggio Calabria": "Reggio di Calabria",
    "Reggio Emilia": "Reggio nell'Emilia",
    "Spezia": "La Spezia",
    "Aquila": "L'Aquila",  # "all'Aquila", "dell'Aquila"
}

REGION_ALIASES = {
    "Valle d'Aosta": "Valle d'Aosta/Vallée d'Aoste",
    "Val d'Aosta": "Valle d'Aosta/Vallée d'Aoste",
    "Aosta Valley": "Valle d'Aosta/Vallée d'Aoste",
    "Piedmont": "Piemonte",
    "Lombardy": "Lombardia",
    "Trentino-Alto Adige": "Trentino-Alto Adige/Südtirol",
    "Trentino Südtirol": "Trentino-Alto Adige/Südtirol",
    "Friuli": "Friuli-Venezia Giulia",
    "Friuli Venezia Giulia": "Friuli-Venezia Giulia",
    "Emilia Romagna": "Emilia-Romagna",
    "Tuscany": "Toscana",
    "Toscane": "Toscana",
    "Latium": "Lazio",
    "The Marches": "Marche",
    "Abruzzi": "Abruzzo",
    "Apulia": "Puglia",
    "Pouilles": "Puglia",
    "Apulien": "Puglia",
    "Sicily": "Sicilia",
    "Sicile": "Sicilia",
    "Sizilien": "Sicilia",
    "Sardinia": "Sardegna",
    "Sardaigne": "Sardegna",
    "Sardinien": "Sardegna",
    "Lombardei": "Lombardia",
    "Toskana": "Toscana",
}

PROVINCE_ALIASES = {
    "Alto Adige": "Bolzano/Bozen",
    "South Tyrol": "Bolzano/Bozen",
    "Südtirol": "Bolzano/Bozen",
    "Trentino": "Trento",
    "Monza e Brianza": "Monza e della Brianza",
    "Brianza": "Monza e della Brianza",
}

# Short and everyday country names the ISO-based lists lack, keyed by ISO 3166-1 alpha-2.
COUNTRY_ALIASES = {
    "US": ("Stati Uniti", "Stati Uniti d'America", "United States", "U.S.A."),
    "GB": ("Inghilterra", "England", "Scozia", "Scotland", "Galles", "Wales", "Gran Bretagna"),
    "NL": ("Olanda", "Holland"),
    "IR": ("Iran",),
    "LA": ("Laos",),
    "MD": ("Moldova",),
    "MK": ("North Macedonia", "Macedonia"),
    "SY": ("Syria",),
    "TZ": ("Tanzania",),
    "VA": ("Vatican City", "Vatican", "Vaticano", "Città del Vaticano"),
    "CZ": ("Czechia",),
    "DE": ("Monaco di Baviera",),
}
