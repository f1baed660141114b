"""The console's words in Italian and English, and which language a request gets.

The language is the ``?lang=`` the caller chose (kept in a cookie), else the first of the
browser's ``Accept-Language`` the console speaks, else Italian (the clients' language).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

from fastapi import Request

Language = Literal["it", "en"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "it"
LANGUAGE_COOKIE = "engage_console_lang"

# key: (Italian, English)
MESSAGES: dict[str, tuple[str, str]] = {
    "console": ("Console di progetto", "Project console"),
    "skip": ("Vai al contenuto", "Skip to content"),
    "language": ("Lingua", "Language"),
    "sign_in": ("Accedi", "Sign in"),
    "sign_out": ("Esci", "Sign out"),
    "signed_in_as": ("Connesso come", "Signed in as"),
    "sign_in_dev": ("Token di sviluppo", "Development token"),
    "sign_in_dev_help": (
        "Emesso dalla piattaforma con il segreto di sviluppo, come `engage token`. "
        "Non disponibile in produzione.",
        "Issued by the platform with the development secret, as `engage token` does. "
        "Not available in production.",
    ),
    "sign_in_dev_off": (
        "Questo gateway verifica i token con il provider di identità (JWKS): "
        "incolla un token emesso dal provider.",
        "This gateway verifies tokens against the identity provider (JWKS): "
        "paste a token it issued.",
    ),
    "sign_in_oidc": ("Provider di identità", "Identity provider"),
    "sign_in_oidc_help": (
        "Accedi con il tuo account dell'organizzazione; torni qui con il tuo token.",
        "Sign in with your organisation's account; you come back here with your token.",
    ),
    "sign_in_oidc_go": ("Accedi con il provider", "Sign in with the provider"),
    "signed_in_oidc": ("Accesso eseguito.", "Signed in."),
    "continue": ("Continua", "Continue"),
    "sign_in_again": ("Accedi di nuovo", "Sign in again"),
    "name": ("Nome (soggetto del token)", "Name (the token's subject)"),
    "role": ("Ruolo", "Role"),
    "organization": ("Organizzazione", "Organisation"),
    "organization_help": (
        "Per i ruoli del cliente: l'id dell'organizzazione. I ruoli dell'agenzia vedono tutte "
        "le organizzazioni.",
        "For client roles: the organisation's id. Agency roles see every organisation.",
    ),
    "paste_token": ("Token bearer", "Bearer token"),
    "paste_token_help": (
        "Un JWT emesso dal provider di identità.",
        "A JWT from the identity provider.",
    ),
    "use_token": ("Usa questo token", "Use this token"),
    "token_storage": (
        "Il token resta solo in questa scheda (sessionStorage) e sparisce quando la chiudi.",
        "The token stays in this tab only (sessionStorage) and is gone when you close it.",
    ),
    "engagements": ("Ingaggi", "Engagements"),
    "engagements_intro": (
        "Gli ingaggi delle tue organizzazioni, i più recenti per primi.",
        "Your organisations' engagements, newest first.",
    ),
    "loading": ("Caricamento…", "Loading…"),
    "more": ("Altri", "More"),
    "none": ("Nessuno", "None"),
    "no_engagements": ("Nessun ingaggio visibile.", "No engagement you may see."),
    "mode": ("Modalità", "Mode"),
    "phase": ("Fase", "Phase"),
    "status": ("Stato", "Status"),
    "gates_waiting": ("Approvazioni in attesa", "Gates waiting"),
    "open_tasks": ("Attività aperte", "Open tasks"),
    "open_count": ("aperte", "open"),
    "overdue_tasks": ("Attività scadute", "Overdue tasks"),
    "sla_breaches": ("SLA superati", "SLA breaches"),
    "open_alerts": ("Allarmi aperti", "Open alerts"),
    "period": ("Periodo", "Period"),
    "not_started": ("non avviato", "not started"),
    "open": ("Apri", "Open"),
    "back": ("Tutti gli ingaggi", "All engagements"),
    "phases": ("Fasi", "Phases"),
    "done": ("conclusa", "done"),
    "current": ("in corso", "current"),
    "upcoming": ("da fare", "upcoming"),
    "deliverables": ("Deliverable", "Deliverables"),
    "recorded": ("registrato", "recorded"),
    "version": ("versione", "version"),
    "approved_version": ("Versione approvata", "Approved version"),
    "approve": ("Approva", "Approve"),
    "request_changes": ("Chiedi modifiche", "Request changes"),
    "reason": ("Motivo", "Reason"),
    "comment": ("Commento", "Comment"),
    "waiting_for": ("In attesa di", "Waiting for"),
    "missing": ("Mancano", "Missing"),
    "decisions": ("Decisioni", "Decisions"),
    "tasks": ("Attività", "Tasks"),
    "task": ("Attività", "Task"),
    "who": ("Chi", "Who"),
    "due": ("Scadenza", "Due"),
    "escalated": ("Escalation", "Escalated"),
    "overdue": ("scaduta", "overdue"),
    "alerts": ("Allarmi", "Alerts"),
    "acknowledge": ("Prendi in carico", "Acknowledge"),
    "note": ("Nota", "Note"),
    "no_alerts": ("Nessun allarme aperto.", "No open alert."),
    "conversations": ("Conversazioni", "Conversations"),
    "conversations_help": (
        "Le conversazioni aperte della casella; la risposta parte con le regole della modalità "
        "dell'ingaggio.",
        "The inbox's open conversations; a reply goes out under the engagement's mode rule.",
    ),
    "no_conversations": ("Nessuna conversazione aperta.", "No open conversation."),
    "triage_reason": ("Perché", "Why"),
    "first_response_due": ("prima risposta entro", "first response due"),
    "assigned_to": ("assegnata a", "assigned to"),
    "messages": ("Messaggi", "Messages"),
    "reply": ("Risposta", "Reply"),
    "send_reply": ("Invia la risposta", "Send the reply"),
    "reply_failed": ("Risposta non inviata", "Reply not sent"),
    "sla_breached": ("SLA superato", "SLA breached"),
    "sla_due_soon": ("SLA in scadenza", "SLA due soon"),
    "content_review": ("Contenuti da rivedere", "Content to review"),
    "no_content_review": ("Nessun contenuto in revisione.", "No content in review."),
    "variants": ("Varianti", "Variants"),
    "preview": ("Anteprima", "Preview"),
    "live": ("In diretta", "Live"),
    "live_help": (
        "Gli eventi dell'ingaggio arrivano qui e aggiornano la pagina senza ricaricarla.",
        "The engagement's events arrive here and update the page without reloading it.",
    ),
    "live_connecting": ("connessione…", "connecting…"),
    "live_connected": ("collegato", "connected"),
    "live_reconnecting": ("riconnessione…", "reconnecting…"),
    "insights": ("Ascolto e report", "Listening and reports"),
    "sentiment": ("Sentiment nel tempo", "Sentiment over time"),
    "sentiment_help": (
        "Sentiment netto per giorno, da -1 (negativo) a +1 (positivo); le barre: menzioni.",
        "Net sentiment per day, from -1 (negative) to +1 (positive); the bars: mentions.",
    ),
    "mentions": ("menzioni", "mentions"),
    "mention": ("menzione", "mention"),
    "no_mentions": ("Ancora nessuna menzione.", "No mention yet."),
    "map": ("Map Track", "Map Track"),
    "map_alt": ("Mappa delle menzioni per provincia", "Map of mentions by province"),
    "top_places": ("Luoghi più citati", "Most mentioned places"),
    "post_scheduled": ("programmato", "scheduled"),
    "post_publishing": ("in uscita", "publishing"),
    "post_unconfirmed": ("da verificare", "unconfirmed"),
    "post_published": ("pubblicato", "published"),
    "post_failed": ("non riuscito", "failed"),
    "post_cancelled": ("annullato", "cancelled"),
    "reports": ("Report", "Reports"),
    "no_reports": ("Ancora nessun report.", "No report yet."),
    "download_pdf": ("Scarica il PDF", "Download the PDF"),
    "calendar": ("Calendario editoriale", "Editorial calendar"),
    "monthly": ("Mese", "Month"),
    "weekly": ("Settimana", "Week"),
    "no_plan": ("Nessun piano editoriale ancora.", "No editorial plan yet."),
    "slots": ("uscite", "slots"),
    "filled": ("pronto", "filled"),
    "weekdays": ("lun,mar,mer,gio,ven,sab,dom", "Mon,Tue,Wed,Thu,Fri,Sat,Sun"),
    "phase_analysis": ("Analisi", "Analysis"),
    "phase_design": ("Progettazione", "Design"),
    "phase_setup": ("Set-up", "Set-up"),
    "phase_seeding": ("Seeding", "Seeding"),
    "phase_launch": ("Lancio", "Launch"),
    "phase_post_launch": ("Post-lancio", "Post-launch"),
    "problem": ("Problema", "Problem"),
    "done_ok": ("Fatto", "Done"),
    "unavailable": ("Non disponibile", "Unavailable"),
    "session_expired": (
        "La sessione è scaduta o il token non è valido: accedi di nuovo.",
        "The session expired or the token is not valid: sign in again.",
    ),
}


def language_of(request: Request) -> Language:
    """The language this request is answered in."""
    chosen = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    for language in LANGUAGES:
        if chosen == language:
            return language
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";", 1)[0].strip().lower()
        for language in LANGUAGES:
            if tag == language or tag.startswith(language + "-"):
                return language
    return DEFAULT_LANGUAGE


def translator(language: Language) -> Callable[[str], str]:
    """``t("key")``: the key's words in ``language`` (the key itself when it has none)."""
    index = LANGUAGES.index(language)

    def translate(key: str) -> str:
        words = MESSAGES.get(key)
        return words[index] if words is not None else key

    return translate
