"""The Rich console that the command line prints through."""

from __future__ import annotations

from rich.console import Console

# Columns when the output goes to a file or a pipe: Rich would assume 80 and fold the addresses
# that `engage up` and `engage demo` print; a log should keep each URL whole, on one line.
LOGGED_WIDTH = 120


def output_console(*, stderr: bool = False) -> Console:
    """A console for a terminal as wide as it is, or for a log at ``LOGGED_WIDTH`` columns."""
    console = Console(stderr=stderr, highlight=False)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, highlight=False, width=LOGGED_WIDTH)
