"""Branding and positioning ("branding e posizionamento"): what the client stands for on social
media, for whom, against whom, and in which voice, answers included. Written in the design phase;
the client handbook draws its tone, do/don't and answering guidance from it.

Plain pydantic, no database code.
"""

from __future__ import annotations

from pydantic import Field

from services.strategy.bodies import Body
from services.strategy.vocabulary import LongText, Text

Statement = LongText


class Competitor(Body):
    name: Text
    how_we_differ: LongText = ""


class ReplyGuidance(Body):
    """How the client answers on its channels ("rispondere in modo tempestivo ed efficace")."""

    within_hours: int = Field(ge=1, le=168, description="The longest a person waits for an answer")
    principles: list[Text] = Field(min_length=1, max_length=20)
    escalate_when: list[Text] = Field(
        default_factory=list,
        max_length=20,
        description="When an answer goes to the agency or a manager instead",
    )


class Positioning(Body):
    statement: Statement = Field(
        min_length=1,
        description="For whom, what the client is, what it gives them, and why it is believed",
    )
    category: Text
    audience: list[Text] = Field(min_length=1, max_length=20)
    differentiators: list[Text] = Field(min_length=1, max_length=20)
    values: list[Text] = Field(default_factory=list, max_length=20)
    personality: list[Text] = Field(default_factory=list, max_length=20)
    tone_of_voice: LongText = ""
    key_messages: list[Text] = Field(default_factory=list, max_length=20)
    words_to_use: list[Text] = Field(default_factory=list, max_length=50)
    words_to_avoid: list[Text] = Field(default_factory=list, max_length=50)
    competitors: list[Competitor] = Field(default_factory=list, max_length=20)
    replies: ReplyGuidance | None = None
