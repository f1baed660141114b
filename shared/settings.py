"""The one settings class of Atlantide Engage.

Every URL, port and secret comes from the environment (prefix ``ENGAGE_``, nested sections with
``__``: ``ENGAGE_PORTS__GATEWAY=9000``) and has a documented default that works on a developer's
machine. Secrets keep a development default that is refused outside ``dev``/``test``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "engage-dev-secret-do-not-use-in-production"  # noqa: S105 - refused outside dev
DEV_MEDIA_URL_KEY = "engage-dev-media-key-not-for-production"
DEV_ACTOR_SIGNING_KEY = "engage-dev-actor-key-not-for-production"

Environment = Literal["dev", "test", "prod"]
ServiceName = Literal["gateway", "strategy", "content", "publisher", "listening", "reporting"]
SERVICE_NAMES: tuple[ServiceName, ...] = (
    "gateway",
    "strategy",
    "content",
    "publisher",
    "listening",
    "reporting",
)
DATA_SERVICES: tuple[ServiceName, ...] = SERVICE_NAMES[1:]


class Ports(BaseModel):
    """HTTP port of each service on the local host."""

    gateway: int = 8000
    strategy: int = 8001
    content: int = 8002
    publisher: int = 8003
    listening: int = 8004
    reporting: int = 8005
    # The built-in sandbox platform (a local simulation, not a data service).
    sandbox: int = 8010


class ServiceUrls(BaseModel):
    """Where the gateway reaches each data service; empty means ``http://127.0.0.1:<port>``."""

    strategy: str = ""
    content: str = ""
    publisher: str = ""
    listening: str = ""
    reporting: str = ""


JwksAlgorithm = Literal["RS256", "ES256"]


class AuthSettings(BaseModel):
    """How bearer tokens are verified.

    With ``jwks_url`` (required in ``prod``) tokens are verified against the identity provider's
    key set, with an asymmetric algorithm only; without it (``dev``, ``test``) they are HS256 with
    ``jwt_secret``, what ``engage token`` signs.
    """

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwks_url: str | None = None
    # A key's algorithm comes from its JWK (``alg``, or its key type); a token is accepted only
    # when that algorithm is listed here, so an HS256 token, or a key meant for another
    # algorithm, is refused.
    jwks_algorithms: list[JwksAlgorithm] = Field(default=["RS256", "ES256"], min_length=1)
    # Fetches of the key set (a token with an unknown ``kid``, or the cached set expiring) go
    # to the identity provider at most once per this many seconds; in between the cached keys
    # answer, so tokens with made-up key ids cannot make the gateway hammer the provider.
    jwks_min_refetch_seconds: float = Field(60.0, gt=0)
    # How long a fetched key set is used before it is fetched again.
    jwks_cache_seconds: float = Field(300.0, gt=0)
    issuer: str = "atlantide-engage"
    audience: str = "atlantide-engage"
    dev_token_ttl_seconds: int = 8 * 3600
    # The console's sign-in at the identity provider (OpenID Connect, authorization code with
    # PKCE), offered with ``jwks_url`` and a client id. The provider's endpoints come from the
    # issuer's discovery document (``<issuer>/.well-known/openid-configuration``) unless both
    # are set here.
    console_client_id: str | None = None
    # The callback registered at the provider; by default the gateway's address as the
    # browser reached it, followed by ``/console/oidc/callback``.
    console_redirect_url: str | None = None
    console_scopes: str = "openid"
    oidc_authorization_url: str | None = None
    oidc_token_url: str | None = None


class EventSettings(BaseModel):
    stream: str = "ENGAGE"
    # Subjects are ``<prefix>.<domain>.<event>``; tests use their own prefix and stream.
    subject_prefix: str = "engage"
    source: str = "urn:atlantide-engage"
    relay_poll_seconds: float = 0.2
    # Events per relay transaction: 1,000 relayed 2.5 to 3.4 times as fast as 200
    # (docs/benchmarks.md, outbox relay).
    relay_batch_size: int = 1000
    duplicate_window_seconds: int = 120
    # How often each process checks that NATS answers through its client (live streams end
    # at the first check that fails), and how long a client may go unanswered before it is
    # closed and replaced by a new connection.
    nats_probe_interval_seconds: float = Field(2.0, gt=0)
    nats_replace_after_seconds: float = Field(60.0, gt=0)


