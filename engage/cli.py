"""``engage``: the platform's command line."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn

from shared.auth import AGENCY_ROLES, ALL_ORGANIZATIONS, Role, issue_dev_token
from shared.keep_alive import SERVER_KEEP_ALIVE_SECONDS
from shared.logging_json import setup_logging
from shared.settings import DATA_SERVICES, SERVICE_NAMES, get_settings

app = typer.Typer(help="Atlantide Engage: engagement programmes as durable workflows.")

GRACEFUL_SHUTDOWN_SECONDS = 5
WORKER_NAMES = (*DATA_SERVICES, "workflows")
# The sandbox platform is served like a service but is none: no data, no worker, no events.
SERVABLE = (*SERVICE_NAMES, "sandbox")


@app.command()
def up() -> None:
    """Start the whole platform in the foreground: infrastructure, services, workers."""
    from engage.supervisor import run_platform

    raise typer.Exit(asyncio.run(run_platform(get_settings())))


def served_app(service: str) -> Any:
    """The service's ASGI app, with what importing it built frozen out of the collector's reach.

    What the imports built (some 440,000 objects in the gateway, which imports every service's
    routes) lives as long as the process. Left to the collector, each full collection walked it
    all, 100 to 240 ms in the middle of whichever requests were in flight (the gateway's p99
    under load); frozen, a full collection walks only what serving creates."""
    app = importlib.import_module(f"services.{service}.main").app
    gc.collect()
    gc.freeze()
    return app


@app.command()
def serve(service: Annotated[str, typer.Argument(help=", ".join(SERVABLE))]) -> None:
    """Serve one service's HTTP API (or the sandbox platform) on its configured port."""
    if service not in SERVABLE:
        raise typer.BadParameter(f"unknown service {service!r}; one of {', '.join(SERVABLE)}")
    settings = get_settings()
    setup_logging(service, settings)
    uvicorn.run(
        served_app(service),
        host=settings.host,
        port=getattr(settings.ports, service),
        # The process's JSON lines (``setup_logging``), uvicorn's records included.
        log_config=None,
        log_level="info",
        access_log=settings.access_log,
        proxy_headers=True,
        # Open event streams would otherwise hold a shutdown until their clients leave.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        timeout_keep_alive=SERVER_KEEP_ALIVE_SECONDS,
    )


@app.command()
def worker(name: Annotated[str, typer.Argument(help=", ".join(WORKER_NAMES))]) -> None:
    """Run a Temporal worker: a service's activities (and its outbox relay), or the workflows."""
    if name not in WORKER_NAMES:
        raise typer.BadParameter(f"unknown worker {name!r}; one of {', '.join(WORKER_NAMES)}")
    module = importlib.import_module(
        "workflows.worker" if name == "workflows" else f"services.{name}.worker"
    )
    asyncio.run(module.main(get_settings()))


@app.command()
def openapi() -> None:
    """Print the gateway's OpenAPI document (``docs/openapi.json`` is this, committed)."""
    import json

    from services.gateway.app import build_app

    document = build_app(get_settings()).openapi()
    typer.echo(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))


@app.command()
def permissions() -> None:
    """Print the permission matrix as Markdown (``docs/permissions.md`` is this, committed)."""
    from services.gateway.app import build_app
    from shared.permissions import render_markdown

    typer.echo(render_markdown(build_app(get_settings()).openapi()), nl=False)


@app.command("worker-health")
def worker_health(name: Annotated[str, typer.Argument(help=", ".join(WORKER_NAMES))]) -> None:
    """Exit 0 when the named worker's heartbeat is fresh (its Kubernetes probe)."""
    from shared.worker import heartbeat_is_fresh

    if not heartbeat_is_fresh(name):
        typer.echo(f"worker {name}: no heartbeat in the last minute", err=True)
        raise typer.Exit(1)
    typer.echo(f"worker {name}: alive")


