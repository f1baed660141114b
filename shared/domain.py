"""Vocabulary every service shares: channels, intervention modes, lifecycle phases, time zones."""

from enum import StrEnum
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator, StringConstraints


class Channel(StrEnum):
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    X = "x"
    YOUTUBE = "youtube"
    PINTEREST = "pinterest"
    VIMEO = "vimeo"
    SPOTIFY = "spotify"
    FOURSQUARE = "foursquare"
    MASTODON = "mastodon"
    # The built-in offline platform for demos and tests; never a real social network.
    SANDBOX = "sandbox"


class InterventionMode(StrEnum):
    """Who does the work (DOMAIN.md): client staff, shared, or the agency."""

    FORMAZIONE = "formazione"
    AFFIANCAMENTO = "affiancamento"
    REALIZZAZIONE = "realizzazione"


class Phase(StrEnum):
    ANALYSIS = "analysis"
    DESIGN = "design"
    SETUP = "setup"
    SEEDING = "seeding"
    LAUNCH = "launch"
    POST_LAUNCH = "post_launch"


class ContentKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    LINK = "link"
    APP = "app"


def known_time_zone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError(f"unknown IANA time zone {value!r}")
    return value


# An IANA time zone name (``Europe/Rome``); any other string is a validation error.
# IANA names are at most about 30 characters long.
TimeZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(known_time_zone)]