class TemporalSettings(BaseModel):
    """Where the Temporal frontend is, and how a client proves who it is to it.

    TLS is on in ``prod`` (unless ``tls`` is set to false, which ``prod`` refuses without
    ``allow_plaintext``) and off in ``dev``/``test``, where ``engage up`` runs a plaintext
    development server. A client authenticates with a certificate (mTLS: ``tls_client_cert_file``
    and ``tls_client_key_file``) or an API key (sent as a bearer token, only over TLS).
    """

    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    ui_port: int = 8233
    # Prepended to every task queue name, so test runs never steal each other's tasks.
    task_queue_prefix: str = ""
    # Unset: TLS in ``prod`` (or when a certificate or API key is configured), plaintext otherwise.
    tls: bool | None = None
    # PEM files (in Kubernetes, a Secret mounted as a volume). Without a CA file the server's
    # certificate is checked against the system's roots (what Temporal Cloud needs).
    tls_server_ca_cert_file: str = ""
    tls_client_cert_file: str = ""
    tls_client_key_file: str = ""
    # The name the server's certificate must carry, when it differs from the address's host.
    tls_server_name: str = ""
    api_key: SecretStr | None = None
    # ``prod`` only: accept ``tls=false`` (a Temporal reachable only on a private network).
    allow_plaintext: bool = False
    # HMAC-SHA256 keys with which the gateway signs the actor of each workflow update it sends,
    # newest first (signed with the first, accepted with any). Unset: a development key in
    # ``dev``/``test``, none in ``prod`` (where only the gateway and the workflow worker get it).
    actor_signing_keys: list[SecretStr] | None = None
    # Workers refuse an update whose actor is unsigned, forged or older than the maximum age.
    # Unset: on in ``prod``, off in ``dev``/``test`` (tests send updates straight to workflows).
    verify_actors: bool | None = None
    actor_signature_max_age_seconds: float = Field(300.0, gt=0)

    @model_validator(mode="after")
    def _client_certificate_comes_with_its_key(self) -> TemporalSettings:
        if bool(self.tls_client_cert_file) != bool(self.tls_client_key_file):
            raise ValueError(
                "ENGAGE_TEMPORAL__TLS_CLIENT_CERT_FILE and ENGAGE_TEMPORAL__TLS_CLIENT_KEY_FILE "
                "go together (mTLS needs the certificate and its private key)"
            )
        if self.tls is False and (self._tls_files() or self.api_key is not None):
            raise ValueError(
                "ENGAGE_TEMPORAL__TLS is false while TLS files or an API key are configured"
            )
        return self

    def _tls_files(self) -> bool:
        return bool(
            self.tls_server_ca_cert_file or self.tls_client_cert_file or self.tls_server_name
        )

    def actor_keys(self, environment: Environment) -> list[bytes]:
        if self.actor_signing_keys is None:
            return [] if environment == "prod" else [DEV_ACTOR_SIGNING_KEY.encode()]
        return [key.get_secret_value().encode() for key in self.actor_signing_keys]

    def verifies_actors(self, environment: Environment) -> bool:
        return self.verify_actors if self.verify_actors is not None else environment == "prod"

    def uses_tls(self, environment: Environment) -> bool:
        if self.tls is not None:
            return self.tls
        return environment == "prod" or self._tls_files() or self.api_key is not None


class TokenBucketSettings(BaseModel):
    """A token bucket: ``burst`` requests at once, refilled at ``per_second``."""

    per_second: float = Field(gt=0)
    burst: int = Field(ge=1)


