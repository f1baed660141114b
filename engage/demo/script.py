"""What the demo's people write and set: the client and its assets, the posts, the inbox's
hours, the alert rule on complaints, the reply and the acknowledgement."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

CLIENT = {"name": "Agriturismo Il Sentiero (Gubbio)", "timezone": "Europe/Rome"}
ASSETS: tuple[dict[str, Any], ...] = (
    {
        "kind": "account",
        "channel": "instagram",
        "handle": "@ilsentiero.gubbio",
        "audience_size": 1840,
        "posts_per_week": 2,
        "notes": "Photos of the olive grove and the Monte Ingino trail",
    },
    {"kind": "website", "url": "https://ilsentiero-gubbio.example", "monthly_visits": 2300},
)
# The listening source's poll interval: the shortest the service takes.
LISTENING_POLL_SECONDS = 10
# The inbox's hours: every day, all day (whole minutes: the latest closing time the schema
# takes is 23:59), so a comment answered at once is answered within the target whenever the
# demo runs.
INBOX_SETTINGS: dict[str, Any] = {
    "target_first_response_minutes": 60,
    "business_days": [1, 2, 3, 4, 5, 6, 7],
    "opens": "00:00",
    "closes": "23:59",
    "time_zone": "Europe/Rome",
}
# Complaints, in Italian and English: every way the sandbox's unhappy users put it
# (services/sandbox/voices.py), so any complaint among the mentions raises the alert.
ALERT_RULE: dict[str, Any] = {
    "kind": "keyword",
    "name": "Clienti scontenti",
    "keywords": [
        "nessuno mi ha risposto",
        "molto lento",
        "troppo alti",
        "peccato",
        "pessima",
        "scorretto",
        "delusa",
        "disappointing",
        "rude",
        "no answer",
        "pictures promised",
        "let down",
        "nobody answers",
        "not recommend",
    ],
}
REPLY = (
    "Grazie di averci scritto! Le rispondiamo subito in privato con tutti i dettagli. "
    "A presto, lo staff del Sentiero"
)
ACKNOWLEDGE_NOTE = "Preso in carico: rispondiamo in privato e verifichiamo con lo staff."
TOP_PLACES = 5
# The sandbox approves an authorisation at once and redirects here with the code; nothing
# needs to answer at this address, the demo reads the redirect itself.
REDIRECT_URI = "https://demo.atlantide.local/oauth/callback"
PLAN_TIMEZONE = ZoneInfo("Europe/Rome")
POSTS: tuple[str, ...] = (
    "Buongiorno dal Sentiero: colazione in terrazza con vista su Gubbio",
    "Il sentiero dei Cappuccini al tramonto, a due passi da noi",
    "Olio nuovo: la raccolta nel nostro uliveto è cominciata",
)
# The first post falls due once the first three gates have been passed; the others spread
# over seeding and launch, at least this far apart.
FIRST_POST_AFTER_SECONDS = 12.0
MIN_POST_GAP_SECONDS = 2.0
POST_WINDOW_SECONDS = 20

# The channel mix the agency scores in the design phase: who the client wants to reach, what
# for, what it can produce and how many hours a week it has. The handbook covers the channels
# it recommends (the sandbox is scored but never recommended: it reaches nobody).
CHANNEL_MIX_INPUTS: dict[str, Any] = {
    "personas": [
        {
            "name": "Famiglie in vacanza in Umbria",
            "age_band": "35-44",
            "interests": ["travel", "food_drink", "family_parenting"],
            "language": "it",
            "place": {"name": "Umbria e regioni vicine", "reach": "regional"},
        },
        {
            "name": "Escursionisti stranieri",
            "age_band": "25-34",
            "interests": ["nature_outdoors", "travel"],
            "language": "en",
            "place": {"name": "Europa", "reach": "international"},
        },
    ],
    "objectives": ["awareness", "engagement", "customer_care"],
    "content_kinds": ["text", "image"],
    "effort_hours_per_week": 6,
}
CHANNEL_MIX_COMMENT = "Mix valutato dall'agenzia sui profili dei canali"
# A real-world touchpoint (design phase): the breakfast menu printed with a QR code that leads
# to the booking page; its tracked link counts scans, nothing about who scanned.
TOUCHPOINT: dict[str, Any] = {
    "kind": "print",
    "name": "Menù della colazione",
    "place": "Sala colazioni del Sentiero",
    "destination_url": "https://ilsentiero-gubbio.example/prenota",
    "channels": ["sandbox"],
}
# Seeding: a local community the agency reaches out to (docs/outreach.md).
OUTREACH_CONTACT: dict[str, Any] = {
    "kind": "community",
    "platform": "instagram",
    "handle": "camminando.in.umbria",
    "display_name": "Camminando in Umbria",
    "notes": "Gruppo di escursionisti che racconta i sentieri intorno a Gubbio",
}
OUTREACH_STEP: dict[str, Any] = {
    "status": "contacted",
    "note": "Invitati a percorrere il sentiero dei Cappuccini con noi",
    "next_step": "Proporre una data per l'uscita insieme",
}
# Post-launch: the client's receptionist joins the training plan, to take the inbox over.
TRAINING_PARTICIPANT: dict[str, Any] = {"name": "Chiara Bartolini", "job_title": "receptionist"}
