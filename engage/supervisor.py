"""``engage up``: the whole platform in the foreground of a developer's terminal.

Infrastructure that already answers is used as it is (and never stopped); what is missing is
started from the venv's wheels. Then the database is migrated, every service and worker runs as a
child process with its output prefixed in the terminal, crashed children are restarted with
backoff, and Ctrl-C or SIGTERM stops everything this process started.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.text import Text

from engage import infra, nats_auth
from engage.bootstrap import prepare
from engage.children import (
    COMPONENTS,
    MAX_RESTARTS,
    RESTART_WINDOW_SECONDS,
    ChildSpec,
    _Component,
    child_component,
    child_environment,
    child_specs,
    restart_delay,
)
from engage.infra import EmbeddedProcess, InfraError
from engage.output import output_console
from engage.up_terminal import (
    EMBEDDED,
    EXTERNAL,
    describe,
    platform_table,
    progress_lines,
    readable,
    service_url,
)
from shared.settings import Settings

__all__ = [
    "COMPONENTS",
    "EMBEDDED",
    "RESTART_WINDOW_SECONDS",
    "ChildSpec",
    "_Component",
    "_Platform",
    "child_component",
    "child_environment",
    "child_specs",
    "readable",
    "restart_delay",
    "run_platform",
]

STOP_GRACE_SECONDS = 10.0
READY_TIMEOUT_SECONDS = 120.0
READY_POLL_SECONDS = 0.5
# Generous, so one long log line (a traceback's repr, a big JSON log) does not break the pump.
LINE_LIMIT_BYTES = 1024 * 1024
COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta")


@dataclass
class _Child:
    spec: ChildSpec
    style: str
    process: asyncio.subprocess.Process | None = None
    pump: asyncio.Task[None] | None = None
    watcher: asyncio.Task[None] | None = None
    restarts: deque[float] = field(default_factory=deque)


@dataclass
class _Embedded:
    """A server started here: restarted when it dies, like the children."""

    component: _Component
    handle: EmbeddedProcess
    watcher: asyncio.Task[None] | None = None
    restarts: deque[float] = field(default_factory=deque)


class _Platform:
    def __init__(
        self,
        settings: Settings,
        console: Console,
        components: tuple[_Component, ...] = COMPONENTS,
    ) -> None:
        self.settings = settings
        self.console = console
        self.components = components
        self.embedded: list[_Embedded] = []
        self.origins: dict[str, str] = {}
        specs = child_specs(settings)
        self.children = [_Child(s, COLOURS[i % len(COLOURS)]) for i, s in enumerate(specs)]
        self.width = max(len(s.name) for s in specs)
        self._run_task: asyncio.Task[None] | None = None
        self._exit_code: int | None = None
        self._stopping = False

    # --- lifecycle --------------------------------------------------------------------------

    async def main(self) -> int:
        loop = asyncio.get_running_loop()
        self._run_task = asyncio.create_task(self._run())
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            await self._run_task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we are cancelled ourselves, not just the run we stopped
        except Exception as error:
            self.console.print(Text(f"engage up failed: {describe(error)}", style="bold red"))
            self._finish(1)
        finally:
            try:
                await self._shutdown()
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
        return self._exit_code or 0

    @property
    def _nats_users(self) -> bool:
        """Whether NATS admits only our users: the embedded server, configured here."""
        return self.origins.get("NATS") == EMBEDDED

    async def _run(self) -> None:
        await self._ensure_infrastructure()
        with self.console.status("Creating the database, migrating schemas, ensuring the stream"):
            await prepare(nats_auth.as_component(self.settings, nats_auth.ADMIN))
        self.console.print(
            f"[green]✓[/] database migrated, stream {self.settings.events.stream} ready"
        )
        for child in self.children:
            await self._spawn(child)
            child.watcher = asyncio.create_task(self._watch(child))
        ready = await self._wait_ready()
        table = platform_table(
            self.settings, ready, self.origins, embedded_logs=bool(self.embedded)
        )
        self.console.print(table)
        self.console.print("[bold]Platform running; press Ctrl-C to stop.")
        await asyncio.get_running_loop().create_future()  # until a signal or a give-up

    def _finish(self, code: int) -> None:
        """Record why we stop (the first reason wins) and end the run."""
        if self._exit_code is None:
            self._exit_code = code
        if self._run_task is not None and not self._run_task.done():
            self._run_task.cancel()

    def _on_signal(self, sig: signal.Signals) -> None:
        if self._stopping:
            self.console.print("[yellow]Already stopping; waiting for the processes to exit.")
            return
        self.console.print(f"\n[bold]{sig.name} received: stopping the platform.")
        self._finish(0)

    async def _shutdown(self) -> None:
        self._stopping = True
        watchers = [c.watcher for c in self.children if c.watcher is not None]
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        running = [c.process for c in self.children if c.process and c.process.returncode is None]
        if running:
            with self.console.status(f"Stopping {len(running)} processes"):
                await asyncio.gather(
                    *(infra.terminate_group(p, STOP_GRACE_SECONDS) for p in running)
                )
            self.console.print(f"[green]✓[/] stopped {len(running)} processes")
        await asyncio.gather(*(self._drain(c) for c in self.children))
        await self._stop_infrastructure()
        self.console.print("[bold]Platform stopped.")

    async def _stop_infrastructure(self) -> None:
        self._stopping = True
        watchers = [e.watcher for e in self.embedded if e.watcher is not None]
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        for embedded in reversed(self.embedded):
            handle = embedded.handle
            with self.console.status(f"Stopping embedded {handle.name}"):
                await infra.stop_process(handle, STOP_GRACE_SECONDS)
            self.console.print(f"[green]✓[/] stopped embedded {handle.name}")
        if self.origins.get("PostgreSQL") == EMBEDDED:
            # One started on the embedded cluster by hand (after a crash, say) is ours too.
            pid = infra.postgres_pid(self.settings)
            if pid is not None:
                with self.console.status(f"Stopping PostgreSQL {pid} on the embedded cluster"):
                    await infra.stop_pid(pid, signal.SIGINT, STOP_GRACE_SECONDS)
                self.console.print(f"[green]✓[/] stopped PostgreSQL {pid} (not started here)")

    # --- infrastructure ---------------------------------------------------------------------

    async def _ensure_infrastructure(self) -> None:
        with progress_lines(self.console) as progress:
            try:
                async with asyncio.TaskGroup() as group:
                    for component in self.components:
                        group.create_task(self._ensure(component, progress))
            except ExceptionGroup as failure:
                raise InfraError("\n".join(describe(e) for e in failure.exceptions)) from None

    async def _ensure(self, component: _Component, progress: Progress) -> None:
        host, port = component.target(self.settings)
        title, where = component.title, f"{host}:{port}"
        task = progress.add_task(f"{title}: checking {where}", total=1)

        def finish(description: str) -> None:
            progress.update(task, description=description, completed=1)

        try:
            if await component.reachable(self.settings):
                handle = None
            else:
                progress.update(task, description=f"{title}: starting embedded server on {where}")
                handle = await component.start(self.settings)
        except asyncio.CancelledError:
            finish(f"[yellow]-[/] {title}: start abandoned")
            raise
        except Exception:
            finish(f"[red]✗ {title}: failed on {where}[/]")
            raise
        if handle is None:
            self.origins[title] = EXTERNAL
            finish(f"[green]✓[/] {title}: using {where}")
            return
        embedded = _Embedded(component, handle)
        embedded.watcher = asyncio.create_task(self._watch_embedded(embedded))
        self.embedded.append(embedded)
        self.origins[title] = EMBEDDED
        finish(f"[green]✓[/] {title}: embedded on {where}")

    # --- children ---------------------------------------------------------------------------

    async def _spawn(self, child: _Child) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "engage",
            *child.spec.args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            env=child_environment(
                self.settings, child_component(child.spec), nats_users=self._nats_users
            ),
            limit=LINE_LIMIT_BYTES,
        )
        child.process = process
        child.pump = asyncio.create_task(self._pump(child, process))

    async def _pump(self, child: _Child, process: asyncio.subprocess.Process) -> None:
        # Each line shown as a person reads it; the processes' JSON lines are for collectors.
        assert process.stdout is not None
        prefix = Text(f"{child.spec.name:<{self.width}} │ ", style=child.style)
        while True:
            try:
                line = await process.stdout.readline()
            except ValueError:  # over LINE_LIMIT_BYTES; the reader has dropped it
                line = b"(an over-long line was dropped)\n"
            if not line:
                return
            body = Text.from_ansi(readable(line.decode("utf-8", errors="replace").rstrip()))
            self.console.print(Text.assemble(prefix, body), soft_wrap=True)

    async def _drain(self, child: _Child) -> None:
        """Let the pump print the last lines; a grandchild holding the pipe must not block us."""
        if child.pump is None:
            return
        done, _ = await asyncio.wait({child.pump}, timeout=2.0)
        if not done:
            child.pump.cancel()

    async def _watch(self, child: _Child) -> None:
        try:
            while True:
                assert child.process is not None
                code = await child.process.wait()
                await self._drain(child)
                if self._stopping:
                    return
                if not await self._restart(child, code):
                    return
        except Exception as error:  # a supervisor bug or a failed spawn: stop rather than limp
            self.console.print(Text(f"{child.spec.name}: {describe(error)}", style="bold red"))
            self._finish(1)

    async def _restart(self, child: _Child, code: int) -> bool:
        if not await self._back_off(child.spec.name, child.restarts, code):
            return False
        await self._spawn(child)
        return True

    async def _back_off(self, name: str, restarts: deque[float], code: int) -> bool:
        """Wait before the next restart; False (and the platform stopping) after too many."""
        now = time.monotonic()
        while restarts and now - restarts[0] > RESTART_WINDOW_SECONDS:
            restarts.popleft()
        if len(restarts) >= MAX_RESTARTS:
            self.console.print(
                f"[bold red]{name} exited with code {code} after {MAX_RESTARTS} restarts within "
                f"{RESTART_WINDOW_SECONDS:.0f}s; giving up and stopping the platform."
            )
            self._finish(1)
            return False
        restarts.append(now)
        delay = restart_delay(len(restarts))
        self.console.print(
            f"[yellow]{name} exited with code {code}; restarting in {delay:.0f}s "
            f"(restart {len(restarts)}/{MAX_RESTARTS} this minute)"
        )
        await asyncio.sleep(delay)
        return True

    async def _watch_embedded(self, embedded: _Embedded) -> None:
        """Start a dead embedded server again; the children reconnect to it by themselves."""
        title = embedded.component.title
        while True:
            code = await embedded.handle.process.wait()
            if self._stopping:
                return
            # What the server left in its process group (a crashed postmaster's backends).
            await infra.stop_process(embedded.handle, STOP_GRACE_SECONDS)
            name = f"embedded {title}"
            if not await self._back_off(name, embedded.restarts, code):
                return
            try:
                handle = await embedded.component.start(self.settings)
            except InfraError as error:
                self.console.print(Text(f"{name}: {describe(error)}", style="yellow"))
                continue
            if handle is None:
                self.console.print(
                    f"[yellow]{title} answers again, started by someone else: used as it is"
                )
                return
            embedded.handle = handle
            self.console.print(f"[green]✓[/] {name} restarted")

    # --- readiness and summary --------------------------------------------------------------

    async def _wait_ready(self) -> dict[str, bool]:
        services = [c.spec for c in self.children if c.spec.port is not None]
        with progress_lines(self.console) as progress:
            async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
                states = await asyncio.gather(
                    *(self._await_ready(client, progress, spec) for spec in services)
                )
        return {spec.name: ready for spec, ready in zip(services, states, strict=True)}

    async def _await_ready(
        self, client: httpx.AsyncClient, progress: Progress, spec: ChildSpec
    ) -> bool:
        assert spec.port is not None
        url = f"{service_url(self.settings, spec.port)}/readyz"
        task = progress.add_task(f"{spec.name}: waiting for {url}", total=1)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        last = "no answer yet"
        while time.monotonic() < deadline:
            try:
                response = await client.get(url)
            except httpx.HTTPError as error:
                last = type(error).__name__
            else:
                if response.status_code == 200:
                    description = f"[green]✓[/] {spec.name}: ready"
                    progress.update(task, description=description, completed=1)
                    return True
                last = f"HTTP {response.status_code}"
            progress.update(task, description=f"{spec.name}: waiting for {url} ({last})")
            await asyncio.sleep(READY_POLL_SECONDS)
        description = f"[yellow]! {spec.name}: not ready ({last})[/]"
        progress.update(task, description=description, completed=1)
        return False


async def run_platform(settings: Settings) -> int:
    """Run the platform until Ctrl-C/SIGTERM (exit code 0) or a child keeps crashing (1)."""
    return await _Platform(settings, output_console()).main()
