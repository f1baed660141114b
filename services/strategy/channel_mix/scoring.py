"""Explainable channel-mix scoring: each channel's total is the sum of its factors' points.

A pure, deterministic function of its inputs and of ``profiles.PROFILES``. Factor weights (the
most points a factor can give) are, like the profiles, editable assumptions:

| factor     | points      | from                                                        |
|------------|-------------|-------------------------------------------------------------|
| age        | 0 .. 25     | mean reach of the personas' age bands                       |
| interests  | 0 .. 20     | mean fit with each persona's interests                      |
| place      | 0 .. 10     | mean fit for the personas' reach (local .. international)   |
| language   | -5 .. +5    | several languages favour channels whose content crosses them |
| objectives | 0 .. 25     | mean fit for the objectives' goals                          |
| content    | 0 .. 15     | share of the channel's formats the client can produce       |
| effort     | -10 .. 0    | the channel's weekly hours against the capacity             |

The recommended mix takes channels best first while their total reaches the threshold and
their weekly hours still fit the capacity.
"""

from __future__ import annotations

from statistics import fmean

from services.strategy.channel_mix.profiles import MODEL, PROFILES, ChannelProfile
from services.strategy.channel_mix.schemas import (
    ChannelMix,
    ChannelMixInputs,
    ChannelScore,
    Contribution,
    Factor,
    Verdict,
)
from shared.domain import Channel

AGE_POINTS = 25.0
INTEREST_POINTS = 20.0
PLACE_POINTS = 10.0
LANGUAGE_POINTS = 5.0
OBJECTIVE_POINTS = 25.0
CONTENT_POINTS = 15.0
EFFORT_POINTS = 10.0
# Beyond three languages the content-crosses-languages argument does not grow any stronger.
LANGUAGES_COUNTED = 2


def _points(value: float) -> float:
    # Adding 0.0 turns a rounded -0.0 into 0.0, which reads better in JSON.
    return round(value, 2) + 0.0


def _names(values: list[str]) -> str:
    return ", ".join(sorted(set(values)))


def _age(profile: ChannelProfile, inputs: ChannelMixInputs) -> Contribution:
    reach = fmean(profile.age_reach[persona.age_band] for persona in inputs.personas)
    bands = _names([persona.age_band.value for persona in inputs.personas])
    return Contribution(
        factor=Factor.AGE,
        points=_points(reach * AGE_POINTS),
        explanation=f"mean reach {reach:.2f} of age bands {bands}, times {AGE_POINTS:g}",
    )


def _interests(profile: ChannelProfile, inputs: ChannelMixInputs) -> Contribution:
    fit = fmean(
        fmean(profile.interest_fit(interest) for interest in persona.interests)
        for persona in inputs.personas
    )
    return Contribution(
        factor=Factor.INTERESTS,
        points=_points(fit * INTEREST_POINTS),
        explanation=f"mean fit {fit:.2f} with the personas' interests, times {INTEREST_POINTS:g}",
    )


def _place(profile: ChannelProfile, inputs: ChannelMixInputs) -> Contribution:
    fit = fmean(profile.locality[persona.place.reach] for persona in inputs.personas)
    reaches = _names([persona.place.reach.value for persona in inputs.personas])
    return Contribution(
        factor=Factor.PLACE,
        points=_points(fit * PLACE_POINTS),
        explanation=f"mean fit {fit:.2f} for {reaches} reach, times {PLACE_POINTS:g}",
    )


def _language(profile: ChannelProfile, inputs: ChannelMixInputs) -> Contribution:
    languages = {persona.language.split("-")[0] for persona in inputs.personas}
    extra = min(len(languages) - 1, LANGUAGES_COUNTED)
    # From -1 (text-led: one copy per language) to +1 (content that crosses languages).
    leaning = 2 * profile.language_independence - 1
    points = extra / LANGUAGES_COUNTED * leaning * LANGUAGE_POINTS
    if extra == 0:
        explanation = "one language: no adjustment"
    else:
        explanation = (
            f"{len(languages)} languages ({_names(list(languages))}); language independence "
            f"{profile.language_independence:.2f}"
        )
    return Contribution(factor=Factor.LANGUAGE, points=_points(points), explanation=explanation)


def _objectives(profile: ChannelProfile, inputs: ChannelMixInputs) -> Contribution:
    fit = fmean(profile.goals[goal] for goal in inputs.objectives)
    goals = _names([goal.value for goal in inputs.objectives])
    return Contribution(
        factor=Factor.OBJECTIVES,
        points=_points(fit * OBJECTIVE_POINTS),
        explanation=f"mean fit {fit:.2f} for {goals}, times {OBJECTIVE_POINTS:g}",
    )


def _content(profile: ChannelProfile, inputs: ChannelMixInputs) -> Contribution:
    producible = sum(
        share for kind, share in profile.formats.items() if kind in inputs.content_kinds
    )
    return Contribution(
        factor=Factor.CONTENT,
        points=_points(producible * CONTENT_POINTS),
        explanation=(
            f"the client can produce {producible:.0%} of what the channel carries, "
            f"times {CONTENT_POINTS:g}"
        ),
    )


def _effort(profile: ChannelProfile, inputs: ChannelMixInputs) -> Contribution:
    capacity = inputs.effort_hours_per_week
    load = min(1.0, profile.weekly_hours / capacity)
    return Contribution(
        factor=Factor.EFFORT,
        points=_points(-load * EFFORT_POINTS),
        explanation=(
            f"needs {profile.weekly_hours:g} of {capacity:g} hours a week, times -{EFFORT_POINTS:g}"
        ),
    )


FACTORS = (_age, _interests, _place, _language, _objectives, _content, _effort)


def _ranked(inputs: ChannelMixInputs) -> list[tuple[Channel, list[Contribution], float]]:
    scored = []
    for channel, profile in PROFILES.items():
        contributions = [factor(profile, inputs) for factor in FACTORS]
        scored.append((channel, contributions, _points(sum(c.points for c in contributions))))
    # sorted() is stable: equal totals keep the order of PROFILES, so ties are deterministic.
    return sorted(scored, key=lambda item: -item[2])


def score_channel_mix(inputs: ChannelMixInputs) -> ChannelMix:
    """Score every profiled channel and pick the recommended mix."""
    hours_used = 0.0
    scores: list[ChannelScore] = []
    for channel, contributions, total in _ranked(inputs):
        profile = PROFILES[channel]
        if not profile.real_audience:
            verdict = Verdict.NOT_AN_AUDIENCE
        elif total < inputs.threshold:
            verdict = Verdict.BELOW_THRESHOLD
        elif hours_used + profile.weekly_hours > inputs.effort_hours_per_week:
            verdict = Verdict.OVER_CAPACITY
        else:
            verdict = Verdict.RECOMMENDED
            hours_used += profile.weekly_hours
        scores.append(
            ChannelScore(
                channel=channel,
                total=total,
                contributions=contributions,
                weekly_hours=profile.weekly_hours,
                verdict=verdict,
            )
        )
    return ChannelMix(
        model=MODEL,
        inputs=inputs,
        scores=scores,
        recommended=[score.channel for score in scores if score.verdict == Verdict.RECOMMENDED],
        recommended_hours_per_week=_points(hours_used),
    )
