"""Words the strategy deliverables share: who the targets are and what the client wants.

Interests and goals are closed lists so that the channel-mix scoring can reason about them; a
persona's ``description`` carries whatever the lists cannot say.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from services.strategy.bodies import Body

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
# A BCP 47 language tag reduced to language and optional region: "it", "en-GB".
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]


class AgeBand(StrEnum):
    AGE_13_17 = "13-17"
    AGE_18_24 = "18-24"
    AGE_25_34 = "25-34"
    AGE_35_44 = "35-44"
    AGE_45_54 = "45-54"
    AGE_55_64 = "55-64"
    AGE_65_PLUS = "65+"


class Interest(StrEnum):
    FOOD_DRINK = "food_drink"
    TRAVEL = "travel"
    FASHION_BEAUTY = "fashion_beauty"
    HOME_DESIGN = "home_design"
    FAMILY_PARENTING = "family_parenting"
    SPORT_FITNESS = "sport_fitness"
    HEALTH_WELLBEING = "health_wellbeing"
    MUSIC = "music"
    FILM_TV = "film_tv"
    BOOKS_CULTURE = "books_culture"
    ART_DESIGN = "art_design"
    TECHNOLOGY = "technology"
    GAMING = "gaming"
    BUSINESS_FINANCE = "business_finance"
    NEWS_POLITICS = "news_politics"
    NATURE_OUTDOORS = "nature_outdoors"
    LOCAL_COMMUNITY = "local_community"
    EDUCATION = "education"


class Reach(StrEnum):
    """How far from the client the persona lives."""

    LOCAL = "local"
    REGIONAL = "regional"
    NATIONAL = "national"
    INTERNATIONAL = "international"


class Goal(StrEnum):
    """What an objective serves (the seed's goals: relations, promotion, community, listening)."""

    AWARENESS = "awareness"
    ENGAGEMENT = "engagement"
    TRAFFIC = "traffic"
    COMMUNITY = "community"
    SALES = "sales"
    REPUTATION = "reputation"
    CUSTOMER_CARE = "customer_care"


class Place(Body):
    name: Text
    reach: Reach


class Persona(Body):
    name: Text
    age_band: AgeBand
    interests: list[Interest] = Field(min_length=1, max_length=len(Interest))
    language: Language = Field(description='BCP 47 language, optionally with region: "it-IT"')
    place: Place
    description: LongText = ""

    @field_validator("interests")
    @classmethod
    def _distinct_interests(cls, value: list[Interest]) -> list[Interest]:
        if len(set(value)) != len(value):
            raise ValueError("interests must not repeat")
        return value
