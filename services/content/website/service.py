"""Rules of the watched sites: who adds and removes them, and the poll that drafts new pages.

A poll reads the site from its cursor, then drafts each new page in its own transaction (the
content item, its variants, its submission into review and the page's draft record commit
together), then keeps the cursor. A crash in between reads the same pages again on the next
poll, and the draft records (one per site and page) skip those already drafted. A failing site
is marked with its reason and tried again after a backoff; each site is its own activity, so it
never holds up another.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.content import service as items
from services.content.models import Media, Variant, engagements
from services.content.schemas import ContentItemCreate, ReviewNote, VariantSpec
from services.content.storage import MediaStorage
from services.content.website import events, images, reading
from services.content.website.contracts import SitePolled
from services.content.website.images import PageImage
from services.content.website.models import SiteDraft, WatchedSite
from services.content.website.reading import OpenGraph, SitePage
from services.content.website.schemas import WatchedSiteCreate
from shared.auth import Principal, Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import Channel, ContentKind
from shared.errors import ConflictError, NotFoundError
from shared.utm import with_utm

# How often a healthy site is read; the schedule's rounds come every minute.
POLL_EVERY = timedelta(minutes=15)
# A failing site waits 5 minutes, doubled per failure, at most 6 hours.
FIRST_BACKOFF = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=6)
# Longer than a poll may take (the activity's start-to-close timeout).
POLL_LEASE = timedelta(minutes=5)
# Pages drafted per poll; the rest wait for the next one (a site relaunched with a thousand
# dated pages must not flood review).
MAX_DRAFTS_PER_POLL = 10
UTM_MEDIUM = "social"
# Who drafts the items: the content service itself, as an agency editor would.
WATCHER = "website-watch"
SUMMARY_LENGTH = 280


def _now() -> datetime:
    return datetime.now(UTC)


def default_campaign(url: str) -> str:
    host = httpx.URL(url).host.removeprefix("www.")
    slug = "".join(c if c.isalnum() else "-" for c in host.lower()).strip("-")
    return slug[:100] or "website"


async def add_site(
    session: AsyncSession, principal: Principal, engagement_id: uuid.UUID, data: WatchedSiteCreate
) -> WatchedSite:
    organization_id = await engagements.require(session, engagement_id)
    existing = await session.scalar(
        select(WatchedSite.id).where(
            WatchedSite.engagement_id == engagement_id, WatchedSite.url == data.url
        )
    )
    if existing is not None:
        raise ConflictError(
            "this site is already watched for the engagement", site_id=str(existing)
        )
    now = _now()
    site = WatchedSite(
        id=uuid.uuid4(),
        organization_id=organization_id,
        engagement_id=engagement_id,
        url=data.url,
        channels=[channel.value for channel in data.channels],
        utm_campaign=data.utm_campaign or default_campaign(data.url),
        status="active",
        consecutive_failures=0,
        watched_since=now,
        next_poll_at=now,
        cursor={},
        created_by=principal.subject,
        created_at=now,
    )
    session.add(site)
    await session.flush()
    await items.emit(
        session,
        events.WEBSITE_WATCH_ADDED,
        events.WebsiteWatchAdded(
            **_site_fact(site),
            channels=data.channels,
            utm_campaign=site.utm_campaign,
            added_by=principal.subject,
        ),
        site.id,
    )
    return site


def _site_fact(site: WatchedSite) -> dict[str, object]:
    return {
        "site_id": site.id,
        "organization_id": site.organization_id,
        "engagement_id": site.engagement_id,
        "url": site.url,
    }


async def require_site(
    session: AsyncSession, engagement_id: uuid.UUID, site_id: uuid.UUID
) -> WatchedSite:
    site = await session.get(WatchedSite, site_id)
    if site is None or site.engagement_id != engagement_id:
        raise NotFoundError("watched site", site_id)
    return site


async def remove_site(
    session: AsyncSession, principal: Principal, engagement_id: uuid.UUID, site_id: uuid.UUID
) -> None:
    """The site is no longer watched; the items drafted from it stay where review has them."""
    site = await require_site(session, engagement_id, site_id)
    fact = events.WebsiteWatchRemoved(**_site_fact(site), removed_by=principal.subject)
    await session.delete(site)
    await session.flush()
    await items.emit(session, events.WEBSITE_WATCH_REMOVED, fact, site_id)


async def poll_now(
    session: AsyncSession, engagement_id: uuid.UUID, site_id: uuid.UUID
) -> WatchedSite:
    """Due at once: the next round of the schedule (within a minute) reads it, failing or not."""
    site = await require_site(session, engagement_id, site_id)
    site.next_poll_at = min(site.next_poll_at, _now())
    await session.flush()
    return site


# --- polling ----------------------------------------------------------------------------------


async def due_sites(
    sessions: async_sessionmaker[AsyncSession], now: datetime, limit: int
) -> list[uuid.UUID]:
    async with session_scope(sessions, SYSTEM) as session:
        found = await session.scalars(
            select(WatchedSite.id)
            .where(WatchedSite.next_poll_at <= now)
            .order_by(WatchedSite.next_poll_at, WatchedSite.id)
            .limit(limit)
        )
        return list(found)


def backoff(failures: int) -> timedelta:
    doubled: timedelta = FIRST_BACKOFF * (2 ** min(failures - 1, 10))
    return min(doubled, MAX_BACKOFF)


class SitePoller:
    """Polls one site, keeping its pages' images in ``storage``; ``loopback`` lets tests read
    fake sites on 127.0.0.1 (``safe_fetch``)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        storage: MediaStorage,
        *,
        loopback: bool = False,
    ):
        self._sessions = sessions
        self._storage = storage
        self._loopback = loopback

    async def poll(self, site_id: uuid.UUID) -> SitePolled:
        now = _now()
        async with session_scope(self._sessions, SYSTEM) as session:
            site = await session.get(WatchedSite, site_id, with_for_update=True)
            # A poll run twice (a retried activity, rounds overlapping) reads the site once.
            if site is None or site.next_poll_at > now:
                return SitePolled(site_id=site_id, outcome="skipped")
            site.next_poll_at = now + POLL_LEASE
            url, cursor, since = site.url, dict(site.cursor), site.watched_since
            organization_id = site.organization_id
        try:
            read = await reading.read_site(url, cursor, since, loopback=self._loopback)
        except reading.SiteFailure as failure:
            return await self._failed(site_id, failure.reason)
        # The pages handled: drafted now, or found drafted by an earlier poll.
        handled: list[SitePage] = []
        drafted = 0
        for page in read.pages[:MAX_DRAFTS_PER_POLL]:
            done = await self._drafted(site_id, page.url)
            if done is None:
                return SitePolled(site_id=site_id, outcome="skipped", drafted=drafted)
            if not done:
                graph = await reading.read_open_graph(page.url, loopback=self._loopback)
                image = await self._image(organization_id, page, graph)
                if not await self._draft(site_id, page, graph, image):
                    return SitePolled(site_id=site_id, outcome="skipped", drafted=drafted)
                drafted += 1
            handled.append(page)
        async with session_scope(self._sessions, SYSTEM) as session:
            site = await session.get(WatchedSite, site_id, with_for_update=True)
            if site is None:
                return SitePolled(site_id=site_id, outcome="skipped", drafted=drafted)
            site.last_polled_at = _now()
            if site.status == "failing":
                await _announce_recovery(session, site, site.last_polled_at)
            site.cursor = reading.next_cursor(cursor, read, handled)
            site.status, site.failure, site.consecutive_failures = "active", None, 0
            site.next_poll_at = site.last_polled_at + POLL_EVERY
        outcome = "drafted" if drafted else "unchanged"
        return SitePolled(site_id=site_id, outcome=outcome, drafted=drafted)

    async def _failed(self, site_id: uuid.UUID, reason: str) -> SitePolled:
        async with session_scope(self._sessions, SYSTEM) as session:
            site = await session.get(WatchedSite, site_id, with_for_update=True)
            if site is not None:
                was_failing = site.status == "failing"
                site.status, site.failure = "failing", reason
                site.consecutive_failures += 1
                site.last_polled_at = _now()
                site.next_poll_at = site.last_polled_at + backoff(site.consecutive_failures)
                if not was_failing:
                    await _announce_failure(session, site, site.last_polled_at)
        return SitePolled(site_id=site_id, outcome="failing", reason=reason)

    async def _drafted(self, site_id: uuid.UUID, page_url: str) -> bool | None:
        """Whether the page was drafted already (its page is not fetched again); None when the
        site is gone meanwhile."""
        async with session_scope(self._sessions, SYSTEM) as session:
            if await session.get(WatchedSite, site_id) is None:
                return None
            done = await session.scalar(
                select(SiteDraft.id).where(
                    SiteDraft.site_id == site_id, SiteDraft.page_url == page_url
                )
            )
            return done is not None

    async def _image(
        self, organization_id: uuid.UUID, page: SitePage, graph: OpenGraph
    ) -> PageImage | None:
        if graph.image is None:
            return None
        return await images.keep_image(
            self._storage, organization_id, page.url, graph.image, loopback=self._loopback
        )

    async def _draft(
        self, site_id: uuid.UUID, page: SitePage, graph: OpenGraph, image: PageImage | None
    ) -> bool:
        """Draft ``page`` unless it was; False when the site is gone meanwhile. The image is
        removed from the store unless this draft recorded it."""
        drafted = recorded = False
        try:
            async with session_scope(self._sessions, SYSTEM) as session:
                site = await session.get(WatchedSite, site_id, with_for_update=True)
                if site is None:
                    return False
                done = await session.scalar(
                    select(SiteDraft.id).where(
                        SiteDraft.site_id == site_id, SiteDraft.page_url == page.url
                    )
                )
                if done is None:
                    await draft_page(session, site, page, graph, image)
                    drafted = True
            # Committed: the draft holds the image now.
            recorded = drafted
        finally:
            if not recorded:
                await images.forget_image(self._storage, image)
        return True


