"""An organisation's assets through the gateway: CRUD, events, roles, tenancy, validation."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.auth import Role
from tests.conftest import Platform
from tests.test_errors import assert_problem
from tests.test_strategy_deliverables import Json, outbox_envelopes
from tests.test_thin_thread import create_org


def account(**overrides: object) -> Json:
    return {
        "kind": "account",
        "channel": "instagram",
        "handle": "@laquercia",
        "audience_size": 1840,
        "posts_per_week": 0.5,
        "last_activity_on": "2026-10-02",
        **overrides,
    }


EVERY_KIND: list[Json] = [
    account(),
    {"kind": "website", "url": "https://laquercia.example/", "monthly_visits": 900},
    {"kind": "newsletter", "name": "Dalla cucina", "subscribers": 310, "issues_per_month": 1},
    {
        "kind": "event",
        "name": "Festa della castagna",
        "place": "Gubbio",
        "starts_on": "2026-10-18",
        "ends_on": "2026-10-19",
        "recurring": True,
    },
    {"kind": "touchpoint", "name": "Printed menu", "place": "The restaurant"},
]


def assets_path(organization_id: str, asset_id: str = "") -> str:
    path = f"/v1/organizations/{organization_id}/assets"
    return f"{path}/{asset_id}" if asset_id else path


async def test_assets_of_every_kind_are_recorded_listed_replaced_and_removed(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    editor = platform.auth(Role.EDITOR)
    created = []
    for details in EVERY_KIND:
        response = await platform.gateway.post(
            assets_path(organization_id), json=details, headers=editor
        )
        assert response.status_code == 201, response.text
        assert response.json()["kind"] == details["kind"]
        assert response.json()["organization_id"] == organization_id
        created.append(response.json())
    assert created[0]["details"]["channel"] == "instagram"
    assert created[1]["details"]["url"] == "https://laquercia.example/"

    viewer = platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id])
    listed = await platform.gateway.get(assets_path(organization_id), headers=viewer)
    assert listed.status_code == 200
    assert sorted(a["kind"] for a in listed.json()) == sorted(d["kind"] for d in EVERY_KIND)
    only_accounts = await platform.gateway.get(
        assets_path(organization_id), params={"kind": "account"}, headers=viewer
    )
    assert [a["id"] for a in only_accounts.json()] == [created[0]["id"]]

    asset_path = assets_path(organization_id, created[0]["id"])
    replaced = await platform.gateway.put(
        asset_path, json=account(audience_size=2100), headers=editor
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["details"]["audience_size"] == 2100
    assert replaced.json()["updated_at"] >= created[0]["updated_at"]
    read = await platform.gateway.get(asset_path, headers=viewer)
    assert read.json()["details"]["audience_size"] == 2100

    removed = await platform.gateway.delete(asset_path, headers=editor)
    assert removed.status_code == 204
    assert_problem(await platform.gateway.get(asset_path, headers=viewer), 404, "not-found")

    envelopes = await outbox_envelopes(sessions, created[0]["id"])
    assert [(e["type"], e["data"].get("change")) for e in envelopes] == [
        ("engage.strategy.asset_recorded.v1", "created"),
        ("engage.strategy.asset_recorded.v1", "updated"),
        ("engage.strategy.asset_removed.v1", None),
    ]
    assert envelopes[0]["data"] == {
        "asset_id": created[0]["id"],
        "organization_id": organization_id,
        "kind": "account",
        "change": "created",
    }


async def test_the_same_account_twice_is_409(platform: Platform) -> None:
    organization_id = await create_org(platform)
    editor = platform.auth(Role.EDITOR)
    first = await platform.gateway.post(
        assets_path(organization_id), json=account(), headers=editor
    )
    assert first.status_code == 201
    again = await platform.gateway.post(
        assets_path(organization_id), json=account(handle="LaQuercia"), headers=editor
    )
    problem = assert_problem(again, 409, "conflict")
    assert problem["asset_id"] == first.json()["id"]
    other_channel = await platform.gateway.post(
        assets_path(organization_id), json=account(channel="facebook"), headers=editor
    )
    assert other_channel.status_code == 201
    # Replacing an account with its own handle is not a duplicate of itself.
    same = await platform.gateway.put(
        assets_path(organization_id, first.json()["id"]),
        json=account(posts_per_week=3),
        headers=editor,
    )
    assert same.status_code == 200, same.text


@pytest.mark.parametrize("role", [Role.CLIENT_APPROVER, Role.CLIENT_VIEWER])
async def test_client_roles_may_not_change_assets(platform: Platform, role: Role) -> None:
    organization_id = await create_org(platform)
    recorded = await platform.gateway.post(
        assets_path(organization_id), json=account(), headers=platform.auth(Role.MANAGER)
    )
    client = platform.auth(role, orgs=[organization_id])
    asset_path = assets_path(organization_id, recorded.json()["id"])
    for response in (
        await platform.gateway.post(assets_path(organization_id), json=account(), headers=client),
        await platform.gateway.put(asset_path, json=account(), headers=client),
        await platform.gateway.delete(asset_path, headers=client),
    ):
        assert_problem(response, 403, "forbidden")


async def test_another_organizations_assets_are_404(platform: Platform) -> None:
    organization_id = await create_org(platform)
    recorded = await platform.gateway.post(
        assets_path(organization_id), json=account(), headers=platform.auth(Role.EDITOR)
    )
    stranger = platform.auth(Role.CLIENT_VIEWER, orgs=[await create_org(platform, "Cantina")])
    asset_path = assets_path(organization_id, recorded.json()["id"])
    assert_problem(
        await platform.gateway.get(assets_path(organization_id), headers=stranger), 404, "not-found"
    )
    assert_problem(await platform.gateway.get(asset_path, headers=stranger), 404, "not-found")
    unknown_org = assets_path(str(uuid.uuid4()))
    assert_problem(
        await platform.gateway.post(
            unknown_org, json=account(), headers=platform.auth(Role.EDITOR)
        ),
        404,
        "not-found",
    )
    # An asset id read under another organisation's path is not found either.
    other_org = await create_org(platform, "Comune")
    assert_problem(
        await platform.gateway.get(
            assets_path(other_org, recorded.json()["id"]), headers=platform.auth(Role.MANAGER)
        ),
        404,
        "not-found",
    )


@pytest.mark.parametrize(
    ("details", "field"),
    [
        ({"kind": "account", "channel": "instagram"}, "body.account.handle"),
        (account(channel="myspace"), "body.account.channel"),
        (account(audience_size=-1), "body.account.audience_size"),
        (account(handle="two words"), "body.account.handle"),
        (account(notes="nul \u0000"), "body.account.notes"),
        (account(extra=True), "body.account.extra"),
        ({"kind": "website", "url": "not a url"}, "body.website.url"),
        ({"kind": "blog"}, "body"),
        (
            {
                "kind": "event",
                "name": "Fair",
                "place": "Perugia",
                "starts_on": "2026-10-18",
                "ends_on": "2026-10-01",
            },
            "body.event",
        ),
    ],
)
async def test_an_invalid_asset_is_422_naming_the_field(
    platform: Platform, details: Json, field: str
) -> None:
    organization_id = await create_org(platform)
    response = await platform.gateway.post(
        assets_path(organization_id), json=details, headers=platform.auth(Role.EDITOR)
    )
    problem = assert_problem(response, 422, "validation-error")
    fields = [error["field"] for error in problem["errors"]]  # type: ignore[attr-defined]
    assert any(name.startswith(field) for name in fields), fields


async def test_a_non_finite_number_is_422_not_500(platform: Platform) -> None:
    organization_id = await create_org(platform)
    response = await platform.gateway.post(
        assets_path(organization_id),
        content=b'{"kind": "account", "channel": "x", "handle": "a", "audience_size": 1, '
        b'"posts_per_week": Infinity}',
        headers={**platform.auth(Role.EDITOR), "Content-Type": "application/json"},
    )
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"][0]["field"] == "body.account.posts_per_week"  # type: ignore[index]