@app.command()
def migrate() -> None:
    """Create the database if missing, migrate every service's schema, create or update the
    services' roles, ensure the event stream (as NATS's admin user, unless ENGAGE_NATS_USER)."""
    from engage.bootstrap import prepare
    from engage.nats_auth import ADMIN, as_component

    asyncio.run(prepare(as_component(get_settings(), ADMIN)))
    typer.echo("database migrated, roles granted and stream ready")


@app.command("nats-config")
def nats_config() -> None:
    """Print the NATS server's users and their subject permissions (the ``authorization``
    block ``engage up`` gives its embedded server), for a server of one's own."""
    import json

    from engage.nats_auth import server_config

    typer.echo(json.dumps(server_config(get_settings()), indent=2))


@app.command()
def demo(
    gateway_url: Annotated[
        str | None,
        typer.Option(help="The running platform's gateway [default: http://127.0.0.1:<port>]"),
    ] = None,
    minutes: Annotated[
        float, typer.Option(min=0.1, help="About how long the whole lifecycle should take")
    ] = 2.0,
    support_weeks: Annotated[
        int, typer.Option(min=1, max=52, help="Weeks of post-launch support (one cycle each)")
    ] = 2,
) -> None:
    """Run a sample client's engagement through all six phases, live (needs `make up`)."""
    from engage.demo import DemoError, run_demo
    from engage.output import output_console

    settings = get_settings()
    url = gateway_url or f"http://127.0.0.1:{settings.ports.gateway}"
    try:
        asyncio.run(
            run_demo(
                settings,
                url,
                output_console(),
                target_seconds=minutes * 60,
                support_weeks=support_weeks,
                timeout_seconds=minutes * 180 + 60,
            )
        )
    except DemoError as error:
        output_console(stderr=True).print(f"[bold red]engage demo:[/] {error}")
        raise typer.Exit(1) from error


@app.command()
def token(
    role: Annotated[
        list[Role] | None,
        typer.Option(
            "--role",
            help="Role to grant in every --org (or, for agency roles "
            "without --org, in every organisation); repeatable.",
        ),
    ] = None,
    org: Annotated[
        list[str] | None,
        typer.Option("--org", help="Organisation id the --role roles apply to; repeatable."),
    ] = None,
    grant: Annotated[
        list[str] | None,
        typer.Option(
            "--grant",
            help="ORG=ROLE: a role in one organisation ('*' for every organisation, agency "
            "roles only); repeatable.",
        ),
    ] = None,
    subject: Annotated[str, typer.Option(help="The principal's id.")] = "dev@atlantide.local",
) -> None:
    """Print a development JWT (HS256, signed with the configured secret)."""
    settings = get_settings()
    if settings.environment == "prod":
        raise typer.BadParameter("development tokens are not issued when ENGAGE_ENVIRONMENT=prod")
    roles = list(role or [])
    organizations = list(org or [])
    org_roles = _grants(grant or [])
    if roles and not organizations:
        if set(roles) - AGENCY_ROLES:
            raise typer.BadParameter("client roles need --org: they see only their organisation")
        organizations = [ALL_ORGANIZATIONS]
    if not roles and not org_roles:
        raise typer.BadParameter("grant at least one role: --role or --grant")
    typer.echo(issue_dev_token(settings, subject, roles, organizations, org_roles=org_roles))


def _grants(grants: list[str]) -> dict[str, list[Role]]:
    """``ORG=ROLE`` options as roles per organisation."""
    by_org: dict[str, list[Role]] = {}
    for grant in grants:
        organization, _, name = grant.partition("=")
        try:
            granted = Role(name)
            if organization != ALL_ORGANIZATIONS:
                uuid.UUID(organization)
        except ValueError as error:
            raise typer.BadParameter(f"--grant {grant!r} is not ORG=ROLE") from error
        if organization == ALL_ORGANIZATIONS and granted not in AGENCY_ROLES:
            raise typer.BadParameter(f"{granted} is a client role: it cannot be granted in '*'")
        by_org.setdefault(organization, []).append(granted)
    return by_org


