"""Vocabulary every service shares: channels, intervention modes, lifecycle phases."""

from enum import StrEnum


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
