"""Channel profiles: the assumptions the channel-mix scoring reasons with.

These are editable working assumptions of the agency, not platform facts, and not measurements.
Every figure is a 0-1 judgement, rounded on purpose so nobody mistakes it for data:

- ``age_reach``: how well the channel reaches people of an age band. The shape (YouTube and
  Facebook broad, Facebook older, Instagram and Spotify younger, X and Pinterest narrower,
  Vimeo and Foursquare niche) follows public audience surveys such as the Pew Research Center's
  social media fact sheets and DataReportal's yearly "Digital" country reports; the numbers are
  ours, not theirs.
- ``interests``: how naturally the channel carries a topic (Pinterest for home and food, X for
  news, YouTube for how-tos and gaming). Unlisted interests take ``interest_default``.
- ``language_independence``: 0 for text-led channels whose posts must be written per language,
  1 for visual or musical content that crosses languages.
- ``locality``: fit for personas near the client (local) up to worldwide (international).
- ``goals``: fit for each goal of the objectives, from the agency's practice.
- ``formats``: share of what the channel's feed is made of (sums to 1); the client must be able
  to produce it.
- ``weekly_hours``: hours a week to run the channel well for a small organisation (planning,
  producing, posting, answering).

Mastodon is not scored: the seed does not name it, and a federated audience has no profile here
yet. Change a figure here and bump ``MODEL``: a stored channel mix names the model that scored it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from services.strategy.vocabulary import AgeBand, Goal, Interest, Reach
from shared.domain import Channel, ContentKind

MODEL = "channel-profiles/2026-11"

A = AgeBand
G = Goal
I = Interest  # noqa: E741 - a short alias keeps the tables readable
R = Reach
K = ContentKind


@dataclass(frozen=True)
class ChannelProfile:
    age_reach: Mapping[AgeBand, float]
    interests: Mapping[Interest, float]
    interest_default: float
    language_independence: float
    locality: Mapping[Reach, float]
    goals: Mapping[Goal, float]
    formats: Mapping[ContentKind, float]
    weekly_hours: float
    # The sandbox reaches nobody: it is scored so demos show a full table, never recommended.
    real_audience: bool = True

    def interest_fit(self, interest: Interest) -> float:
        return self.interests.get(interest, self.interest_default)


def _ages(*values: float) -> Mapping[AgeBand, float]:
    return MappingProxyType(dict(zip(AgeBand, values, strict=True)))


def _reach(
    local: float, regional: float, national: float, international: float
) -> Mapping[Reach, float]:
    return MappingProxyType(
        {R.LOCAL: local, R.REGIONAL: regional, R.NATIONAL: national, R.INTERNATIONAL: international}
    )


def _goals(*values: float) -> Mapping[Goal, float]:
    """Values in the order of ``Goal``: awareness, engagement, traffic, community, sales,
    reputation, customer care."""
    return MappingProxyType(dict(zip(Goal, values, strict=True)))


#                    ages: 13-17 18-24 25-34 35-44 45-54 55-64 65+
PROFILES: Mapping[Channel, ChannelProfile] = MappingProxyType(
    {
        Channel.FACEBOOK: ChannelProfile(
            age_reach=_ages(0.30, 0.60, 0.70, 0.75, 0.75, 0.70, 0.55),
            interests={
                I.LOCAL_COMMUNITY: 0.9,
                I.FAMILY_PARENTING: 0.8,
                I.NEWS_POLITICS: 0.7,
                I.FOOD_DRINK: 0.6,
                I.SPORT_FITNESS: 0.6,
            },
            interest_default=0.5,
            language_independence=0.4,
            locality=_reach(0.9, 0.8, 0.7, 0.6),
            goals=_goals(0.8, 0.7, 0.7, 0.9, 0.7, 0.7, 0.8),
            formats={K.TEXT: 0.25, K.IMAGE: 0.30, K.VIDEO: 0.30, K.LINK: 0.15},
            weekly_hours=4,
        ),
        Channel.INSTAGRAM: ChannelProfile(
            age_reach=_ages(0.60, 0.80, 0.70, 0.55, 0.40, 0.30, 0.15),
            interests={
                I.FASHION_BEAUTY: 0.95,
                I.FOOD_DRINK: 0.9,
                I.TRAVEL: 0.9,
                I.ART_DESIGN: 0.8,
                I.SPORT_FITNESS: 0.8,
                I.HEALTH_WELLBEING: 0.7,
                I.HOME_DESIGN: 0.7,
                I.MUSIC: 0.7,
                I.NEWS_POLITICS: 0.3,
                I.BUSINESS_FINANCE: 0.3,
            },
            interest_default=0.5,
            language_independence=0.7,
            locality=_reach(0.7, 0.7, 0.8, 0.8),
            goals=_goals(0.9, 0.9, 0.5, 0.8, 0.7, 0.7, 0.6),
            formats={K.IMAGE: 0.5, K.VIDEO: 0.5},
            weekly_hours=5,
        ),
        Channel.X: ChannelProfile(
            age_reach=_ages(0.20, 0.40, 0.35, 0.30, 0.20, 0.15, 0.07),
            interests={
                I.NEWS_POLITICS: 1.0,
                I.TECHNOLOGY: 0.8,
                I.BUSINESS_FINANCE: 0.7,
                I.SPORT_FITNESS: 0.7,
                I.FILM_TV: 0.6,
                I.GAMING: 0.6,
                I.FOOD_DRINK: 0.2,
                I.HOME_DESIGN: 0.2,
                I.FASHION_BEAUTY: 0.3,
            },
            interest_default=0.4,
            language_independence=0.2,
            locality=_reach(0.3, 0.5, 0.8, 0.8),
            goals=_goals(0.6, 0.7, 0.6, 0.5, 0.3, 0.8, 0.9),
            formats={K.TEXT: 0.5, K.IMAGE: 0.2, K.VIDEO: 0.1, K.LINK: 0.2},
            weekly_hours=5,
        ),
        Channel.YOUTUBE: ChannelProfile(
            age_reach=_ages(0.90, 0.93, 0.92, 0.90, 0.85, 0.80, 0.60),
            interests={
                I.GAMING: 0.95,
                I.MUSIC: 0.9,
                I.TECHNOLOGY: 0.9,
                I.EDUCATION: 0.9,
                I.FILM_TV: 0.85,
                I.SPORT_FITNESS: 0.8,
                I.HOME_DESIGN: 0.7,
                I.FOOD_DRINK: 0.7,
                I.TRAVEL: 0.7,
            },
            interest_default=0.5,
            language_independence=0.6,
            locality=_reach(0.3, 0.5, 0.8, 1.0),
            goals=_goals(0.9, 0.6, 0.7, 0.6, 0.5, 0.7, 0.3),
            formats={K.VIDEO: 1.0},
            weekly_hours=8,
        ),
        Channel.PINTEREST: ChannelProfile(
            age_reach=_ages(0.30, 0.45, 0.45, 0.40, 0.35, 0.30, 0.20),
            interests={
                I.HOME_DESIGN: 1.0,
                I.FOOD_DRINK: 0.95,
                I.FASHION_BEAUTY: 0.9,
                I.ART_DESIGN: 0.85,
                I.FAMILY_PARENTING: 0.8,
                I.TRAVEL: 0.8,
                I.HEALTH_WELLBEING: 0.6,
                I.NEWS_POLITICS: 0.1,
                I.GAMING: 0.2,
                I.BUSINESS_FINANCE: 0.3,
                I.TECHNOLOGY: 0.3,
            },
            interest_default=0.4,
            language_independence=0.8,
            locality=_reach(0.2, 0.4, 0.7, 0.8),
            goals=_goals(0.6, 0.4, 0.9, 0.3, 0.7, 0.3, 0.1),
            formats={K.IMAGE: 0.8, K.VIDEO: 0.1, K.LINK: 0.1},
            weekly_hours=2,
        ),
        Channel.VIMEO: ChannelProfile(
            age_reach=_ages(0.05, 0.10, 0.15, 0.15, 0.10, 0.08, 0.05),
            interests={I.FILM_TV: 0.9, I.ART_DESIGN: 0.9, I.MUSIC: 0.6, I.EDUCATION: 0.5},
            interest_default=0.2,
            language_independence=0.8,
            locality=_reach(0.1, 0.2, 0.5, 0.7),
            goals=_goals(0.3, 0.2, 0.3, 0.2, 0.2, 0.6, 0.1),
            formats={K.VIDEO: 1.0},
            weekly_hours=3,
        ),
        Channel.SPOTIFY: ChannelProfile(
            age_reach=_ages(0.60, 0.70, 0.60, 0.45, 0.30, 0.20, 0.10),
            interests={
                I.MUSIC: 1.0,
                I.BOOKS_CULTURE: 0.7,
                I.NEWS_POLITICS: 0.6,
                I.BUSINESS_FINANCE: 0.6,
                I.EDUCATION: 0.6,
                I.HEALTH_WELLBEING: 0.5,
                I.SPORT_FITNESS: 0.5,
            },
            interest_default=0.3,
            language_independence=0.4,
            locality=_reach(0.2, 0.4, 0.8, 0.9),
            goals=_goals(0.6, 0.3, 0.2, 0.4, 0.2, 0.5, 0.1),
            formats={K.AUDIO: 1.0},
            weekly_hours=6,
        ),
        Channel.FOURSQUARE: ChannelProfile(
            age_reach=_ages(0.03, 0.08, 0.10, 0.10, 0.08, 0.05, 0.03),
            interests={
                I.FOOD_DRINK: 0.9,
                I.TRAVEL: 0.8,
                I.LOCAL_COMMUNITY: 0.8,
                I.NATURE_OUTDOORS: 0.5,
            },
            interest_default=0.15,
            language_independence=0.5,
            locality=_reach(1.0, 0.6, 0.2, 0.2),
            goals=_goals(0.3, 0.2, 0.6, 0.2, 0.5, 0.6, 0.2),
            formats={K.TEXT: 0.6, K.IMAGE: 0.4},
            weekly_hours=1,
        ),
        Channel.SANDBOX: ChannelProfile(
            age_reach=_ages(0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5),
            interests={},
            interest_default=0.5,
            language_independence=0.5,
            locality=_reach(0.5, 0.5, 0.5, 0.5),
            goals=_goals(0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5),
            formats={
                K.TEXT: 0.2,
                K.IMAGE: 0.2,
                K.VIDEO: 0.2,
                K.AUDIO: 0.2,
                K.LINK: 0.1,
                K.APP: 0.1,
            },
            weekly_hours=0.5,
            real_audience=False,
        ),
    }
)
