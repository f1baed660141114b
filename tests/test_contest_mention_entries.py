"""Contest entries that arrive as mentions: raw mentions published as listening sources publish
them reach the hashtag contests of their organisation that take entries, judged like any entry,
each recorded once; other organisations' mentions, mentions without the hashtag and contests
not taking entries are left alone."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.content.contests.mention_entries import MENTION_ID_CHARS, carries_hashtag, mention_id
from services.listening.contracts import RawMention
from services.listening.intake import mention_received, publish_raw_mentions
from shared.auth import Role
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import new_engagement
from tests.test_contest_activities import request_draw
from tests.test_contest_api import NOW, create_contest, enter, entry, get, open_contest, post
from tests.test_mentions import publish_event

# No age statement comes with a mention: these contests ask for none.
RULES: dict[str, Any] = {"minimum_age": None, "allowed_regions": ["Umbria", "IT-52"]}


def raw(organization_id: str, handle: str, text: str, **fields: Any) -> RawMention:
    return RawMention.model_validate(
        {
            "organization_id": organization_id,
            "source": "instagram",
            "external_id": uuid.uuid4().hex,
            "author": {"handle": handle, "profile_location": "Umbria"},
            "text": text,
            "published_at": NOW,
            **fields,
        }
    )


async def entries_of(platform: Platform, contest_id: str) -> dict[str, dict[str, Any]]:
    """The contest's entries by their author's handle."""
    listed = await get(platform, f"/v1/contests/{contest_id}/entries")
    assert listed.status_code == 200, listed.text
    return {item["user_handle"]: item for item in listed.json()}


async def drawing_contest(
    platform: Platform, engagement_id: str, sessions: async_sessionmaker[AsyncSession]
) -> str:
    """A contest of the engagement whose draw was asked for: it takes no more entries."""
    contest_id = await open_contest(platform, engagement_id, **RULES)
    assert (await enter(platform, contest_id, entry("anna")))["status"] == "accepted"
    assert (await post(platform, f"/v1/contests/{contest_id}/close", Role.MANAGER)).is_success
    await request_draw(sessions, uuid.UUID(contest_id))
    return contest_id


async def test_hashtag_mentions_enter_their_organisations_contests_once(
    platform: Platform, nats_client: NatsClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id, engagement_id = await new_engagement(platform)
    contest_id = await open_contest(platform, engagement_id, **RULES)
    draft_id = (await create_contest(platform, engagement_id, **RULES))["id"]
    drawing_id = await drawing_contest(platform, engagement_id, sessions)
    other_organization, other_engagement = await new_engagement(platform)
    other_contest_id = await open_contest(platform, other_engagement, **RULES)

    def mine(handle: str, text: str = "Eccomi! #QuerciaEstate", **fields: Any) -> RawMention:
        return raw(organization_id, handle, text, **fields)

    welcome = mine("@Lucia")
    mentions = [
        welcome,
        mine("marco", author={"handle": "marco", "profile_location": "Lombardia"}),
        mine("nadia", author={"handle": "nadia"}),
        mine("olga", source="x"),
        mine("pietro", published_at=NOW - timedelta(days=2)),
        mine("rita", "Che estate", hashtags=["QuerciaEstate"]),
        mine("sara", "Eccomi senza hashtag"),
        mine("tina", "Eccomi #QuerciaEstate2027"),
        mine("ugo", source="rss"),
        raw(other_organization, "vera", "Anch'io #QuerciaEstate"),
    ]
    await publish_raw_mentions(nats_client.jetstream(), platform.settings, mentions)
    # The same mention again: under its own event id after JetStream's duplicate window, and
    # under another event id (a source that names it anew).
    await publish_event(nats_client, platform, mention_received(welcome))
    renamed = mention_received(welcome).model_copy(update={"id": str(uuid.uuid4())})
    await publish_event(nats_client, platform, renamed)
    # Handled after everything above: one consumer reads the subject in order.
    sentinel = mine("zeno")
    await publish_raw_mentions(nats_client.jetstream(), platform.settings, [sentinel])

    async def sentinel_entered() -> bool:
        return "zeno" in await entries_of(platform, contest_id)

    await wait_until(sentinel_entered, timeout=15)
    entries = await entries_of(platform, contest_id)
    verdicts = {name: (item["status"], item["rejection_reason"]) for name, item in entries.items()}
    assert verdicts == {
        "@Lucia": ("accepted", None),
        "marco": ("rejected", "region_not_allowed"),
        "nadia": ("rejected", "region_missing"),
        "olga": ("rejected", "platform_not_in_contest"),
        "pietro": ("rejected", "outside_contest_period"),
        # Its source lists the hashtag, its text has none: judged on the text, as any entry.
        "rita": ("rejected", "keyword_missing"),
        "zeno": ("accepted", None),
    }
    assert {item["source"] for item in entries.values()} == {"listening"}
    assert entries["@Lucia"]["source_mention_id"] == f"instagram:{welcome.external_id}"
    assert entries["@Lucia"]["region"] == "IT-55"

    assert await entries_of(platform, draft_id) == {}
    assert list(await entries_of(platform, drawing_id)) == ["anna"]

    async def other_entered() -> bool:
        return "vera" in await entries_of(platform, other_contest_id)

    await wait_until(other_entered, timeout=15)
    assert list(await entries_of(platform, other_contest_id)) == ["vera"]


def test_a_hashtag_is_carried_whole_in_the_text_or_the_sources_list() -> None:
    def carried(text: str, hashtags: list[str] | None = None) -> bool:
        mention = raw(str(uuid.uuid4()), "a", text, hashtags=hashtags or [])
        return carries_hashtag(mention, "#QuerciaEstate")

    assert carried("Ciao #QUERCIAestate.")
    assert carried("Ciao", ["#querciaestate"])
    assert not carried("Ciao #QuerciaEstate2027")
    assert not carried("Ciao QuerciaEstate")


def test_a_long_external_id_is_kept_as_its_digest() -> None:
    mention = raw(str(uuid.uuid4()), "a", "Ciao", external_id="p" * 300)
    kept = mention_id(mention)
    assert kept.startswith("instagram:sha256:")
    assert len(kept) <= MENTION_ID_CHARS
    assert mention_id(mention) == kept
