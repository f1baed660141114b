"""Every word the report prints, in Italian and English. One frozen dataclass per language, so
mypy refuses a label that one language forgot."""

from __future__ import annotations

from dataclasses import dataclass

from services.reporting.kpis.schemas import ObjectiveState, Trend
from services.reporting.rendering.context import Language

CHANNEL_NAMES = {
    "facebook": "Facebook",
    "instagram": "Instagram",
    "x": "X",
    "youtube": "YouTube",
    "pinterest": "Pinterest",
    "vimeo": "Vimeo",
    "spotify": "Spotify",
    "foursquare": "Foursquare",
    "mastodon": "Mastodon",
    "sandbox": "Sandbox",
}
TREND_ARROWS = {Trend.UP: "↑", Trend.DOWN: "↓", Trend.FLAT: "→"}
COMPARATORS = {"at_least": "≥", "at_most": "≤"}


def channel_name(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel.title())


@dataclass(frozen=True)
class Words:
    report_title: str
    period: str
    engagement: str
    generated: str
    channel: str
    all_channels: str
    page: str  # "{page}" and "{pages}" are filled in by the PDF's footer

    summary: str
    key_figures: str
    objectives: str
    listening: str
    publishing: str
    map: str
    posts: str
    conversations: str
    contests: str

    objective: str
    target: str
    actual: str
    previous: str
    trend: str
    status: str
    states: dict[ObjectiveState, str]
    trends: dict[Trend, str]

    mentions: str
    net_sentiment: str
    own_share_of_voice: str
    sentiments: dict[str, str]
    share_of_voice: str
    voices: str
    query: str
    competitor: str
    own: str
    share: str
    places: str
    region: str
    top_authors: str
    author: str

    planned: str
    published: str
    failed: str
    on_time_share: str
    reach: str
    impressions: str
    engagements: str
    engagement_rate: str
    followers: str
    follower_growth: str
    by_channel: str

    top_posts: str
    bottom_posts: str
    rank: str
    published_at: str
    link: str
    open_link: str
    no_posts: str

    opened: str
    answered: str
    first_response_median: str
    first_response_p90: str
    within_sla: str
    within_sla_share: str
    open_backlog: str

    contest_count: str
    entries: str
    valid_entries: str
    winners: str

    no_data: str
    no_objectives: str
    places_note: str  # "{shown}" of "{total}" regions listed
    objectives_note: str

    volume_title: str
    volume_axis: str
    day_axis: str
    sentiment_title: str
    sentiment_axis: str
    channels_title: str
    posts_axis: str
    engagements_axis: str
    map_title: str


ITALIAN = Words(
    report_title="Report dell'engagement",
    period="Periodo",
    engagement="Engagement",
    generated="Generato il",
    channel="Canale",
    all_channels="Tutti i canali",
    page="Pagina {page} di {pages}",
    summary="Cosa è cambiato",
    key_figures="Cifre chiave",
    objectives="Obiettivi",
    listening="Ascolto",
    publishing="Pubblicazione",
    map="Map Track: le menzioni in Italia",
    posts="Post",
    conversations="Conversazioni",
    contests="Concorsi",
    objective="Obiettivo",
    target="Target",
    actual="Attuale",
    previous="Precedente",
    trend="Tendenza",
    status="Stato",
    states={
        ObjectiveState.ON_TRACK: "In linea",
        ObjectiveState.AT_RISK: "A rischio",
        ObjectiveState.MISSED: "Mancato",
        ObjectiveState.ACHIEVED: "Raggiunto",
        ObjectiveState.NO_DATA: "Nessun dato",
    },
    trends={Trend.UP: "in salita", Trend.DOWN: "in discesa", Trend.FLAT: "stabile"},
    mentions="Menzioni",
    net_sentiment="Sentiment netto",
    own_share_of_voice="Quota di voce propria",
    sentiments={
        "positive": "Positivo",
        "neutral": "Neutro",
        "negative": "Negativo",
        "mixed": "Misto",
        "unlabelled": "Non classificato",
    },
    share_of_voice="Quota di voce",
    voices="Quota di voce e autori",
    query="Ricerca",
    competitor="Concorrente",
    own="Propria",
    share="Quota",
    places="Regioni più menzionate",
    region="Regione",
    top_authors="Autori più attivi",
    author="Autore",
    planned="Pianificati",
    published="Pubblicati",
    failed="Falliti",
    on_time_share="Puntuali",
    reach="Copertura",
    impressions="Impression",
    engagements="Interazioni",
    engagement_rate="Tasso di interazione",
    followers="Follower",
    follower_growth="Crescita follower",
    by_channel="Per canale",
    top_posts="I post migliori",
    bottom_posts="I post meno efficaci",
    rank="N.",
    published_at="Pubblicato",
    link="Link",
    open_link="apri il post",
    no_posts="Nessun post pubblicato nel periodo.",
    opened="Aperte",
    answered="Con prima risposta",
    first_response_median="Prima risposta, mediana",
    first_response_p90="Prima risposta, 90° percentile",
    within_sla="Entro lo SLA",
    within_sla_share="Quota entro lo SLA",
    open_backlog="Arretrato aperto",
    contest_count="Concorsi",
    entries="Partecipazioni",
    valid_entries="Partecipazioni valide",
    winners="Vincitori",
    no_data="Nessun dato nel periodo",
    no_objectives="Nessun obiettivo approvato da confrontare.",
    places_note="Le prime {shown} regioni su {total}.",
    objectives_note="I primi {shown} obiettivi su {total}.",
    volume_title="Menzioni al giorno, per sentiment",
    volume_axis="Menzioni (numero)",
    day_axis="Giorno",
    sentiment_title="Ripartizione del sentiment",
    sentiment_axis="Quota delle menzioni (%)",
    channels_title="Post e interazioni per canale",
    posts_axis="Post pubblicati (numero)",
    engagements_axis="Interazioni (numero)",
    map_title="Menzioni per regione",
)

