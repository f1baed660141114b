"""Connecting a channel account with the OAuth 2.0 authorization-code flow (RFC 6749 §4.1).

``start`` keeps the state (and the PKCE verifier where the platform uses PKCE) in
``oauth_states`` and answers the platform's authorize URL; the platform sends the user back to the
frontend's redirect URI with a code, which ``complete`` exchanges for tokens, stores encrypted and
announces with ``channel_connected``. A state is single use and expires; another organisation's
state is not found. The built-in sandbox approves at once; real platforms need the agency's app
from ``ENGAGE_PUBLISHER__OAUTH_APPS``.

Facebook and Instagram give a short-lived user token for the code. It is exchanged for a
long-lived one, which asks for the Page's own token: that one does not expire and is what the
connection keeps (``connectors/facebook.py``). For Instagram the ``account_id`` given at the start
is the Facebook Page linked to the account, and the connection is made for the Instagram account
the Page names.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher import connections, repository
from services.publisher.connectors.base import (
    AuthError,
    ConnectedAccount,
    ConnectorError,
    ContentRejectedError,
    Credentials,
)
from services.publisher.connectors.facebook import GraphClient, MetaConnectError, connect_page
from services.publisher.connectors.instagram import connect_account
from services.publisher.connectors.oauth import (
    ENDPOINTS,
    OAuthApp,
    OAuthEndpoints,
    exchange_code,
    start_authorization,
)
from services.publisher.connectors.registry import NO_PUBLISHING_API
from services.publisher.connectors.sandbox import SandboxConnector
from services.publisher.crypto import TokenVault
from services.publisher.models import Connection, OAuthState
from services.publisher.schemas import OAuthComplete, OAuthStart, OAuthStarted
from shared.auth import Principal
from shared.domain import Channel
from shared.errors import DependencyUnavailableError, ProblemError
from shared.settings import Settings

# How a Meta login becomes a connection: the Page itself, or the Instagram account it links.
META_CONNECTIONS: dict[
    Channel, Callable[[GraphClient, Credentials, str], Awaitable[ConnectedAccount]]
] = {
    Channel.FACEBOOK: connect_page,
    Channel.INSTAGRAM: connect_account,
}


def not_connectable(detail: str) -> ProblemError:
    return ProblemError(422, "channel-not-connectable", detail)


class OAuthFlow:
    def __init__(self, settings: Settings, vault: TokenVault) -> None:
        self._settings = settings
        self._vault = vault

    async def start(
        self, session: AsyncSession, principal: Principal, data: OAuthStart
    ) -> OAuthStarted:
        principal.require_organization(data.organization_id)
        redirect_uri = str(data.redirect_uri)
        state = secrets.token_urlsafe(32)
        verifier = ""
        if data.channel is Channel.SANDBOX:
            url = SandboxConnector.from_settings(self._settings).authorize_url(
                redirect_uri, state, data.account_id
            )
        else:
            if data.account_id is None:
                raise ProblemError(
                    422,
                    "validation-error",
                    f"account_id is required to connect a {data.channel.value} account",
                    errors=[{"field": "body.account_id", "message": "required", "type": "missing"}],
                )
            app = self._app(data.channel, redirect_uri)
            begun = start_authorization(self._endpoints(data.channel), app, state=state)
            url, verifier = begun.url, begun.code_verifier or ""
        expires_at = datetime.now(UTC) + timedelta(
            seconds=self._settings.publisher.oauth_state_ttl_seconds
        )
        session.add(
            OAuthState(
                state=state,
                organization_id=data.organization_id,
                channel=data.channel.value,
                account_id=data.account_id or "",
                redirect_uri=redirect_uri,
                code_verifier=verifier,
                created_by=principal.subject,
                expires_at=expires_at,
            )
        )
        await session.flush()
        return OAuthStarted(authorize_url=url, state=state, expires_at=expires_at)

    async def complete(self, session: AsyncSession, data: OAuthComplete) -> Connection:
        pending = await repository.oauth_state_for_update(session, data.state)
        if pending is None:
            raise ProblemError(404, "not-found", "unknown, used or expired OAuth state")
        if pending.expires_at <= datetime.now(UTC):
            await self._forget(session, pending)
            raise ProblemError(400, "oauth-state-expired", "the authorisation took too long")
        try:
            connected = await self._exchange(pending, data.code)
        except MetaConnectError as error:
            # The login cannot give this account: only a new authorisation can.
            await self._forget(session, pending)
            raise ProblemError(400, error.kind, str(error)) from error
        except (AuthError, ContentRejectedError) as error:
            await self._forget(session, pending)
            raise ProblemError(400, "oauth-code-refused", str(error)) from error
        except ConnectorError as error:
            # The state stays: the user may come back with the same code once the platform answers.
            raise DependencyUnavailableError(pending.channel, str(error)) from error
        await session.delete(pending)
        return await connections.store_connection(
            session,
            organization_id=pending.organization_id,
            channel=pending.channel,
            account_id=connected.account_id,
            display_name=connected.display_name,
            credentials=connected.credentials,
            vault=self._vault,
            connected_by=pending.created_by,
        )

    async def _forget(self, session: AsyncSession, pending: OAuthState) -> None:
        """Delete a state that can no longer be used, even though the request fails."""
        await session.delete(pending)
        await session.commit()

    async def _exchange(self, pending: OAuthState, code: str) -> ConnectedAccount:
        channel = Channel(pending.channel)
        if channel is Channel.SANDBOX:
            sandbox = SandboxConnector.from_settings(self._settings)
            account_id, credentials = await sandbox.exchange_code(code, pending.redirect_uri)
            return ConnectedAccount(account_id=account_id, credentials=credentials)
        app = self._app(channel, pending.redirect_uri)
        async with httpx.AsyncClient(
            timeout=self._settings.publisher.request_timeout_seconds
        ) as http:
            credentials = await exchange_code(
                http,
                self._endpoints(channel),
                app,
                code,
                code_verifier=pending.code_verifier or None,
            )
            if channel in META_CONNECTIONS:
                graph = GraphClient(
                    http,
                    self._settings.publisher.api_base_urls.get(channel.value),
                    app,
                    name=channel.value,
                )
                return await META_CONNECTIONS[channel](graph, credentials, pending.account_id)
        if channel is Channel.MASTODON:
            instance = self._settings.publisher.oauth_apps[channel.value].instance_url
            credentials.extra["instance_url"] = instance
        return ConnectedAccount(account_id=pending.account_id, credentials=credentials)

    def _app(self, channel: Channel, redirect_uri: str) -> OAuthApp:
        if channel in NO_PUBLISHING_API:
            raise not_connectable(NO_PUBLISHING_API[channel])
        configured = self._settings.publisher.oauth_apps.get(channel.value)
        if configured is None:
            raise not_connectable(
                f"no OAuth app is configured for {channel.value} "
                "(ENGAGE_PUBLISHER__OAUTH_APPS); connect it with a long-lived token instead"
            )
        if channel is Channel.MASTODON and not configured.instance_url:
            raise not_connectable("the Mastodon OAuth app does not name its instance_url")
        return OAuthApp(configured.client_id, configured.client_secret, redirect_uri)

    def _endpoints(self, channel: Channel) -> OAuthEndpoints:
        """The platform's endpoints, on the configured host when one overrides the real one."""
        endpoints = ENDPOINTS[channel]
        override = self._settings.publisher.api_base_urls.get(channel.value)
        if channel is Channel.MASTODON:
            override = override or self._settings.publisher.oauth_apps[channel.value].instance_url
        return endpoints.rebased(override) if override else endpoints