class RateLimitSettings(BaseModel):
    """Per-principal rate limits of the gateway, one token bucket per caller and route class.

    The caller is the verified token's subject, or the client address when the request has no
    valid token. Buckets live in each gateway replica's memory: N replicas behind a load balancer
    allow up to N times these rates.
    """

    enabled: bool = True
    # GET and HEAD: a dashboard opening fires a few dozen reads at once.
    read: TokenBucketSettings = TokenBucketSettings(per_second=20.0, burst=100)
    # POST, PUT, PATCH, DELETE.
    write: TokenBucketSettings = TokenBucketSettings(per_second=5.0, burst=30)
    # Routes taking a raw body (media uploads, imports).
    upload: TokenBucketSettings = TokenBucketSettings(per_second=0.5, burst=10)
    # Opening a live event stream (an EventSource reconnects after a few seconds).
    stream: TokenBucketSettings = TokenBucketSettings(per_second=0.5, burst=10)
    # Buckets kept at most (about 200 bytes each); past it the least recently used is forgotten,
    # so a flood of distinct callers cannot grow the gateway's memory.
    max_buckets: int = Field(50_000, ge=1)


class GatewaySettings(BaseModel):
    """How much the gateway takes from a caller before a service sees any of it."""

    # A JSON body: the largest the API needs (a long post with its variants, a plan of many
    # items) is a few hundred kilobytes.
    max_body_bytes: int = Field(1024 * 1024, ge=1)
    # A raw body streamed to a service (media uploads, imports): the largest upload a service
    # takes (``media.max_video_bytes``); each service applies its own, smaller, per-kind caps.
    max_upload_bytes: int = Field(512 * 1024 * 1024, ge=1)
    rate_limits: RateLimitSettings = RateLimitSettings()
    # Live event streams (``/v1/stream``, ``/v1/engagements/{id}/stream``) one caller (token
    # subject) may hold open at once in one gateway process; one more is a 429.
    max_streams_per_principal: int = Field(5, ge=1)
    # How far back a resume point (``Last-Event-ID``, ``since``) may reach, in stream sequences:
    # one further back starts this many sequences before the newest event.
    max_replay_events: int = Field(10_000, ge=0)
    # How long an engagement's live workflow state, once queried, answers its reads (seconds, at
    # most 1: a change is visible within it; 0 queries the workflow on every read).
    live_state_max_age_seconds: float = Field(0.5, ge=0, le=1)
    # How long a service's answer to a caller's read is given back to the same caller (same
    # token) without asking the service again (seconds, at most 1: a change made elsewhere is
    # visible within it; a write through the gateway at once; 0 forwards every read).
    read_cache_seconds: float = Field(1.0, ge=0, le=1)


class WorkerSettings(BaseModel):
    """How much a Temporal worker process takes on at once (``engage worker``).

    An activity worker holds at most ``max_concurrent_activities`` tasks per task queue; the
    rest wait on the Temporal server, where a task with a higher priority (a step a person is
    waiting for) is handed out first. A worker is one Python thread: a few tasks in flight
    overlap the database round trips of the services' short activities, and more only share
    the same CPU, each taking longer, out of the reach of priorities. Slow calls to platforms
    run on the publisher's platform queues, with their own limit. Unset pollers and workflow
    task slots keep the Temporal SDK's defaults.
    """

    max_concurrent_activities: int = Field(8, ge=1)
    max_concurrent_workflow_tasks: int | None = Field(None, ge=1)
    activity_task_pollers: int | None = Field(None, ge=1)
    workflow_task_pollers: int | None = Field(None, ge=1)
    # How long a workflow's next task waits on the queue of the worker that ran its last one (which
    # holds the workflow cached) before any workflow worker may take it. A live worker picks a task
    # up within milliseconds here, so a few seconds only ever expire for a worker that is gone; the
    # SDK's 10 s made a killed worker's posts go out 10 s late (the fault probe of issue 15).
    sticky_queue_schedule_to_start_seconds: float = Field(3.0, gt=0)
    # Where the worker serves its ``/metrics`` (it has no HTTP API of its own); unset: nowhere.
    metrics_port: int | None = Field(None, ge=1, le=65535)


