"""Channel-mix scoring: properties of the pure scoring (hypothesis) and the API that stores it."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.strategy.channel_mix.profiles import PROFILES
from services.strategy.channel_mix.schemas import ChannelMixInputs, Factor, Verdict
from services.strategy.channel_mix.scoring import score_channel_mix
from services.strategy.vocabulary import AgeBand, Goal, Interest, Persona, Place, Reach
from shared.auth import Role
from shared.domain import Channel, ContentKind
from tests.conftest import Platform
from tests.test_errors import assert_problem
from tests.test_strategy_deliverables import Json, create_engagement, persona
from tests.test_thin_thread import create_org


def distinct(values: st.SearchStrategy[object], min_size: int = 1) -> st.SearchStrategy[list]:  # type: ignore[type-arg]
    return st.lists(values, min_size=min_size, unique=True)


personas = st.builds(
    Persona,
    name=st.just("Persona"),
    age_band=st.sampled_from(AgeBand),
    interests=distinct(st.sampled_from(Interest)),
    language=st.sampled_from(["it", "en", "de", "fr-CH", "es"]),
    place=st.builds(Place, name=st.just("Somewhere"), reach=st.sampled_from(Reach)),
)

channel_mix_inputs = st.builds(
    ChannelMixInputs,
    personas=st.lists(personas, min_size=1, max_size=5),
    objectives=distinct(st.sampled_from(Goal)),
    content_kinds=distinct(st.sampled_from(ContentKind)),
    effort_hours_per_week=st.floats(min_value=0.25, max_value=168),
    threshold=st.floats(min_value=0, max_value=100),
)


@given(channel_mix_inputs)
@settings(max_examples=300)
def test_each_total_is_the_sum_of_its_contributions(inputs: ChannelMixInputs) -> None:
    for score in score_channel_mix(inputs).scores:
        assert [c.factor for c in score.contributions] == list(Factor)
        assert math.isclose(
            sum(c.points for c in score.contributions), score.total, abs_tol=1e-6
        ), score
        assert all(c.explanation for c in score.contributions)


@given(channel_mix_inputs)
@settings(max_examples=200)
def test_scoring_is_deterministic(inputs: ChannelMixInputs) -> None:
    first = score_channel_mix(inputs)
    again = score_channel_mix(ChannelMixInputs.model_validate(inputs.model_dump(mode="json")))
    assert again == first


@given(channel_mix_inputs)
@settings(max_examples=300)
def test_the_recommended_mix_reaches_the_threshold_and_fits_the_effort(
    inputs: ChannelMixInputs,
) -> None:
    mix = score_channel_mix(inputs)
    scored = [score.channel for score in mix.scores]
    assert sorted(scored) == sorted(channel for channel in Channel if channel != Channel.MASTODON)
    assert [s.total for s in mix.scores] == sorted((s.total for s in mix.scores), reverse=True)
    recommended = [s for s in mix.scores if s.verdict == Verdict.RECOMMENDED]
    assert mix.recommended == [s.channel for s in recommended]
    assert Channel.SANDBOX not in mix.recommended
    assert all(s.total >= inputs.threshold for s in recommended)
    hours = sum(s.weekly_hours for s in recommended)
    assert hours <= inputs.effort_hours_per_week
    assert math.isclose(mix.recommended_hours_per_week, hours, abs_tol=0.01)
    for score in mix.scores:
        if score.verdict == Verdict.OVER_CAPACITY:
            assert score.total >= inputs.threshold
            assert hours + score.weekly_hours > inputs.effort_hours_per_week


@given(channel_mix_inputs)
def test_factors_stay_within_their_documented_ranges(inputs: ChannelMixInputs) -> None:
    bounds = {
        Factor.AGE: (0, 25),
        Factor.INTERESTS: (0, 20),
        Factor.PLACE: (0, 10),
        Factor.LANGUAGE: (-5, 5),
        Factor.OBJECTIVES: (0, 25),
        Factor.CONTENT: (0, 15),
        Factor.EFFORT: (-10, 0),
    }
    for score in score_channel_mix(inputs).scores:
        for contribution in score.contributions:
            low, high = bounds[contribution.factor]
            assert low <= contribution.points <= high, contribution


def test_every_profile_is_complete_and_formats_sum_to_one() -> None:
    for channel, profile in PROFILES.items():
        assert set(profile.age_reach) == set(AgeBand), channel
        assert set(profile.goals) == set(Goal), channel
        assert set(profile.locality) == set(Reach), channel
        assert math.isclose(sum(profile.formats.values()), 1.0), channel
        assert profile.weekly_hours > 0, channel


def test_a_video_channel_gets_no_content_points_without_video() -> None:
    inputs = ChannelMixInputs.model_validate(mix_inputs(content_kinds=["text", "image"]))
    youtube = next(s for s in score_channel_mix(inputs).scores if s.channel == Channel.YOUTUBE)
    content = next(c for c in youtube.contributions if c.factor == Factor.CONTENT)
    assert content.points == 0


def mix_inputs(**overrides: object) -> Json:
    return {
        "personas": [
            persona(),
            persona(
                name="German hikers",
                age_band="45-54",
                interests=["nature_outdoors", "travel"],
                language="de",
                place={"name": "Bavaria", "reach": "international"},
            ),
        ],
        "objectives": ["awareness", "sales"],
        "content_kinds": ["text", "image", "link"],
        "effort_hours_per_week": 10,
        **overrides,
    }


async def test_scoring_through_the_api_stores_a_channel_mix_version(platform: Platform) -> None:
    engagement = await create_engagement(platform)
    path = f"/v1/engagements/{engagement['id']}/channel-mix"
    editor = platform.auth(Role.EDITOR)

    first = await platform.gateway.post(path, json=mix_inputs(), headers=editor)
    assert first.status_code == 201, first.text
    saved = first.json()
    assert (saved["kind"], saved["version"], saved["status"]) == ("channel_mix", 1, "draft")
    expected = score_channel_mix(ChannelMixInputs.model_validate(mix_inputs()))
    assert saved["body"] == expected.model_dump(mode="json")
    assert saved["body"]["recommended"] == ["instagram", "facebook"]

    same = await platform.gateway.post(path, json=mix_inputs(), headers=editor)
    assert same.status_code == 200
    assert same.json()["id"] == saved["id"]

    wider = await platform.gateway.post(
        path, json=mix_inputs(effort_hours_per_week=20), headers=editor
    )
    assert wider.status_code == 201
    assert wider.json()["version"] == 2
    assert len(wider.json()["body"]["recommended"]) > 2

    latest = await platform.gateway.get(
        f"/v1/engagements/{engagement['id']}/deliverables/channel_mix",
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[engagement["organization_id"]]),
    )
    assert latest.json()["version"] == 2

    approved = await platform.gateway.post(
        f"/v1/engagements/{engagement['id']}/deliverables/channel_mix/versions/2/approve",
        json={},
        headers=platform.auth(Role.MANAGER),
    )
    assert approved.status_code == 200, approved.text


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"effort_hours_per_week": 0}, "body.effort_hours_per_week"),
        ({"objectives": []}, "body.objectives"),
        ({"objectives": ["fame"]}, "body.objectives.0"),
        ({"content_kinds": ["image", "image"]}, "body.content_kinds"),
        ({"threshold": 101}, "body.threshold"),
        ({"personas": [persona(language="Italian")]}, "body.personas.0.language"),
        ({"personas": [persona(interests=["knitting"])]}, "body.personas.0.interests.0"),
        ({"personas": [persona(place={"name": "Gubbio"})]}, "body.personas.0.place.reach"),
    ],
)
async def test_invalid_inputs_are_422_naming_the_field(
    platform: Platform, overrides: Json, field: str
) -> None:
    engagement = await create_engagement(platform)
    response = await platform.gateway.post(
        f"/v1/engagements/{engagement['id']}/channel-mix",
        json=mix_inputs(**overrides),
        headers=platform.auth(Role.EDITOR),
    )
    problem = assert_problem(response, 422, "validation-error")
    assert field in [error["field"] for error in problem["errors"]]  # type: ignore[attr-defined]


async def test_channel_mix_roles_and_tenancy(platform: Platform) -> None:
    engagement = await create_engagement(platform)
    path = f"/v1/engagements/{engagement['id']}/channel-mix"
    viewer = platform.auth(Role.CLIENT_VIEWER, orgs=[engagement["organization_id"]])
    assert_problem(
        await platform.gateway.post(path, json=mix_inputs(), headers=viewer), 403, "forbidden"
    )
    stranger = platform.auth(Role.EDITOR, orgs=[await create_org(platform, "Cantina")])
    assert_problem(
        await platform.gateway.post(path, json=mix_inputs(), headers=stranger), 404, "not-found"
    )
