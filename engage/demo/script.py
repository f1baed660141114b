"""What the demo's people write and set: the client and its assets, the posts, the inbox's
hours, the alert rule on complaints, the reply and the acknowledgement, and the design phase's
channel mix, editorial rules, graphic line and positioning the client handbook is made from."""

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
# demo runs; a first answer within two hours, as the positioning promises.
INBOX_SETTINGS: dict[str, Any] = {
    "target_first_response_minutes": 120,
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

# What the design phase agrees for the channel the mix recommends (Instagram): written by the
# agency's manager, approved by the client's approver, and what the handbook is made from.
HANDBOOK_CHANNEL = "instagram"
EDITORIAL_RULES: dict[str, Any] = {
    "timezone": "Europe/Rome",
    "rules": [
        {
            "id": "vita-al-sentiero",
            "pillar": "La giornata al Sentiero: colazione, orto, uliveto e animali",
            "formats": ["image", "video"],
            "channels": [HANDBOOK_CHANNEL],
            "days": [1, 4],
            "windows": [{"start": "12:30", "end": "14:00"}],
            "cadence": {"per": "week", "count": 2},
            "target": "Famiglie in vacanza in Umbria",
            "tone_of_voice": "Caldo e familiare, come al tavolo della colazione",
            "hashtags": ["ilsentierogubbio", "agriturismoumbria", "gubbio"],
            "do": [
                "Foto vere, scattate da noi con luce naturale: la terrazza, l'orto, le galline",
                "Chiamare per nome persone e prodotti: Marta in cucina, l'olio del nostro uliveto",
                "Dire la stagione: cosa si raccoglie, cosa si cucina, cosa si vede adesso",
            ],
            "dont": [
                "Foto di repertorio o prese dal web",
                "Prezzi e sconti nel testo: si rimanda alla pagina di prenotazione",
                "Volti di ospiti, soprattutto bambini, senza il loro consenso scritto",
            ],
        },
        {
            "id": "sentieri-e-dintorni",
            "pillar": "Sentieri e dintorni: Monte Ingino, sentiero dei Cappuccini, Gubbio",
            "formats": ["image", "video"],
            "channels": [HANDBOOK_CHANNEL],
            "days": [5],
            "windows": [{"start": "08:00", "end": "09:30"}],
            "cadence": {"per": "week", "count": 1},
            "target": "Escursionisti stranieri",
            "tone_of_voice": "Pratico e accogliente: prima l'italiano, poi due righe in inglese",
            "hashtags": ["umbria", "hikingitaly", "monteingino"],
            "do": [
                "Dare durata, dislivello e punto di partenza di ogni percorso",
                "Segnare il luogo della foto, perché chi cerca Gubbio ci trovi",
            ],
            "dont": [
                "Consigliare percorsi che non abbiamo fatto di persona",
                "Promettere meteo o panorami: la montagna decide",
            ],
        },
    ],
}
GRAPHIC_LINE: dict[str, Any] = {
    "channels": [
        {
            "channel": HANDBOOK_CHANNEL,
            "palette": [
                {"name": "Verde oliva", "hex": "#6B7B3A", "role": "primary"},
                {"name": "Pietra di Gubbio", "hex": "#E6DCC8", "role": "background"},
                {"name": "Terracotta", "hex": "#B5563A", "role": "accent"},
                {"name": "Antracite", "hex": "#2F2F2C", "role": "text"},
            ],
            "fonts": [
                {"family": "Playfair Display", "usage": "titoli", "weights": [700]},
                {"family": "Source Sans 3", "usage": "testi e didascalie", "weights": [400, 600]},
            ],
            "logo_variants": [
                {
                    "name": "Logo verde",
                    "usage": "Sui modelli su fondo pietra",
                    "background": "#E6DCC8",
                },
                {"name": "Logo bianco", "usage": "Sulle foto, in basso a destra, piccolo"},
            ],
            "image_formats": [
                {"name": "Post verticale", "width": 1080, "height": 1350, "aspect_ratio": "4:5"},
                {"name": "Post quadrato", "width": 1080, "height": 1080, "aspect_ratio": "1:1"},
                {
                    "name": "Storie e Reel, fuori dal feed",
                    "width": 1080,
                    "height": 1920,
                    "aspect_ratio": "9:16",
                },
            ],
            "templates": [
                {
                    "name": "Il piatto della settimana",
                    "description": "Foto del piatto, titolo in Playfair su una fascia pietra, "
                    "gli ingredienti dell'orto in Source Sans",
                },
                {
                    "name": "Il sentiero del mese",
                    "description": "Foto del percorso con durata e dislivello in un riquadro "
                    "verde oliva, logo bianco in basso a destra",
                },
            ],
        }
    ]
}
POSITIONING: dict[str, Any] = {
    "statement": "Per le famiglie e gli escursionisti che cercano l'Umbria vera, il Sentiero è "
    "l'agriturismo a dieci minuti da Gubbio dove si dorme tra gli ulivi, si mangia quello che "
    "coltiviamo e si parte a piedi per il Monte Ingino: lo dice chi è già stato nostro ospite "
    "e torna.",
    "category": "Agriturismo con cucina di casa, vicino a Gubbio",
    "audience": ["Famiglie in vacanza in Umbria", "Escursionisti stranieri"],
    "differentiators": [
        "Olio del nostro uliveto e verdure del nostro orto in tavola",
        "I sentieri del Monte Ingino partono dal cancello",
        "Una famiglia che accoglie, non una reception",
    ],
    "values": ["Ospitalità", "Stagionalità", "Rispetto del territorio"],
    "personality": ["Accogliente", "Genuino", "Pratico"],
    "tone_of_voice": "Semplice e cordiale, in prima persona plurale (noi del Sentiero): nei "
    "post diamo del voi, nelle risposte del Lei finché l'ospite non ci dà del tu",
    "key_messages": [
        "Qui l'Umbria si assaggia: olio, orto e cucina di casa",
        "Dal nostro cancello ai sentieri del Monte Ingino",
        "Gubbio a dieci minuti, il silenzio della campagna intorno",
    ],
    "words_to_use": ["ospiti", "uliveto", "sentiero", "cucina di casa", "stagione"],
    "words_to_avoid": ["lusso", "resort", "offerta imperdibile", "low cost"],
    "competitors": [
        {
            "name": "Agriturismi della valle di Gubbio",
            "how_we_differ": "Sentieri che partono da casa e olio di nostra produzione",
        }
    ],
    "replies": {
        "within_hours": INBOX_SETTINGS["target_first_response_minutes"] // 60,
        "principles": [
            "Ringraziare sempre, anche chi si lamenta, e chiamare la persona per nome",
            "In pubblico una risposta cortese e breve; date, prezzi e dati personali in privato",
            "Firmare con il nome di chi risponde: Chiara, dal Sentiero",
            "Davanti a un errore: ammetterlo e dire cosa facciamo per rimediare",
        ],
        # Lower case: the handbook puts each after "Pass it on to the agency or a manager when:".
        "escalate_when": [
            "una recensione negativa su pulizia, sicurezza o cibo",
            "una richiesta di rimborso o una disdetta",
            "un giornalista, un'agenzia o un influencer propone una collaborazione",
        ],
    },
}
# The client's approver signs each off with a word, as the deliverables' history shows it.
DESIGN_APPROVALS: dict[str, str] = {
    "editorial_rules": "Regole editoriali per Instagram approvate dal titolare",
    "graphic_line": "Linea grafica approvata: colori e caratteri del nostro menù",
    "positioning": "Posizionamento approvato: è come ci raccontano i nostri ospiti",
}
# Setup makes the plan again from the approved rules; the manager approves it again.
PLAN_REAPPROVAL_NOTE = (
    "Piano rigenerato dalle regole editoriali approvate: i post già pronti restano al loro posto"
)
