"""Sentiment of texts, offline, in Italian and English (docs/sentiment.md)."""

from services.listening.sentiment.model import LABELS, Labelled, SentimentModel

__all__ = ["LABELS", "Labelled", "SentimentModel"]
