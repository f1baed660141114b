"""The client report as a person reads it: the PDF's text holds the figures the HTML shows, the
charts are real pictures of the promised size, an empty period still renders and says so, and
the written summary says exactly what the figures say."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from pypdf import PdfReader

from services.reporting.kpis.schemas import (
    AuthorCount,
    ChannelPublishing,
    ContestKpis,
    ConversationKpis,
    DayVolume,
    EngagementKpis,
    ListeningKpis,
    ObjectiveState,
    ObjectiveStatus,
    Period,
    PlaceCount,
    PostFigures,
    PublishingKpis,
    SentimentShare,
    Trend,
    VoiceShare,
)
from services.reporting.rendering import (
    PostLink,
    RenderedReport,
    RenderingError,
    ReportContext,
    change_summary,
    period_days,
    render_report,
)
from services.reporting.rendering.charts import CHART_SIZE, MAP_WIDTH
from services.reporting.rendering.context import Language
from services.reporting.rendering.formatting import EN_DASH

ENGAGEMENT = uuid.UUID("5f0c8a1e-2b1d-4c3e-9a7f-1d2e3f4a5b6c")
ORGANIZATION = uuid.UUID("0b7e9c1a-3d2f-4e5a-8b9c-0d1e2f3a4b5c")
NOVEMBER = Period(
    starts_at=datetime(2026, 10, 31, 23, tzinfo=UTC), ends_at=datetime(2026, 11, 30, 23, tzinfo=UTC)
)
OCTOBER = Period(
    starts_at=datetime(2026, 10, 1, 22, tzinfo=UTC), ends_at=datetime(2026, 10, 31, 23, tzinfo=UTC)
)
# An Italian name with accents, so a font without them would show in the extracted text.
ORGANIZATION_NAME = "Pasticceria Città di Sant'Agata"
SILENT_POST = uuid.UUID("7a7a7a7a-0000-4000-8000-000000000001")


def _post(index: int, channel: str, reach: int, engagements: int, url: str | None) -> PostFigures:
    return PostFigures(
        publication_id=uuid.UUID(int=index) if url else SILENT_POST,
        channel=channel,
        published_at=datetime(2026, 11, 2 + index, 9, 30, tzinfo=UTC),
        url=url,
        reach=reach,
        impressions=reach * 2,
        engagements=engagements,
        engagement_rate=engagements / reach,
    )


def _volume(first: date, days: int, per_day: list[int]) -> list[DayVolume]:
    """Days whose mentions cycle through ``per_day``, split 50/25/15/5/5 by sentiment."""
    volume = []
    for offset in range(days):
        mentions = per_day[offset % len(per_day)]
        positive, neutral, negative = mentions // 2, mentions // 4, mentions * 15 // 100
        mixed = mentions * 5 // 100
        volume.append(
            DayVolume(
                day=first + timedelta(days=offset),
                mentions=mentions,
                positive=positive,
                neutral=neutral,
                negative=negative,
                mixed=mixed,
                unlabelled=mentions - positive - neutral - negative - mixed,
            )
        )
    return volume


def previous_kpis() -> EngagementKpis:
    return EngagementKpis(
        engagement_id=ENGAGEMENT,
        organization_id=ORGANIZATION,
        period=OCTOBER,
        computed_at=datetime(2026, 12, 1, 7, tzinfo=UTC),
        publishing=PublishingKpis(
            planned=34,
            published=32,
            failed=2,
            on_time=30,
            on_time_share=30 / 32,
            on_time_minutes=15,
            reach=48_000,
            impressions=95_000,
            engagements=2_333,
            engagement_rate=0.0486,
            followers=11_850,
            follower_growth=240,
            by_channel=[],
            top_posts=[],
            bottom_posts=[],
        ),
        listening=ListeningKpis(
            mentions=979,
            sentiment=SentimentShare(
                positive=480, neutral=250, negative=170, mixed=49, unlabelled=30
            ),
            net_sentiment=31.4,
            own_share_of_voice=0.52,
            share_of_voice=[],
            places=[],
            top_authors=[],
            volume=[],
        ),
        conversations=ConversationKpis(
            opened=150,
            answered=140,
            first_response_median_minutes=42.5,
            first_response_p90_minutes=180.0,
            within_sla=112,
            within_sla_share=0.8,
            open_backlog=4,
        ),
        contests=ContestKpis(contests=0, entries=0, valid_entries=0, winners=0),
    )


def november_kpis() -> EngagementKpis:
    places = [
        PlaceCount(region_code="03", region_name="Lombardia", mentions=412),
        PlaceCount(region_code="12", region_name="Lazio", mentions=230),
        PlaceCount(region_code="15", region_name="Campania", mentions=160),
        PlaceCount(region_code="19", region_name="Sicilia", mentions=121),
        PlaceCount(region_code="09", region_name="Toscana", mentions=88),
        PlaceCount(region_code="05", region_name="Veneto", mentions=64),
        PlaceCount(region_code="01", region_name="Piemonte", mentions=40),
        PlaceCount(region_code="04", region_name="Trentino-Alto Adige/Südtirol", mentions=9),
        PlaceCount(region_code="02", region_name="Valle d'Aosta/Vallée d'Aoste", mentions=2),
    ]
    return EngagementKpis(
        engagement_id=ENGAGEMENT,
        organization_id=ORGANIZATION,
        period=NOVEMBER,
        computed_at=datetime(2026, 12, 1, 7, tzinfo=UTC),
        publishing=PublishingKpis(
            planned=42,
            published=40,
            failed=1,
            on_time=37,
            on_time_share=37 / 40,
            on_time_minutes=15,
            reach=52_300,
            impressions=101_800,
            engagements=2_100,
            engagement_rate=0.0402,
            followers=12_480,
            follower_growth=630,
            by_channel=[
                ChannelPublishing(
                    channel="instagram",
                    planned=22,
                    published=21,
                    failed=1,
                    reach=31_000,
                    impressions=60_200,
                    engagements=1_450,
                    engagement_rate=1_450 / 31_000,
                ),
                ChannelPublishing(
                    channel="facebook",
                    planned=14,
                    published=13,
                    failed=0,
                    reach=17_300,
                    impressions=33_600,
                    engagements=520,
                    engagement_rate=520 / 17_300,
                ),
                ChannelPublishing(
                    channel="youtube",
                    planned=6,
                    published=6,
                    failed=0,
                    reach=4_000,
                    impressions=8_000,
                    engagements=130,
                    engagement_rate=130 / 4_000,
                ),
            ],
            top_posts=[
                _post(1, "instagram", 6_200, 540, "https://www.instagram.com/p/Cx1"),
                _post(2, "instagram", 5_100, 390, "https://www.instagram.com/p/Cx2"),
                _post(3, "facebook", 4_300, 250, "https://www.facebook.com/posts/3"),
                _post(4, "youtube", 2_900, 120, None),
                _post(5, "facebook", 3_000, 110, "https://www.facebook.com/posts/5"),
            ],
            bottom_posts=[
                _post(6, "facebook", 700, 8, "https://www.facebook.com/posts/6"),
                _post(7, "instagram", 900, 12, "https://www.instagram.com/p/Cx7"),
            ],
        ),
        listening=ListeningKpis(
            mentions=1_204,
            sentiment=SentimentShare(
                positive=560, neutral=300, negative=250, mixed=64, unlabelled=30
            ),
            net_sentiment=18.2,
            own_share_of_voice=0.55,
            share_of_voice=[
                VoiceShare(
                    query_id=uuid.UUID(int=101),
                    name="Pasticceria Sant'Agata",
                    competitor=False,
                    mentions=1_204,
                    share=0.55,
                ),
                VoiceShare(
                    query_id=uuid.UUID(int=102),
                    name="Dolci del Borgo",
                    competitor=True,
                    mentions=985,
                    share=0.45,
                ),
            ],
            places=places,
            top_authors=[
                AuthorCount(author="@golosa_milano", mentions=31),
                AuthorCount(author="@romafoodie", mentions=22),
            ],
            volume=_volume(date(2026, 11, 1), 30, [28, 35, 41, 52, 38, 47, 60]),
        ),
        conversations=ConversationKpis(
            opened=168,
            answered=160,
            first_response_median_minutes=35.0,
            first_response_p90_minutes=150.0,
            within_sla=144,
            within_sla_share=0.9,
            open_backlog=4,
        ),
        contests=ContestKpis(contests=1, entries=120, valid_entries=104, winners=3),
        objectives=[
            ObjectiveStatus(
                objective_id="awareness",
                objective_title="Più notorietà in Lombardia",
                metric="mentions",
                channel=None,
                comparator="at_least",
                target=1_000,
                unit="menzioni",
                deadline=date(2027, 3, 31),
                actual=1_204,
                previous=979,
                trend=Trend.UP,
                status=ObjectiveState.ON_TRACK,
            ),
            ObjectiveStatus(
                objective_id="engagement",
                objective_title="Una community che risponde",
                metric="engagement_rate",
                channel="instagram",
                comparator="at_least",
                target=5,
                unit="%",
                deadline=date(2027, 1, 31),
                actual=4.68,
                previous=5.1,
                trend=Trend.DOWN,
                status=ObjectiveState.AT_RISK,
            ),
            ObjectiveStatus(
                objective_id="care",
                objective_title="Risposte rapide",
                metric="first_response_median_minutes",
                channel=None,
                comparator="at_most",
                target=30,
                unit="min",
                deadline=date(2026, 11, 30),
                actual=35,
                previous=42.5,
                trend=Trend.DOWN,
                status=ObjectiveState.MISSED,
            ),
            ObjectiveStatus(
                objective_id="contest",
                objective_title="Concorso di Natale",
                metric="valid_entries",
                channel=None,
                comparator="at_least",
                target=100,
                unit="partecipazioni",
                deadline=date(2026, 12, 24),
                actual=104,
                previous=None,
                trend=None,
                status=ObjectiveState.ACHIEVED,
            ),
        ],
        previous=previous_kpis(),
    )


def empty_kpis() -> EngagementKpis:
    return EngagementKpis(
        engagement_id=ENGAGEMENT,
        organization_id=ORGANIZATION,
        period=NOVEMBER,
        computed_at=datetime(2026, 12, 1, 7, tzinfo=UTC),
        publishing=PublishingKpis(
            planned=0,
            published=0,
            failed=0,
            on_time=0,
            on_time_share=None,
            on_time_minutes=15,
            reach=0,
            impressions=0,
            engagements=0,
            engagement_rate=None,
            followers=None,
            follower_growth=None,
            by_channel=[],
            top_posts=[],
            bottom_posts=[],
        ),
        listening=ListeningKpis(
            mentions=0,
            sentiment=SentimentShare(),
            net_sentiment=None,
            own_share_of_voice=None,
            share_of_voice=[],
            places=[],
            top_authors=[],
            volume=[],
        ),
        conversations=ConversationKpis(
            opened=0,
            answered=0,
            first_response_median_minutes=None,
            first_response_p90_minutes=None,
            within_sla=0,
            within_sla_share=None,
            open_backlog=0,
        ),
        contests=ContestKpis(contests=0, entries=0, valid_entries=0, winners=0),
    )


def context(language: Language = "it") -> ReportContext:
    return ReportContext(
        organization_name=ORGANIZATION_NAME,
        engagement_id=ENGAGEMENT,
        first_day=date(2026, 11, 1),
        last_day=date(2026, 11, 30),
        language=language,
        time_zone="Europe/Rome",
        generated_at=datetime(2026, 12, 1, 7, 5, tzinfo=UTC),
        post_links=[
            PostLink(publication_id=SILENT_POST, url="https://www.facebook.com/posts/silent")
        ],
    )


def pdf_text(report: RenderedReport) -> str:
    reader = PdfReader(io.BytesIO(report.pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def flat(text: str) -> str:
    """Extracted text with line breaks and runs of spaces as single spaces: a long sentence may
    wrap anywhere, a figure never does."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def italian() -> RenderedReport:
    return render_report(november_kpis(), context("it"))


