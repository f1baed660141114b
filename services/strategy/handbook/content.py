"""What a client handbook says, as stored with each version (``handbooks.content``): made by
``compose.py`` from the approved deliverables and the platform tables, drawn by ``document.py``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from shared.domain import Channel


class PostingLine(BaseModel):
    """One editorial rule, as it applies to the channel: what to post, how, when, for whom."""

    pillar: str
    formats: str
    when: str
    target: str
    hashtags: str = ""


class FormatLine(BaseModel):
    """A format or size the channel asks for, and where it comes from."""

    what: str
    rule: str
    source: str = Field(description="platform rules, feed display, or graphic line")


class ChannelGuide(BaseModel):
    channel: Channel
    name: str
    why: str = Field(description="Why the channel was chosen, from the channel mix")
    what_to_post: list[PostingLine]
    formats: list[FormatLine]
    tone: list[str]
    do: list[str]
    dont: list[str]
    answering: list[str]


class PositioningSummary(BaseModel):
    statement: str
    key_messages: list[str]
    words_to_use: list[str]
    words_to_avoid: list[str]


class HandbookContent(BaseModel):
    client: str
    positioning: PositioningSummary | None
    channels: list[ChannelGuide]
    # What the handbook could not say, and why (a deliverable not approved yet).
    gaps: list[str]
