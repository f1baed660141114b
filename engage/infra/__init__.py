"""Local infrastructure for ``engage up``: use PostgreSQL, NATS, Temporal and an SMTP server when
they answer, otherwise start them from the wheels installed in the venv (nothing is downloaded at
run time). The embedded SMTP server sends nothing on: it keeps each message as an .eml file.

Every embedded server runs in its own session, so it is stopped as a whole process group and a
Ctrl-C in the terminal reaches only the supervisor, which then stops everything in order.
"""

from engage.infra.addresses import (
    data_dir,
    nats_reachable,
    nats_target,
    postgres_reachable,
    postgres_target,
    tcp_open,
    temporal_reachable,
    temporal_target,
)
from engage.infra.nats_server import start_nats
from engage.infra.postgres_server import postgres_pid, start_postgres, stop_pid
from engage.infra.processes import (
    EmbeddedProcess,
    InfraError,
    log_tail,
    stop_process,
    terminate_group,
)
from engage.infra.smtp_server import MailFolder, mail_dir, smtp_reachable, smtp_target, start_smtp
from engage.infra.temporal_server import start_temporal

__all__ = [
    "EmbeddedProcess",
    "InfraError",
    "MailFolder",
    "data_dir",
    "log_tail",
    "mail_dir",
    "nats_reachable",
    "nats_target",
    "postgres_pid",
    "postgres_reachable",
    "postgres_target",
    "smtp_reachable",
    "smtp_target",
    "start_nats",
    "start_postgres",
    "start_smtp",
    "start_temporal",
    "stop_pid",
    "stop_process",
    "tcp_open",
    "temporal_reachable",
    "temporal_target",
    "terminate_group",
]