async def _announce_failure(session: AsyncSession, site: WatchedSite, at: datetime) -> None:
    """The site worked (or was never read) and now fails: said once, until it recovers."""
    await items.emit(
        session,
        events.WEBSITE_WATCH_FAILING,
        events.WebsiteWatchFailing(
            **_site_fact(site),
            reason=site.failure or "",
            at=at,
            next_poll_at=site.next_poll_at,
        ),
        site.id,
        events.site_event_id(site.id, "failing", at),
    )


async def _announce_recovery(session: AsyncSession, site: WatchedSite, at: datetime) -> None:
    await items.emit(
        session,
        events.WEBSITE_WATCH_RECOVERED,
        events.WebsiteWatchRecovered(**_site_fact(site), failures=site.consecutive_failures, at=at),
        site.id,
        events.site_event_id(site.id, "recovered", at),
    )


def tagged_link(site: WatchedSite, page_url: str, channel: str) -> str:
    tags = {"utm_source": channel, "utm_medium": UTM_MEDIUM, "utm_campaign": site.utm_campaign}
    return with_utm(page_url, tags)


def _summary(title: str, description: str | None) -> str:
    if not description:
        return title
    if len(description) > SUMMARY_LENGTH:
        description = description[: SUMMARY_LENGTH - 1].rsplit(" ", 1)[0] + "…"
    return f"{title}\n\n{description}"


