"""What ``engage up`` shows in its terminal: progress lines, the table of what runs where,
errors said plainly and the processes' JSON log lines made readable."""

from __future__ import annotations

import json

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.engine import make_url

from engage import infra
from engage.children import SANDBOX, WORKERS
from engage.infra import InfraError
from shared.settings import Settings

SANDBOX_LABEL = "sandbox platform (offline, not a real network)"
EMBEDDED = "embedded (started here)"
EXTERNAL = "external"


def browsable_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def database_display(database_url: str) -> str:
    url = make_url(database_url).set(drivername="postgresql", password=None)
    return url.render_as_string(hide_password=False)


def describe(error: BaseException) -> str:
    return str(error) if isinstance(error, InfraError) else f"{type(error).__name__}: {error}"


def progress_lines(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(finished_text=""),  # finished lines carry their own mark
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
    )


def service_url(settings: Settings, port: int) -> str:
    return f"http://{browsable_host(settings.host)}:{port}"


def platform_table(
    settings: Settings, ready: dict[str, bool], origins: dict[str, str], *, embedded_logs: bool
) -> Table:
    """What runs where: the services (ready or not), the workers and the infrastructure, each
    started here, embedded or external."""
    table = Table(title="Atlantide Engage")
    table.add_column("Component")
    table.add_column("Where", overflow="fold")  # a clipped URL is useless
    table.add_column("Runs")
    for name, is_ready in ready.items():
        state = "started here" if is_ready else "started here [yellow](not ready)[/]"
        label = SANDBOX_LABEL if name == SANDBOX else name
        table.add_row(label, service_url(settings, getattr(settings.ports, name)), state)
    table.add_row("API docs", f"{service_url(settings, settings.ports.gateway)}/docs", "")
    table.add_row("Console", f"{service_url(settings, settings.ports.gateway)}/console", "")
    for worker in WORKERS:
        table.add_row(f"worker {worker}", "Temporal task queues", "started here")
    temporal_host = browsable_host(infra.temporal_target(settings)[0])
    table.add_row("Temporal", settings.temporal.address, origins["Temporal"])
    ui = f"http://{temporal_host}:{settings.temporal.ui_port}"
    table.add_row("Temporal UI", ui, origins["Temporal"])
    table.add_row("NATS", settings.nats_url, origins["NATS"])
    database = database_display(settings.database_url)
    table.add_row("PostgreSQL", database, origins["PostgreSQL"])
    smtp_host, smtp_port = infra.smtp_target(settings)
    table.add_row("SMTP (notifications)", f"{smtp_host}:{smtp_port}", origins["SMTP"])
    if origins["SMTP"] == EMBEDDED:
        table.add_row("Mail kept", str(infra.mail_dir(settings)), "")
    if embedded_logs:
        table.add_row("Embedded logs", str(infra.data_dir(settings) / "logs"), "")
    return table


def readable(line: str) -> str:
    """A process's JSON log line as ``LEVEL logger: message`` (and its exception), for the
    terminal ``engage up`` runs in; any other line as it came."""
    if not line.startswith("{"):
        return line
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict) or "message" not in record:
        return line
    text = f"{str(record.get('level', '')).upper()} {record.get('logger', '')}: {record['message']}"
    if exception := record.get("exception"):
        text += f"\n{exception}"
    return text
