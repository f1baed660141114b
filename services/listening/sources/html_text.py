"""The text a reader sees in an HTML fragment (a feed's summary, a Mastodon status): markup
dropped, paragraphs and line breaks kept as new lines, entities decoded."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements that end a line of text where they open or close.
_BLOCKS = frozenset(
    {"address", "article", "blockquote", "br", "div", "h1", "h2", "h3", "h4", "h5", "h6"}
    | {"hr", "li", "ol", "p", "pre", "section", "table", "tr", "ul"}
)
# Elements whose content is never text a reader sees.
_HIDDEN = frozenset({"script", "style", "template", "head"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden_depth += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """``fragment`` as plain text: one space between words, one line per block, no blank runs."""
    collector = _TextCollector()
    collector.feed(fragment)
    collector.close()
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(collector.parts).split("\n"))
    return "\n".join(line for line in lines if line)