class MediaSettings(BaseModel):
    """Where the content service stores media files, and how large an upload may be."""

    # ``local`` keeps files under ``media_dir`` (``<data_dir>/media`` when empty); ``s3`` uses an
    # S3-compatible bucket addressed path-style (AWS S3, MinIO, Ceph, ...).
    storage: Literal["local", "s3"] = "local"
    media_dir: str = ""
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: SecretStr = SecretStr("")
    max_image_bytes: int = 30 * 1024 * 1024
    max_video_bytes: int = 512 * 1024 * 1024
    max_audio_bytes: int = 200 * 1024 * 1024
    # Where platforms fetch media from (the content service's ``/public/media/...`` as the
    # internet sees it); empty means the content service's own URL, enough for the local sandbox.
    public_base_url: str = ""
    # HMAC-SHA256 keys of those links, newest first: links are signed with the first and accepted
    # with any, so a key can be rotated in while links signed with the old one are still out.
    # ``[]``: this process holds no key (a pod that neither signs nor checks links, given none of
    # the Secret, deploy/k8s); it then signs nothing and accepts no link.
    url_signing_keys: list[SecretStr] = [SecretStr(DEV_MEDIA_URL_KEY)]
    # How long a signed link stays valid: long enough for a platform to fetch (and for Instagram
    # or Facebook to process) the file, short enough that a leaked link soon stops working.
    public_url_ttl_seconds: int = Field(3600, gt=0)


DEV_TOKEN_KEY = "ZGV2LXRva2VuLWtleS1kby1ub3QtdXNlLWluLXByb2Q="  # noqa: S105 - refused in prod


class OAuthAppSettings(BaseModel):
    """The agency's app registered on one platform, for the OAuth authorization-code flow."""

    client_id: str
    client_secret: SecretStr
    # Mastodon only: the instance the app is registered on (each instance has its own apps).
    instance_url: str = ""


class PublisherSettings(BaseModel):
    """Channel connections, scheduled publishing and metrics collection."""

    # Fernet keys (urlsafe base64, 32 bytes) for channel tokens at rest, newest first: tokens are
    # encrypted with the first and decrypted with any, so a key can be rotated in.
    # ``[]``: this process holds no key and cannot seal or open a token (a pod of another
    # service, deploy/k8s).
    token_keys: list[SecretStr] = [SecretStr(DEV_TOKEN_KEY)]
    # Overrides of each platform's API base URL (channel -> URL); empty means the real host.
    api_base_urls: dict[str, str] = {}
    # Concurrent publishes per platform task queue (``engage-publisher-<channel>``) and worker.
    # A publish mostly waits on the platform (hundreds of milliseconds, minutes for a video) and
    # holds a database connection only in its two short transactions; per-account rate limits
    # are the platforms' own (429 and ``Retry-After``), not this.
    platform_concurrency: int = 16
    request_timeout_seconds: float = 15.0
    metrics_interval_seconds: int = 900
    refresh_tokens_before_seconds: int = 600
    # The agency's OAuth apps, by channel (``{"x": {"client_id": ..., "client_secret": ...}}``).
    oauth_apps: dict[str, OAuthAppSettings] = {}
    # How long an OAuth authorisation may take between start and callback.
    oauth_state_ttl_seconds: int = 600
    # Longest a single publish attempt may run before Temporal gives it to another worker.
    publish_timeout_seconds: float = 300.0