@pytest.fixture(scope="module")
def english() -> RenderedReport:
    return render_report(november_kpis(), context("en"))


ITALIAN_SUMMARY = (
    "Le menzioni sono aumentate del 23% (1.204 contro 979); il sentiment netto è sceso da +31 "
    "a +18; la quota di voce propria è salita dal 52% al 55%. I post pubblicati sono aumentati "
    "del 25% (40 contro 32); la copertura è aumentata del 9% (52.300 contro 48.000); le "
    "interazioni sono diminuite del 10% (2.100 contro 2.333); il tasso di interazione è sceso "
    "dal 4,9% al 4%. La mediana della prima risposta è scesa da 42,5 min a 35 min; la quota di "
    "risposte entro lo SLA è salita dall'80% al 90%; l'arretrato aperto è rimasto stabile a 4. "
    "Le partecipazioni ai concorsi sono salite da 0 a 120."
)
ENGLISH_SUMMARY = (
    "Mentions rose 23% (1,204 vs 979); net sentiment fell from +31 to +18; the own share of "
    "voice rose from 52% to 55%. Published posts rose 25% (40 vs 32); reach rose 9% (52,300 vs "
    "48,000); engagements fell 10% (2,100 vs 2,333); the engagement rate fell from 4.9% to 4%. "
    "The median first response fell from 42.5 min to 35 min; the share answered within SLA rose "
    "from 80% to 90%; the open backlog held at 4. Contest entries rose from 0 to 120."
)


