"""How long a reply may be on each channel it answers on.

Content owns the platform rules of posts (``services/content/platform_rules.py``), which
listening must not import and which are not plain data to share. A reply is a comment, whose
limits differ from a post's anyway, so this one table keeps the tightest documented limit of a
reply per channel, counted in characters (code points): an answer that passes here is accepted."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReplyLimit:
    rule: str
    max_characters: int
    source: str


REPLY_LIMITS: dict[str, ReplyLimit] = {
    limit.rule.removeprefix("reply_text_limit."): limit
    for limit in (
        ReplyLimit("reply_text_limit.sandbox", 1000, "the sandbox platform's text limit"),
        ReplyLimit("reply_text_limit.x", 280, "X: a reply is a post, 280 characters"),
        ReplyLimit("reply_text_limit.mastodon", 500, "Mastodon: a stock instance's 500"),
        ReplyLimit("reply_text_limit.instagram", 2200, "Instagram: a comment's 2,200"),
        ReplyLimit("reply_text_limit.facebook", 8000, "Facebook: a comment's 8,000"),
        ReplyLimit("reply_text_limit.youtube", 10_000, "YouTube: a comment's 10,000"),
    )
}


def violated(channel: str, text: str) -> ReplyLimit | None:
    """The limit ``text`` breaks on ``channel``, if any; a channel not listed has none here."""
    limit = REPLY_LIMITS.get(channel)
    if limit is not None and len(text) > limit.max_characters:
        return limit
    return None