ENGLISH = Words(
    report_title="Engagement report",
    period="Period",
    engagement="Engagement",
    generated="Generated on",
    channel="Channel",
    all_channels="All channels",
    page="Page {page} of {pages}",
    summary="What changed",
    key_figures="Key figures",
    objectives="Objectives",
    listening="Listening",
    publishing="Publishing",
    map="Map Track: mentions across Italy",
    posts="Posts",
    conversations="Conversations",
    contests="Contests",
    objective="Objective",
    target="Target",
    actual="Actual",
    previous="Previous",
    trend="Trend",
    status="Status",
    states={
        ObjectiveState.ON_TRACK: "On track",
        ObjectiveState.AT_RISK: "At risk",
        ObjectiveState.MISSED: "Missed",
        ObjectiveState.ACHIEVED: "Achieved",
        ObjectiveState.NO_DATA: "No data",
    },
    trends={Trend.UP: "rising", Trend.DOWN: "falling", Trend.FLAT: "flat"},
    mentions="Mentions",
    net_sentiment="Net sentiment",
    own_share_of_voice="Own share of voice",
    sentiments={
        "positive": "Positive",
        "neutral": "Neutral",
        "negative": "Negative",
        "mixed": "Mixed",
        "unlabelled": "Unlabelled",
    },
    share_of_voice="Share of voice",
    voices="Share of voice and authors",
    query="Query",
    competitor="Competitor",
    own="Own",
    share="Share",
    places="Most mentioned regions",
    region="Region",
    top_authors="Most active authors",
    author="Author",
    planned="Planned",
    published="Published",
    failed="Failed",
    on_time_share="On time",
    reach="Reach",
    impressions="Impressions",
    engagements="Engagements",
    engagement_rate="Engagement rate",
    followers="Followers",
    follower_growth="Follower growth",
    by_channel="By channel",
    top_posts="Top posts",
    bottom_posts="Least effective posts",
    rank="#",
    published_at="Published",
    link="Link",
    open_link="open the post",
    no_posts="No post was published in the period.",
    opened="Opened",
    answered="First answered",
    first_response_median="First response, median",
    first_response_p90="First response, 90th percentile",
    within_sla="Within SLA",
    within_sla_share="Share within SLA",
    open_backlog="Open backlog",
    contest_count="Contests",
    entries="Entries",
    valid_entries="Valid entries",
    winners="Winners",
    no_data="No data in the period",
    no_objectives="No approved objective to compare against.",
    places_note="The top {shown} of {total} regions.",
    objectives_note="The first {shown} of {total} objectives.",
    volume_title="Mentions per day, by sentiment",
    volume_axis="Mentions (count)",
    day_axis="Day",
    sentiment_title="Sentiment breakdown",
    sentiment_axis="Share of mentions (%)",
    channels_title="Posts and engagements per channel",
    posts_axis="Posts published (count)",
    engagements_axis="Engagements (count)",
    map_title="Mentions by region",
)

WORDS: dict[Language, Words] = {"it": ITALIAN, "en": ENGLISH}
