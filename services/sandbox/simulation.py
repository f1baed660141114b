"""The simulated audience at the current moment: a post's metrics, its comments, the mentions.

Comments are consistent with the metrics: a post showing ``n`` comments lists exactly comments
``0 .. n-1``, each dated when the count first passed it. Mentions of an account arrive about every
two simulated hours since it was created. A conversation's id (``comment-<post>-<n>``,
``mention-<account>-<n>``) names where it is, so one can be found again to be answered.
"""

from __future__ import annotations

from datetime import datetime

from services.sandbox import engagement
from services.sandbox.schemas import Conversation, PostMetricsOut
from services.sandbox.state import AccountRecord, PlatformState, PostRecord
from services.sandbox.voices import Kind, voice
from shared.errors import NotFoundError


def post_figures(state: PlatformState, post: PostRecord) -> engagement.Figures:
    total = engagement.totals(state.settings.seed, post.id, post.audience, post.has_video)
    return engagement.figures_at(total, state.simulated_seconds_since(post.created_at))


def post_metrics(state: PlatformState, post: PostRecord) -> PostMetricsOut:
    figures = post_figures(state, post)
    return PostMetricsOut(
        post_id=post.id,
        impressions=figures.impressions,
        reach=figures.reach,
        likes=figures.likes,
        comments=figures.comments,
        shares=figures.shares,
        saves=figures.saves,
        views=figures.views,
        collected_at=state.now(),
    )


def _conversation(
    state: PlatformState,
    kind: Kind,
    account: AccountRecord,
    post: PostRecord | None,
    index: int,
    created_at: datetime,
) -> Conversation:
    owner_id = post.id if post is not None else account.id
    spoken = voice(state.settings.seed, kind, owner_id, index, account.handle)
    return Conversation(
        id=f"{kind}-{owner_id}-{index}",
        account_id=account.id,
        post_id=post.id if post is not None else None,
        author=spoken.author,
        text=spoken.text,
        language=spoken.language,
        simulated_sentiment=spoken.sentiment,
        place=spoken.place,
        created_at=created_at,
    )


def post_comments(
    state: PlatformState, post: PostRecord, since: datetime | None, limit: int
) -> list[Conversation]:
    account = state.account(post.account_id)
    total = engagement.totals(state.settings.seed, post.id, post.audience, post.has_video)
    visible = post_figures(state, post).comments
    comments: list[Conversation] = []
    for index in range(visible):
        delay = engagement.comment_delay(total.comments, index)
        created_at = state.at_simulated(post.created_at, delay)
        if since is None or created_at > since:
            comments.append(_conversation(state, "comment", account, post, index, created_at))
            if len(comments) == limit:
                break
    return comments


def account_mentions(
    state: PlatformState, account: AccountRecord, since: datetime | None, limit: int
) -> list[Conversation]:
    seed = state.settings.seed
    now = state.now()
    # Mentions before window ``mentions_until(since) - 1`` all happened before ``since``.
    first = 0
    if since is not None:
        first = max(
            0, engagement.mentions_until(state.simulated_between(account.created_at, since)) - 1
        )
    last = engagement.mentions_until(state.simulated_between(account.created_at, now))
    mentions: list[Conversation] = []
    for index in range(first, last):
        delay = engagement.mention_delay(seed, account.id, index)
        created_at = state.at_simulated(account.created_at, delay)
        if created_at > now:
            break
        if since is None or created_at > since:
            mentions.append(_conversation(state, "mention", account, None, index, created_at))
            if len(mentions) == limit:
                break
    return mentions


def conversation(state: PlatformState, conversation_id: str) -> Conversation:
    """The comment or mention with this id, once it has happened."""
    kind, _, rest = conversation_id.partition("-")
    owner_id, _, number = rest.rpartition("-")
    if kind not in ("comment", "mention") or not number.isdigit():
        raise NotFoundError("conversation", conversation_id)
    index = int(number)
    under: PostRecord | None = None
    if kind == "comment":
        post = state.post(owner_id)
        account = state.account(post.account_id)
        if index >= post_figures(state, post).comments:
            raise NotFoundError("conversation", conversation_id)
        total = engagement.totals(state.settings.seed, post.id, post.audience, post.has_video)
        delay = engagement.comment_delay(total.comments, index)
        created_at = state.at_simulated(post.created_at, delay)
        under = post
    else:
        account = state.account(owner_id)
        delay = engagement.mention_delay(state.settings.seed, account.id, index)
        created_at = state.at_simulated(account.created_at, delay)
        if created_at > state.now():
            raise NotFoundError("conversation", conversation_id)
    return _conversation(
        state, "comment" if under is not None else "mention", account, under, index, created_at
    )