sentiment_app = typer.Typer(
    help="Sentiment of texts, offline (Italian and English): label a file, or train a model."
)
app.add_typer(sentiment_app, name="sentiment")

# Lines read, labelled and printed at a time: memory stays bounded whatever the input's size.
SENTIMENT_BATCH = 4096
INPUT_ERROR = 2


@sentiment_app.callback(invoke_without_command=True)
def sentiment(
    ctx: typer.Context,
    file: Annotated[
        str | None,
        typer.Option("--file", help="UTF-8 lines id<TAB>text; '-' reads standard input."),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(help="A trained model's directory [default: the shipped lexicon model]."),
    ] = None,
) -> None:
    """Print id<TAB>label for each input line, in order: positive, negative, neutral or mixed."""
    if ctx.invoked_subcommand is not None:
        return
    if file is None:
        raise typer.BadParameter("--file is needed (or a subcommand: train)", param_hint="--file")
    from itertools import islice

    from services.listening.sentiment.corpus import InputError, read_items
    from services.listening.sentiment.model import ModelError, SentimentModel

    try:
        labeller = SentimentModel.load(model)
    except ModelError as error:
        typer.echo(f"engage sentiment: {error}", err=True)
        raise typer.Exit(INPUT_ERROR) from error
    with contextlib.ExitStack() as stack:
        try:
            stream = sys.stdin.buffer if file == "-" else stack.enter_context(open(file, "rb"))
        except OSError as error:
            typer.echo(f"engage sentiment: {file}: {error.strerror}", err=True)
            raise typer.Exit(INPUT_ERROR) from error
        items = read_items(stream)
        failure: InputError | None = None
        while failure is None:
            batch: list[tuple[str, str]] = []
            try:
                batch.extend(islice(items, SENTIMENT_BATCH))
            except InputError as error:
                # The lines before the bad one are labelled and printed first.
                failure = error
            if not batch:
                break
            labelled = labeller.label([text for _, text in batch], every_text=True)
            sys.stdout.writelines(
                f"{identifier}\t{result.label}\n"
                for (identifier, _), result in zip(batch, labelled, strict=True)
            )
        sys.stdout.flush()
    if failure is not None:
        typer.echo(f"engage sentiment: {file}: {failure}", err=True)
        raise typer.Exit(INPUT_ERROR)


@sentiment_app.command("train")
def sentiment_train(
    data: Annotated[
        Path,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Labelled UTF-8 TSV: a header naming text and pos, neg (SENTIPOLC) or label.",
        ),
    ],
    out: Annotated[Path, typer.Option(help="Directory to write the model to.")],
    language: Annotated[
        str | None, typer.Option(help="it or en [default: the language most texts are in].")
    ] = None,
) -> None:
    """Train a model (logistic regression over word and character n-grams) from labelled data."""
    from services.listening.sentiment.corpus import InputError
    from services.listening.sentiment.training import train_file

    try:
        model = train_file(data, out, language=language)
    except (InputError, ValueError) as error:
        typer.echo(f"engage sentiment train: {data}: {error}", err=True)
        raise typer.Exit(INPUT_ERROR) from error
    typer.echo(f"model {model.version} written to {out}")


reporting_app = typer.Typer(help="The reporting service's read model.", no_args_is_help=True)
app.add_typer(reporting_app, name="reporting")


@reporting_app.command("rebuild")
def reporting_rebuild() -> None:
    """Empty the reporting read model and replay the event stream into it.

    The reporting worker may keep running meanwhile (services/reporting/readmodel/rebuild.py)."""
    from services.reporting.readmodel.rebuild import rebuild_from_settings

    asyncio.run(rebuild_from_settings(get_settings(), typer.echo))
