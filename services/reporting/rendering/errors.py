"""The one error rendering raises, so a caller can mark the report failed with the reason and
retry, instead of catching whatever matplotlib, fpdf2 or Jinja2 happened to throw."""

from __future__ import annotations


class RenderingError(Exception):
    """A report could not be rendered; the message says which part and why."""