def test_the_cover_names_the_days_the_period_covers_in_the_organisations_zone() -> None:
    # November in Rome: from 23:00 UTC on 31 October to 23:00 UTC on 30 November, excluded.
    assert period_days(NOVEMBER, ZoneInfo("Europe/Rome")) == (date(2026, 11, 1), date(2026, 11, 30))
    assert period_days(NOVEMBER, ZoneInfo("UTC")) == (date(2026, 10, 31), date(2026, 11, 30))


def test_the_summary_says_what_the_figures_say_in_italian() -> None:
    assert change_summary(november_kpis(), "it") == ITALIAN_SUMMARY


def test_the_summary_says_what_the_figures_say_in_english() -> None:
    assert change_summary(november_kpis(), "en") == ENGLISH_SUMMARY


def test_the_summary_elides_the_italian_article_before_a_vowel() -> None:
    kpis = november_kpis()
    assert kpis.previous is not None
    kpis.previous.listening.mentions = 1_115  # 1,204 is 8% more
    assert change_summary(kpis, "it").startswith(
        "Le menzioni sono aumentate dell'8% (1.204 contro 1.115);"
    )


def test_the_summary_without_a_previous_period_says_so() -> None:
    kpis = november_kpis()
    kpis.previous = None
    assert (
        change_summary(kpis, "en") == "There is no previous period to compare these figures with."
    )
    assert change_summary(kpis, "it") == (
        "Non c'è un periodo precedente con cui confrontare queste cifre."
    )


