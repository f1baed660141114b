"""The organisation's active queries as ingestion matches mentions against them: each query's
expressions parsed and compiled once (``query_matching.compiled``), each mention normalised once
for all of them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from services.listening import query_language, query_matching
from services.listening.models import ListeningQuery


@dataclass(frozen=True)
class _CompiledQuery:
    expression_text: str
    exclusions_text: str | None
    expression: query_matching.Predicate
    exclusions: query_matching.Predicate | None


@dataclass(frozen=True, slots=True)
class ReadyQuery:
    """An active query as a batch matches it: its expressions compiled and what every mention
    is checked against copied out of the ORM row once per batch, not read through it for every
    mention."""

    id: uuid.UUID
    engagement_id: uuid.UUID | None
    sources: frozenset[str]
    languages: frozenset[str]
    expression: query_matching.Predicate
    exclusions: query_matching.Predicate | None


class QueryMatcher:
    """Matches mentions against queries, each query's expressions parsed and compiled once and
    each mention normalised once for all of them.

    A query's expressions do not change once it is switched on; the cache still checks the
    texts, so a query whose expressions were rewritten (a migration) is compiled again."""

    def __init__(self) -> None:
        self._compiled: dict[uuid.UUID, _CompiledQuery] = {}

    def _compile(self, query: ListeningQuery) -> _CompiledQuery:
        cached = self._compiled.get(query.id)
        if (
            cached is None
            or cached.expression_text != query.expression
            or cached.exclusions_text != query.exclusions
        ):
            cached = _CompiledQuery(
                expression_text=query.expression,
                exclusions_text=query.exclusions,
                expression=query_matching.compiled(query_language.parse(query.expression)),
                exclusions=(
                    query_matching.compiled(query_language.parse(query.exclusions))
                    if query.exclusions
                    else None
                ),
            )
            self._compiled[query.id] = cached
        return cached

    def ready(self, queries: Sequence[ListeningQuery]) -> list[ReadyQuery]:
        """The queries as ``matching`` takes them, in the same order (once per batch)."""
        found = []
        for query in queries:
            compiled = self._compile(query)
            found.append(
                ReadyQuery(
                    id=query.id,
                    engagement_id=query.engagement_id,
                    sources=frozenset(query.sources),
                    languages=frozenset(query.languages or ()),
                    expression=compiled.expression,
                    exclusions=compiled.exclusions,
                )
            )
        return found

    def matching(
        self, queries: Sequence[ReadyQuery], mention: query_matching.MentionText, source: str
    ) -> list[ReadyQuery]:
        """The queries that read the mention's source and language, match it and do not
        exclude it. A query limited to languages does not take a mention of unknown language."""
        found = []
        normalised: query_matching.Normalised | None = None
        for query in queries:
            if source not in query.sources:
                continue
            if query.languages and mention.language not in query.languages:
                continue
            if normalised is None:
                normalised = query_matching.Normalised.of(mention)
            if not query.expression(normalised):
                continue
            if query.exclusions is not None and query.exclusions(normalised):
                continue
            found.append(query)
        return found
