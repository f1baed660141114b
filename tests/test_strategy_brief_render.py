"""The brief rendered to Markdown and HTML: content, escaping, version selection, errors."""

from __future__ import annotations

from html.parser import HTMLParser

from shared.auth import Role
from tests.conftest import Platform
from tests.test_errors import assert_problem
from tests.test_strategy_deliverables import (
    Json,
    approve,
    brief_body,
    create_engagement,
    deliverables_path,
    persona,
    save,
)
from tests.test_thin_thread import create_org

HOSTILE = '<script>alert("x")</script> & <b>bold</b> | pipe'


def hostile_brief() -> Json:
    return {
        **brief_body(),
        "context": f"Line one.\n{HOSTILE}",
        "targets": [persona(name=HOSTILE, description="Loves | tables")],
        "constraints": [HOSTILE],
    }


class _Text(HTMLParser):
    """Collects the text and the tags of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def render_path(engagement: Json) -> str:
    return deliverables_path(engagement, "brief") + "/render"


async def test_the_brief_renders_as_markdown(platform: Platform) -> None:
    engagement = await create_engagement(platform)
    assert (await save(platform, engagement, "brief", brief_body())).status_code == 201
    response = await platform.gateway.get(
        render_path(engagement),
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[engagement["organization_id"]]),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/markdown")
    markdown = response.text
    assert markdown.startswith("# Brief: Agriturismo La Quercia\n")
    assert "_Version 1 (draft)," in markdown
    for heading in (
        "Context",
        "Objectives",
        "Targets",
        "Tone of voice",
        "Constraints",
        "Budget",
        "Timing",
    ):
        assert f"\n## {heading}\n" in markdown
    assert "- Fill the shoulder season\n" in markdown
    assert "| Persona | Age | Interests | Language | Place | Notes |" in markdown
    assert "| Foodie couples | 25-34 | food_drink, travel | it | Umbria (regional) |  |" in markdown
    assert "12000.00 EUR." in markdown
    assert "From 2026-12-01 to 2027-05-31." in markdown
    assert "- 2027-03-01: Spring launch" in markdown


async def test_markdown_keeps_table_cells_and_list_items_on_one_line(platform: Platform) -> None:
    engagement = await create_engagement(platform)
    body = {**hostile_brief(), "constraints": ["first line\nsecond line"]}
    assert (await save(platform, engagement, "brief", body)).status_code == 201
    markdown = (
        await platform.gateway.get(render_path(engagement), headers=platform.auth(Role.MANAGER))
    ).text
    assert "- first line second line\n" in markdown
    assert "\\| pipe | 25-34 |" in markdown
    assert "Loves \\| tables |" in markdown


async def test_the_brief_renders_as_an_escaped_html_page(platform: Platform) -> None:
    engagement = await create_engagement(platform)
    assert (await save(platform, engagement, "brief", hostile_brief())).status_code == 201
    response = await platform.gateway.get(
        render_path(engagement), params={"format": "html"}, headers=platform.auth(Role.MANAGER)
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert '<meta charset="utf-8">' in page
    assert "<title>Brief: Agriturismo La Quercia</title>" in page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page

    parsed = _Text()
    parsed.feed(page)
    assert "script" not in parsed.tags
    assert "b" not in parsed.tags
    assert {"h1", "h2", "table", "ul", "li", "td"} <= set(parsed.tags)
    assert parsed.text.count(HOSTILE) == 3
    assert "Line one." in parsed.text


async def test_a_chosen_or_approved_version_is_rendered(platform: Platform) -> None:
    engagement = await create_engagement(platform)
    manager = platform.auth(Role.MANAGER)
    await save(platform, engagement, "brief", brief_body())
    await approve(platform, engagement, "brief", 1, manager)
    await save(platform, engagement, "brief", {**brief_body(), "tone": "Playful"})

    latest = await platform.gateway.get(render_path(engagement), headers=manager)
    assert "_Version 2 (draft)," in latest.text
    assert "Playful" in latest.text
    approved = await platform.gateway.get(
        render_path(engagement), params={"status": "approved"}, headers=manager
    )
    assert "_Version 1 (approved)," in approved.text
    assert "Playful" not in approved.text
    first = await platform.gateway.get(
        render_path(engagement), params={"version": 1}, headers=manager
    )
    assert first.text == approved.text


async def test_rendering_errors_are_problems(platform: Platform) -> None:
    engagement = await create_engagement(platform)
    manager = platform.auth(Role.MANAGER)
    assert_problem(
        await platform.gateway.get(render_path(engagement), headers=manager), 404, "not-found"
    )
    await save(platform, engagement, "brief", brief_body())
    assert_problem(
        await platform.gateway.get(
            render_path(engagement), params={"status": "approved"}, headers=manager
        ),
        404,
        "not-found",
    )
    assert_problem(
        await platform.gateway.get(
            render_path(engagement), params={"format": "pdf"}, headers=manager
        ),
        422,
        "validation-error",
    )
    stranger = platform.auth(Role.CLIENT_VIEWER, orgs=[await create_org(platform, "Cantina")])
    assert_problem(
        await platform.gateway.get(render_path(engagement), headers=stranger), 404, "not-found"
    )