class ListeningSettings(BaseModel):
    """Where mentions are read from: sources polled on a schedule, their secrets at rest."""

    # Fernet keys for sources' tokens and webhook secrets at rest, newest first (as the
    # publisher's ``token_keys``).
    credential_keys: list[SecretStr] = [SecretStr(DEV_TOKEN_KEY)]
    # How often the schedule looks for sources due; each source has its own interval.
    poll_every_seconds: int = Field(15, ge=1)
    default_poll_interval_seconds: int = Field(300, ge=10)
    # A failing source is tried again after 30 s, then twice as long each time, up to this.
    max_backoff_seconds: int = Field(3600, ge=1)
    request_timeout_seconds: float = 15.0
    # Overrides of each source kind's API base URL (kind -> URL); empty means the real host.
    api_base_urls: dict[str, str] = {}
    # How often alerts are evaluated; unset: every 300 s, or every 30 s in ``dev`` (``make up``)
    # so that a keyword alert shows within a minute.
    alerts_every_seconds: int | None = Field(None, ge=10)


class NotificationsSettings(BaseModel):
    """How alerts and SLA events reach people: e-mail over SMTP, and signed webhooks."""

    # ``engage up`` keeps what is sent to 127.0.0.1:1025 as .eml files under ``<data_dir>/mail``.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(1025, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_from: str = "Atlantide Engage <notifications@engage.localhost>"
    smtp_timeout_seconds: float = Field(15.0, gt=0)
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    # A delivery that fails for a reason that may pass is tried again after the first backoff,
    # then twice as long each time, up to the longest, ``max_attempts`` times in all.
    max_attempts: int = Field(8, ge=1, le=20)
    first_backoff_seconds: float = Field(30.0, gt=0)
    max_backoff_seconds: float = Field(3600.0, gt=0)
    # How often the listening worker looks for deliveries due.
    poll_seconds: float = Field(1.0, gt=0)


class ReportingSettings(BaseModel):
    """KPIs and reports over the reporting service's read model."""

    # The longest period one KPI request or report may cover: a bound on the work and on the
    # rows of a day-by-day volume (a contract runs a year, a comparison spans a little more).
    max_period_days: int = Field(400, ge=1)
    # Where clients reach the gateway: the start of the download link a delivered report's
    # e-mail carries.
    public_base_url: str = "http://127.0.0.1:8000"


class SandboxSettings(BaseModel):
    """The built-in sandbox platform: a local simulation of a social network, never a real one."""

    # Engagement, comments, mentions and injected failures all derive from this seed.
    seed: int = 2026
    # Share of API calls answered 503 (a deterministic sequence from the seed).
    failure_rate: float = 0.0
    # Per-account token bucket: sustained requests per second and burst size.
    rate_limit_per_second: float = 5.0
    rate_limit_burst: int = 20
    max_text_length: int = 2000
    max_media: int = 4
    access_token_ttl_seconds: int = 3600
    # Simulated seconds per real second: 60 turns a day of engagement into 24 minutes.
    engagement_speed: float = 60.0


class LifecycleSettings(BaseModel):
    """Durations of ``EngagementWorkflow``, passed in each new engagement's input.

    ``time_scale`` compresses them (real time = engagement time x scale) for demos; the rest are
    days of the engagement's calendar.
    """

    time_scale: float = Field(1.0, gt=0, le=1)
    task_due_days: float = Field(5.0, gt=0)
    intervention_due_days: float = Field(3.0, gt=0)
    seeding_days: float = Field(14.0, ge=0)
    launch_days: float = Field(7.0, ge=0)
    cycle_days: int = Field(7, ge=1)
    # Post-launch cycles run per workflow run before continue-as-new keeps the history short.
    cycles_per_run: int = Field(8, ge=1)


# Every development password starts with this; ``prod`` refuses any that does.
DEV_PASSWORD_PREFIX = "engage-dev-"  # noqa: S105 - refused in prod


class Credential(BaseModel):
    """One component's own identity on PostgreSQL or NATS (docs/least-privilege.md)."""

    # Empty: the section's default name for the component.
    user: str = ""
    # Empty: a fixed development password in ``dev`` and ``test``; in ``prod`` the identity is
    # then not provisioned, and the component connects as its process is configured to.
    password: SecretStr = SecretStr("")

    def resolve(
        self, name: str, default_user: str, environment: Environment
    ) -> tuple[str, str] | None:
        """``(user, password)``, or None when this identity is not provisioned."""
        password = self.password.get_secret_value()
        if not password:
            if environment == "prod":
                return None
            password = f"{DEV_PASSWORD_PREFIX}{name}-not-for-production"
        return self.user or default_user, password


