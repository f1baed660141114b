"""The KPI routes over the rows of ``facts.py``: the reporting service's app
(422s naming the field, 404 for another organisation's engagement, CSV and XLSX) and the
gateway forwarding them. The period is the week of 1-7 February 2027 in Rome."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from openpyxl import load_workbook

from services.gateway.app import build_app as build_gateway
from services.reporting.app import build_app
from services.reporting.kpis.exports import XLSX_MEDIA_TYPE
from shared.auth import Role, issue_dev_token
from shared.settings import Settings
from tests.conftest import _serve, free_port
from tests.reporting_kpis.facts import END, START, Stored


@pytest.fixture(scope="module")
async def client(reporting_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The reporting service's app, called in process."""
    app = build_app(reporting_settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://reporting"
    ) as http:
        yield http
    await app.state.runtime.stop()


def viewer(settings: Settings, organization_id: uuid.UUID) -> dict[str, str]:
    token = issue_dev_token(settings, "viewer", [Role.CLIENT_VIEWER], [str(organization_id)])
    return {"Authorization": f"Bearer {token}"}


async def test_the_route_answers_the_kpis(
    client: httpx.AsyncClient, reporting_settings: Settings, stored: Stored
) -> None:
    response = await client.get(
        f"/engagements/{stored.engagement_id}/kpis",
        params={"from": START, "to": END, "channel": "instagram", "compare": "true"},
        headers=viewer(reporting_settings, stored.organization_id),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["channel"] == "instagram"
    assert body["publishing"]["published"] == 3
    assert body["listening"]["mentions"] == 4
    assert body["previous"]["listening"]["mentions"] == 1
    assert len(body["objectives"]) == 6


@pytest.mark.parametrize(
    ("params", "field", "kind"),
    [
        ({"from": END, "to": START}, "query.to", "period"),
        ({"from": "2026-01-01T00:00:00+01:00", "to": END}, "query.from", "period_too_long"),
        ({"from": "2027-02-01T00:00:00", "to": END}, "query.from", "timezone_aware"),
        ({"channel": "Not a channel"}, "query.channel", "string_pattern_mismatch"),
    ],
)
async def test_bad_parameters_answer_422_naming_the_field(
    client: httpx.AsyncClient,
    reporting_settings: Settings,
    stored: Stored,
    params: dict[str, str],
    field: str,
    kind: str,
) -> None:
    response = await client.get(
        f"/engagements/{stored.engagement_id}/kpis",
        params=params,
        headers=viewer(reporting_settings, stored.organization_id),
    )

    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert (error["field"], error["type"]) == (field, kind)


async def test_another_organisations_engagement_answers_404(
    client: httpx.AsyncClient, reporting_settings: Settings, stored: Stored
) -> None:
    for route in ("kpis", "kpis.csv", "kpis.xlsx"):
        response = await client.get(
            f"/engagements/{stored.foreign_engagement_id}/{route}",
            params={"from": START, "to": END},
            headers=viewer(reporting_settings, stored.organization_id),
        )
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:engage:problem:not-found"


async def test_csv_export(
    client: httpx.AsyncClient, reporting_settings: Settings, stored: Stored
) -> None:
    response = await client.get(
        f"/engagements/{stored.engagement_id}/kpis.csv",
        params={"from": START, "to": END},
        headers=viewer(reporting_settings, stored.organization_id),
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="kpis-{stored.engagement_id}-20270201-20270208.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.text)))
    titles = [rows[0][0]] + [rows[i + 1][0] for i, row in enumerate(rows) if row == []]
    assert titles == ["summary", "by_channel", "objectives", "places", "volume"]
    summary = dict(row for row in rows[2 : rows.index([])])
    assert (summary["reach"], summary["engagement_rate"], summary["net_sentiment"]) == (
        "300",
        "0.1333",
        "20.0",
    )
    assert summary["followers"] == "1620"
    places = rows.index(["places"])
    assert rows[places + 1 : places + 4] == [
        ["region_code", "region_name", "mentions"],
        ["09", "Toscana", "3"],
        ["12", "Lazio", "2"],
    ]
    volume = rows.index(["volume"])
    assert rows[volume + 2][:2] == ["2027-02-01", "2"]
    assert len(rows) == volume + 2 + 7


async def test_xlsx_export(
    client: httpx.AsyncClient, reporting_settings: Settings, stored: Stored
) -> None:
    response = await client.get(
        f"/engagements/{stored.engagement_id}/kpis.xlsx",
        params={"from": START, "to": END, "compare": "true"},
        headers=viewer(reporting_settings, stored.organization_id),
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response.headers["content-disposition"].endswith('.xlsx"')
    workbook = load_workbook(io.BytesIO(response.content), read_only=True)
    assert workbook.sheetnames == ["summary", "by_channel", "objectives", "places", "volume"]
    summary = {row[0]: row[1:] for row in workbook["summary"].iter_rows(values_only=True)}
    assert summary["figure"] == ("value", "previous")
    assert summary["reach"] == (300, 0)
    assert summary["mentions"] == (6, 1)
    objectives = list(workbook["objectives"].iter_rows(values_only=True))
    assert objectives[0][-1] == "status"
    assert {row[-1] for row in objectives[1:]} == {
        "on_track",
        "missed",
        "achieved",
        "at_risk",
        "no_data",
    }
    assert len(list(workbook["volume"].iter_rows(values_only=True))) == 1 + 7


async def test_the_gateway_forwards_the_kpi_routes(
    reporting_settings: Settings, stored: Stored
) -> None:
    port = free_port()
    urls = reporting_settings.service_urls.model_copy(
        update={"reporting": f"http://127.0.0.1:{port}"}
    )
    scoped = reporting_settings.model_copy(update={"service_urls": urls})
    server, serving = await _serve(build_app(scoped), port)
    gateway = build_gateway(scoped)
    operations = gateway.openapi()["paths"]
    path = "/v1/engagements/{engagement_id}/kpis"
    assert operations[path]["get"]["operationId"] == "getEngagementKpis"
    assert operations[path + ".csv"]["get"]["operationId"] == "exportEngagementKpisCsv"
    xlsx = operations[path + ".xlsx"]["get"]
    assert xlsx["operationId"] == "exportEngagementKpisXlsx"
    assert XLSX_MEDIA_TYPE in xlsx["responses"]["200"]["content"]
    assert {"401", "404", "422"} <= xlsx["responses"].keys()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gateway), base_url="http://gateway"
        ) as http:
            headers = viewer(scoped, stored.organization_id)
            params = {"from": START, "to": END}
            answered = await http.get(
                f"/v1/engagements/{stored.engagement_id}/kpis", params=params, headers=headers
            )
            exported = await http.get(
                f"/v1/engagements/{stored.engagement_id}/kpis.csv", params=params, headers=headers
            )
            refused = await http.get(
                f"/v1/engagements/{stored.foreign_engagement_id}/kpis",
                params=params,
                headers=headers,
            )
    finally:
        server.should_exit = True
        await serving

    assert answered.status_code == 200, answered.text
    assert answered.json()["publishing"]["reach"] == 300
    assert exported.headers["content-disposition"].startswith("attachment; filename=")
    assert exported.text.startswith("summary\r\n")
    assert refused.status_code == 404