@pytest.mark.parametrize(
    ("report_name", "expected"),
    [
        (
            "italian",
            [
                ORGANIZATION_NAME,
                f"1 novembre 2026 {EN_DASH} 30 novembre 2026",
                "1.204",  # mentions
                "+18",  # net sentiment
                "35 min",  # first-response median
                "150 min",  # first-response p90
                "90%",  # within SLA
                "52.300",  # reach
                "4,68%",  # an objective's actual, in its unit
                "In linea",
                "A rischio",
                "Mancato",
                "Raggiunto",
                "Lombardia",
            ],
        ),
        (
            "english",
            [
                ORGANIZATION_NAME,
                f"1 November 2026 {EN_DASH} 30 November 2026",
                "1,204",
                "+18",
                "35 min",
                "150 min",
                "90%",
                "52,300",
                "4.68%",
                "On track",
                "At risk",
                "Missed",
                "Achieved",
                "Lombardia",
            ],
        ),
    ],
)
def test_the_pdf_holds_the_figures_the_html_shows(
    report_name: str, expected: list[str], request: pytest.FixtureRequest
) -> None:
    report: RenderedReport = request.getfixturevalue(report_name)
    text = flat(pdf_text(report))
    html = unescape(report.html.decode())
    for figure in expected:
        assert figure in text, figure
        assert figure in html, figure


def test_the_pdf_carries_the_written_summary(italian: RenderedReport) -> None:
    assert ITALIAN_SUMMARY in flat(pdf_text(italian))