class DatabaseRolesSettings(BaseModel):
    """Each data service's own PostgreSQL role, with rights on its own schema's rows only.

    ``engage migrate`` and ``engage up`` create or update them as the owner
    (``ENGAGE_DATABASE_URL``) after the migrations; ``engage up`` connects each service's
    processes as its role. Default user names: ``engage_<service>``.
    """

    enabled: bool = True
    strategy: Credential = Credential()
    content: Credential = Credential()
    publisher: Credential = Credential()
    listening: Credential = Credential()
    reporting: Credential = Credential()


class NatsUsersSettings(BaseModel):
    """NATS users with subject permissions: each service publishes its own domains' subjects only.

    The NATS server started by ``engage up`` is configured with them, and each process it runs
    connects as its component's user; ``admin`` (the stream's set-up, operator commands) may do
    everything. Default user names: ``engage-<component>``.
    """

    enabled: bool = True
    admin: Credential = Credential()
    gateway: Credential = Credential()
    strategy: Credential = Credential()
    content: Credential = Credential()
    publisher: Credential = Credential()
    listening: Credential = Credential()
    reporting: Credential = Credential()
    workflows: Credential = Credential()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ENGAGE_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    environment: Environment = "dev"
    host: str = "127.0.0.1"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/engage"
    database_pool_size: int = 10
    nats_url: str = "nats://127.0.0.1:4222"
    # Who this process is to NATS: a user and password, or a credentials file (a user JWT and its
    # nkey seed, for servers with decentralised authentication). Unset: no credentials.
    nats_user: str = ""
    nats_password: SecretStr = SecretStr("")
    nats_credentials_file: str = ""
    otlp_endpoint: str | None = None
    data_dir: str = ".engage"
    dependency_timeout_seconds: float = 5.0
    # The interactive API pages (``/docs``, ``/redoc``); unset: served except in ``prod``.
    # ``/openapi.json`` is always served: frontends generate their clients from it.
    docs_enabled: bool | None = None
    # One log line per HTTP request from uvicorn. Off by default: the request metrics and traces
    # say the same for every route, and under load the lines cost more than the requests (``engage
    # up`` spent half a core printing them).
    access_log: bool = False

    ports: Ports = Ports()
    service_urls: ServiceUrls = ServiceUrls()
    gateway: GatewaySettings = GatewaySettings()
    auth: AuthSettings = AuthSettings()
    events: EventSettings = EventSettings()
    temporal: TemporalSettings = TemporalSettings()
    worker: WorkerSettings = WorkerSettings()
    media: MediaSettings = MediaSettings()
    sandbox: SandboxSettings = SandboxSettings()
    publisher: PublisherSettings = PublisherSettings()
    listening: ListeningSettings = ListeningSettings()
    notifications: NotificationsSettings = NotificationsSettings()
    reporting: ReportingSettings = ReportingSettings()
    lifecycle: LifecycleSettings = LifecycleSettings()
    database_roles: DatabaseRolesSettings = DatabaseRolesSettings()
    nats_users: NatsUsersSettings = NatsUsersSettings()

    @model_validator(mode="after")
    def _refuse_dev_secret_outside_dev(self) -> Settings:
        if self.environment == "prod":
            _require_identity_provider(self.auth)
            _refuse_plaintext_temporal(self.temporal)
            _refuse_dev_passwords(self)
        if self.environment == "prod" and any(
            key.get_secret_value() == DEV_TOKEN_KEY for key in self.publisher.token_keys
        ):
            raise ValueError(
                "ENGAGE_PUBLISHER__TOKEN_KEYS holds the development key; set real keys "
                "when ENGAGE_ENVIRONMENT=prod"
            )
        if self.environment == "prod" and any(
            key.get_secret_value() == DEV_TOKEN_KEY for key in self.listening.credential_keys
        ):
            raise ValueError(
                "ENGAGE_LISTENING__CREDENTIAL_KEYS holds the development key; set real keys "
                "when ENGAGE_ENVIRONMENT=prod"
            )
        if self.environment == "prod" and any(
            key.get_secret_value() == DEV_MEDIA_URL_KEY for key in self.media.url_signing_keys
        ):
            raise ValueError(
                "ENGAGE_MEDIA__URL_SIGNING_KEYS holds the development key; set real keys "
                "when ENGAGE_ENVIRONMENT=prod"
            )
        return self

    @property
    def serves_docs(self) -> bool:
        if self.docs_enabled is None:
            return self.environment != "prod"
        return self.docs_enabled

    def service_url(self, service: ServiceName) -> str:
        configured = getattr(self.service_urls, service, "") if service != "gateway" else ""
        return configured or f"http://127.0.0.1:{getattr(self.ports, service)}"

    def task_queue(self, name: str) -> str:
        return f"{self.temporal.task_queue_prefix}{name}"