def _variant(
    site: WatchedSite, page: SitePage, channel: str, title: str, text: str, image: Media | None
) -> VariantSpec | str:
    """The page's variant for ``channel``, with the page's image when the channel's rules take
    it and else without, or the first rule it breaks there."""
    link = tagged_link(site, page.url, channel)
    media = {image.id: image} if image is not None else {}
    broken: list[str] = []
    for media_ids in ([list(media)] if media else []) + [[]]:
        variant = Variant(channel=channel, text=text, title=title, link=link, media_ids=media_ids)
        violations = items.check_variant(variant, media)
        if not violations:
            return VariantSpec(
                channel=Channel(channel), text=text, title=title, link=link, media_ids=media_ids
            )
        broken.append(violations[0].message[:300])
    return broken[-1]


async def draft_page(
    session: AsyncSession,
    site: WatchedSite,
    page: SitePage,
    graph: OpenGraph,
    image: PageImage | None = None,
) -> SiteDraft:
    """A link item for the page with a variant per channel of the site, submitted for review
    when at least one channel's rules accept it; the page's stored image is the item's medium
    and its variants' where the channels' rules take it."""
    title = (graph.title or page.title or page.url)[:300]
    text = _summary(title, graph.description)
    medium = image.media(WATCHER) if image is not None else None
    if medium is not None:
        session.add(medium)
        await session.flush()
    variants: list[VariantSpec] = []
    skipped: dict[str, str] = {}
    for channel in site.channels:
        made = _variant(site, page, channel, title, text, medium)
        if isinstance(made, str):
            skipped[channel] = made
        else:
            variants.append(made)
    watcher = Principal(
        subject=WATCHER, organization_roles={site.organization_id: frozenset({Role.EDITOR})}
    )
    item = await items.create_item(
        session,
        watcher,
        ContentItemCreate(
            organization_id=site.organization_id,
            engagement_id=site.engagement_id,
            kind=ContentKind.LINK,
            title=title,
            body=graph.description or "",
            link=page.url,
            media_ids=[medium.id] if medium is not None else [],
            variants=variants,
        ),
    )
    if variants:
        note = ReviewNote(comment=f"Drafted from {page.url}"[:2000])
        await items.submit(session, watcher, item.id, note)
    draft = SiteDraft(
        id=uuid.uuid4(),
        site_id=site.id,
        organization_id=site.organization_id,
        page_url=page.url,
        published_at=page.published_at,
        item_id=item.id,
        og_title=graph.title,
        og_description=graph.description,
        og_image=graph.image,
        skipped_channels=skipped,
        drafted_at=_now(),
    )
    session.add(draft)
    await session.flush()
    return draft
