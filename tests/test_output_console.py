"""The command line's output keeps addresses whole when written to a file or a pipe."""

from __future__ import annotations

import io

from rich.table import Table

from engage.output import LOGGED_WIDTH, output_console


def test_a_logged_table_keeps_each_address_on_one_line() -> None:
    console = output_console()  # pytest captures stdout: not a terminal
    assert not console.is_terminal
    assert console.width == LOGGED_WIDTH
    url = "http://127.0.0.1:8000/v1/engagements/6aeb3e64-c035-4b93-8ee4-c48554f9da0e"
    table = Table()
    table.add_column("Component")
    table.add_column("Where", overflow="fold")
    table.add_row("gateway", url)
    console.file = io.StringIO()
    console.print(table)
    printed = console.file.getvalue()
    assert any(url in line for line in printed.splitlines()), printed