def _refuse_dev_passwords(settings: Settings) -> None:
    """A development password (``engage-dev-...``) is never a production one."""
    passwords = {"ENGAGE_NATS_PASSWORD": settings.nats_password}
    for section, credentials in (
        ("DATABASE_ROLES", settings.database_roles),
        ("NATS_USERS", settings.nats_users),
    ):
        for name, credential in credentials:
            if isinstance(credential, Credential):
                passwords[f"ENGAGE_{section}__{name.upper()}__PASSWORD"] = credential.password
    for variable, password in passwords.items():
        if password.get_secret_value().startswith(DEV_PASSWORD_PREFIX):
            raise ValueError(
                f"{variable} is a development password; set a real one (or none) when "
                "ENGAGE_ENVIRONMENT=prod"
            )


def _require_identity_provider(auth: AuthSettings) -> None:
    """Production verifies tokens against an identity provider's key set, never a shared secret."""
    if not auth.jwks_url:
        raise ValueError(
            "ENGAGE_AUTH__JWKS_URL is required when ENGAGE_ENVIRONMENT=prod: tokens are "
            "verified (RS256/ES256) against the identity provider's key set, and HS256 tokens "
            "signed with ENGAGE_AUTH__JWT_SECRET are refused"
        )
    url = urlsplit(auth.jwks_url)
    if url.scheme not in {"http", "https"} or not url.hostname:
        raise ValueError(f"ENGAGE_AUTH__JWKS_URL is not an http(s) URL: {auth.jwks_url!r}")
    # RFC 6761: no name under .invalid resolves, the placeholder of deploy/k8s's ConfigMap.
    if url.hostname == "invalid" or url.hostname.endswith(".invalid"):
        raise ValueError(
            f"ENGAGE_AUTH__JWKS_URL is a placeholder ({auth.jwks_url}); set the identity "
            "provider's JWKS URL when ENGAGE_ENVIRONMENT=prod"
        )


def _refuse_plaintext_temporal(temporal: TemporalSettings) -> None:
    """Production reaches Temporal over TLS, unless the operator says its network is private,
    and signs workflow updates' actors with a key of its own."""
    if DEV_ACTOR_SIGNING_KEY.encode() in temporal.actor_keys("prod"):
        raise ValueError(
            "ENGAGE_TEMPORAL__ACTOR_SIGNING_KEYS holds the development key; set real keys "
            "when ENGAGE_ENVIRONMENT=prod"
        )
    if temporal.uses_tls("prod") or temporal.allow_plaintext:
        return
    raise ValueError(
        "ENGAGE_TEMPORAL__TLS=false is refused when ENGAGE_ENVIRONMENT=prod: workflow "
        "histories and updates would cross the network in clear; configure TLS "
        "(ENGAGE_TEMPORAL__TLS_* files or an API key), or set "
        "ENGAGE_TEMPORAL__ALLOW_PLAINTEXT=true for a Temporal reachable only on a private network"
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
