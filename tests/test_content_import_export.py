"""Bulk import of posts (CSV, JSON) and CSV export, through the gateway."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.auth import Role
from tests.conftest import Platform
from tests.test_content_items import create_item, outbox_events
from tests.test_thin_thread import create_org


async def import_file(
    platform: Platform,
    organization_id: str,
    content: bytes,
    content_type: str,
    role: Role = Role.EDITOR,
) -> Any:
    return await platform.gateway.post(
        "/v1/content-items/import",
        params={"organization_id": organization_id},
        content=content,
        headers={**platform.auth(role), "Content-Type": content_type},
    )


async def items_of(platform: Platform, organization_id: str) -> list[dict[str, Any]]:
    response = await platform.gateway.get(
        "/v1/content-items",
        params={"organization_id": organization_id},
        headers=platform.auth(Role.EDITOR),
    )
    items: list[dict[str, Any]] = response.json()
    return items


GOOD_CSV = (
    "title,kind,body,channels,text:x,client_approval_required\r\n"
    'Vendemmia,text,"Sabato si vendemmia\ninsieme #vino",sandbox|x,Vendemmia sabato!,true\r\n'
    "Olio nuovo,text,Arriva l'olio nuovo,mastodon,,\r\n"
)


async def test_a_csv_file_imports_posts_with_their_variants(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    response = await import_file(platform, organization_id, GOOD_CSV.encode(), "text/csv")
    assert response.status_code == 201, response.text
    assert response.json()["imported"] == 2
    first, second = await items_of(platform, organization_id)
    assert (first["title"], first["body"]) == ("Vendemmia", "Sabato si vendemmia\ninsieme #vino")
    assert first["client_approval_required"] is True
    texts = {variant["channel"]: variant["text"] for variant in first["variants"]}
    assert texts == {"sandbox": first["body"], "x": "Vendemmia sabato!"}
    assert [v["channel"] for v in second["variants"]] == ["mastodon"]
    assert second["client_approval_required"] is False
    (event,) = await outbox_events(sessions, "content.items_imported", organization_id)
    assert event["data"]["item_ids"] == response.json()["item_ids"]
    assert event["data"]["format"] == "csv"


async def test_a_malformed_csv_reports_each_bad_row_by_line_and_writes_nothing(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    rows = (
        "title,kind,body,channels,text:x\r\n"  # line 1
        'Buono,text,"due\nrighe",x,Ciao\r\n'  # lines 2-3: fine
        f"Troppo lungo,text,,x,{'a' * 281}\r\n"  # line 4: breaks X's limit
        "Strano,hologram,,,\r\n"  # line 5: unknown kind
        "Corto,text\r\n"  # line 6: missing fields
        ",text,,,\r\n"  # line 7: no title
        "Solo testo,text,,,Ciao\r\n"  # line 8: text for x, but x not among channels
    )
    response = await import_file(platform, organization_id, rows.encode(), "text/csv")
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "urn:engage:problem:import-failed"
    reported = {(row["line"], row["field"]) for row in problem["rows"]}
    assert reported == {(4, "x.text"), (5, "kind"), (6, None), (7, "title"), (8, None)}
    by_line = {row["line"]: row["reason"] for row in problem["rows"]}
    assert by_line[4].startswith("max_length:")
    assert "expected 5 fields, found 2" in by_line[6]
    assert "text:x" in by_line[8]
    assert await items_of(platform, organization_id) == []


async def test_a_bad_header_or_encoding_is_reported_on_its_line(platform: Platform) -> None:
    organization_id = await create_org(platform)
    unknown = await import_file(platform, organization_id, b"title,kind,colour\r\n", "text/csv")
    assert unknown.status_code == 422
    assert unknown.json()["rows"] == [
        {"line": 1, "field": None, "reason": "unknown column 'colour'"}
    ]
    missing = await import_file(platform, organization_id, b"body\r\nciao\r\n", "text/csv")
    assert {row["reason"] for row in missing.json()["rows"]} == {
        "the column 'title' is required",
        "the column 'kind' is required",
    }
    latin1 = "title,kind\r\nok,text\r\ncaffè,text\r\n".encode("latin-1")
    encoding = await import_file(platform, organization_id, latin1, "text/csv")
    assert encoding.json()["rows"] == [
        {"line": 3, "field": None, "reason": "the file is not UTF-8 text"}
    ]
    empty = await import_file(platform, organization_id, b"title,kind\r\n", "text/csv")
    assert empty.json()["rows"][0]["reason"] == "the file has no posts"
    assert await items_of(platform, organization_id) == []


async def test_a_json_file_imports_and_a_broken_one_names_the_line(platform: Platform) -> None:
    organization_id = await create_org(platform)
    posts = [
        {"title": "Uno", "kind": "text", "body": "primo", "variants": [{"channel": "sandbox"}]},
        {"title": "Due", "kind": "link", "link": "https://a.example/", "variants": []},
    ]
    good = await import_file(
        platform, organization_id, json.dumps(posts, indent=2).encode(), "application/json"
    )
    assert good.status_code == 201, good.text
    assert [item["title"] for item in await items_of(platform, organization_id)] == ["Uno", "Due"]

    other = await create_org(platform, "Altro cliente")
    invalid_rows = (
        '[\n  {"title": "Ok", "kind": "text"},\n  {"title": "Link", "kind": "link"},\n  3\n]'
    )
    invalid = await import_file(platform, other, invalid_rows.encode(), "application/json")
    assert invalid.status_code == 422
    assert [(row["line"], row["field"]) for row in invalid.json()["rows"]] == [
        (3, None),
        (4, None),
    ]
    assert "a link item needs a link" in invalid.json()["rows"][0]["reason"]
    broken = '[\n  {"title": "Ok", "kind": "text"},\n  {"title": "Rotto", "kind": }\n]'
    syntax = await import_file(platform, other, broken.encode(), "application/json")
    (row,) = syntax.json()["rows"]
    assert row["line"] == 3
    assert row["reason"].startswith("malformed JSON")
    not_array = await import_file(platform, other, b'{"title": "x"}', "application/json")
    assert not_array.json()["rows"][0]["reason"] == "expected a JSON array of content items"
    assert await items_of(platform, other) == []


async def test_only_writers_import_and_only_csv_or_json(platform: Platform) -> None:
    organization_id = await create_org(platform)
    viewer = await import_file(
        platform, organization_id, GOOD_CSV.encode(), "text/csv", Role.CLIENT_VIEWER
    )
    assert viewer.status_code == 403
    xml = await import_file(platform, organization_id, b"<posts/>", "application/xml")
    assert xml.status_code == 415
    assert xml.json()["supported"] == ["application/json", "text/csv"]


async def test_the_csv_export_reimports_into_the_same_posts(platform: Platform) -> None:
    source = await create_org(platform)
    imported = await import_file(platform, source, GOOD_CSV.encode(), "text/csv")
    assert imported.status_code == 201
    formula = {"title": "Auguri", "kind": "text", "body": "@mario =1+1", "variants": []}
    await create_item(platform, {"organization_id": source, **formula})
    export = await platform.gateway.get(
        "/v1/content-items/export.csv",
        params={"organization_id": source},
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[source]),
    )
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [row["title"] for row in rows] == ["Vendemmia", "Olio nuovo", "Auguri"]
    assert rows[2]["body"] == "'@mario =1+1"
    assert rows[0]["status"] == "draft"
    assert rows[0]["channels"] == "sandbox|x"
    assert rows[0]["text:x"] == "Vendemmia sabato!"

    copy = await create_org(platform, "Copia")
    again = await import_file(platform, copy, export.content, "text/csv")
    assert again.status_code == 201, again.text
    fields = ("title", "kind", "body", "link", "client_approval_required")

    def shape(items: list[dict[str, Any]]) -> list[Any]:
        return [
            (
                [item[name] for name in fields],
                [(v["channel"], v["text"], v["title"], v["link"]) for v in item["variants"]],
            )
            for item in items
        ]

    assert shape(await items_of(platform, copy)) == shape(await items_of(platform, source))