def test_the_pdf_is_a4_with_a_footer_on_every_page_after_the_cover(
    english: RenderedReport,
) -> None:
    reader = PdfReader(io.BytesIO(english.pdf))
    pages = reader.pages
    assert len(pages) >= 4
    for number, page in enumerate(pages, start=1):
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert (round(width), round(height)) == (595, 842)  # A4 in points
        if number > 1:
            footer = flat(page.extract_text())
            assert f"Page {number} of {len(pages)}" in footer
            assert f"1 November 2026 {EN_DASH} 30 November 2026" in footer


def test_posts_link_to_their_pages(italian: RenderedReport) -> None:
    reader = PdfReader(io.BytesIO(italian.pdf))
    uris = {
        annotation.get_object()["/A"]["/URI"]
        for page in reader.pages
        for annotation in page.get("/Annots") or []
        if "/A" in annotation.get_object()
    }
    assert "https://www.instagram.com/p/Cx1" in uris
    assert "https://www.facebook.com/posts/silent" in uris  # from the context's links
    assert 'href="https://www.instagram.com/p/Cx1"' in italian.html.decode()


def test_every_chart_is_a_picture_of_the_promised_size(italian: RenderedReport) -> None:
    assert set(italian.charts) == {"volume", "sentiment", "channels", "map"}
    for name, png in italian.charts.items():
        with Image.open(io.BytesIO(png)) as image:
            assert image.format == "PNG"
            expected = (MAP_WIDTH, MAP_WIDTH * 4 // 5) if name == "map" else CHART_SIZE
            assert image.size == expected, name
            # Not a blank canvas: a chart has many colours, white is not all of it.
            assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or []) > 20, name
        assert 'src="data:image/png;base64,' in italian.html.decode()


@pytest.mark.parametrize(
    ("language", "no_data"), [("it", "Nessun dato nel periodo"), ("en", "No data in the period")]
)
def test_an_empty_period_renders_and_says_there_is_no_data(
    language: Language, no_data: str
) -> None:
    report = render_report(empty_kpis(), context(language))
    text = flat(pdf_text(report))
    assert no_data in text
    assert no_data in report.html.decode()
    assert ORGANIZATION_NAME in text
    for name, png in report.charts.items():
        with Image.open(io.BytesIO(png)) as image:
            expected = (MAP_WIDTH, MAP_WIDTH * 4 // 5) if name == "map" else CHART_SIZE
            assert image.size == expected, name


def test_labels_follow_the_report_language(
    italian: RenderedReport, english: RenderedReport
) -> None:
    italian_text, english_text = flat(pdf_text(italian)), flat(pdf_text(english))
    for label in ("Obiettivi", "Conversazioni", "Prima risposta, mediana", "Cosa è cambiato"):
        assert label in italian_text
        assert label not in english_text
    for label in ("Objectives", "Conversations", "First response, median", "What changed"):
        assert label in english_text
        assert label not in italian_text


def test_places_are_capped_in_the_table() -> None:
    kpis = november_kpis()
    kpis.listening.places = [
        PlaceCount(
            region_code=f"{code:02d}", region_name=f"Regione {code:02d}", mentions=100 - code
        )
        for code in range(1, 21)
    ] + [PlaceCount(region_code="99", region_name="Regione 99", mentions=1)]
    text = flat(pdf_text(render_report(kpis, context("en"))))
    assert "The top 20 of 21 regions." in text
    assert "Regione 99" not in text


def test_objectives_are_capped_in_the_table() -> None:
    kpis = november_kpis()
    kpis.objectives = [
        kpis.objectives[0].model_copy(update={"objective_title": f"Objective {n:02d}"})
        for n in range(1, 33)
    ]
    text = flat(pdf_text(render_report(kpis, context("en"))))
    assert "The first 30 of 32 objectives." in text
    assert "Objective 30" in text
    assert "Objective 31" not in text


def test_a_failure_is_a_rendering_error_naming_its_stage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(document: object) -> bytes:
        raise ValueError("no room for the table")

    monkeypatch.setattr("services.reporting.rendering.report.render_pdf", broken)
    with pytest.raises(RenderingError, match="pdf failed: no room for the table"):
        render_report(november_kpis(), context("it"))
