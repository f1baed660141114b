"""``engage up`` shows its processes' JSON log lines as a person reads them."""

import json

from engage.supervisor import readable


def test_a_json_log_line_reads_as_level_logger_and_message() -> None:
    line = json.dumps(
        {
            "time": "2026-12-03T21:03:29+00:00",
            "level": "warning",
            "logger": "shared.events.relay",
            "message": "outbox relay: TimeoutError(); retrying in 0.4s",
            "service": "strategy-worker",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        }
    )
    assert readable(line) == (
        "WARNING shared.events.relay: outbox relay: TimeoutError(); retrying in 0.4s"
    )


def test_an_exception_follows_its_message() -> None:
    line = json.dumps(
        {"level": "error", "logger": "x", "message": "failed", "exception": "Traceback ..."}
    )
    assert readable(line) == "ERROR x: failed\nTraceback ..."


def test_other_lines_are_shown_as_they_came() -> None:
    for line in ("INFO: plain text", "{not json", '{"no": "message"}', "[1, 2]"):
        assert readable(line) == line
