"""Fake Spotify Web API: the client-credentials token, shows and episodes (``market`` required
for episodes with an app token, as Spotify documents)."""

from __future__ import annotations

import base64

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.fakes.common import Answer, FakePlatform, form_fields

CLIENT_ID = "spotify-client"
CLIENT_SECRET = "spotify-secret"
APP_TOKEN = "spotify-app-token"
SHOW_ID = "38bS44xjbVVZ3No3ByF1dJ"
EPISODE_ID = "512ojhOuo1ktJprKbVcKyQ"
SHOW = {
    "id": SHOW_ID,
    "name": "Voci dalla Val d'Orcia",
    "publisher": "Agriturismo La Quercia",
    "description": "Storie di campagna, una settimana alla volta.",
    "external_urls": {"spotify": f"https://open.spotify.com/show/{SHOW_ID}"},
    "images": [{"url": "https://i.scdn.co/image/show", "height": 640, "width": 640}],
    "total_episodes": 12,
    "languages": ["it"],
    "type": "show",
}
EPISODE = {
    "id": EPISODE_ID,
    "name": "La vendemmia",
    "description": "Come si raccoglie l'uva a mano.",
    "release_date": "2026-09-15",
    "duration_ms": 1_860_000,
    "external_urls": {"spotify": f"https://open.spotify.com/episode/{EPISODE_ID}"},
    "images": [{"url": "https://i.scdn.co/image/episode", "height": 640, "width": 640}],
    "show": {"id": SHOW_ID, "name": SHOW["name"]},
    "type": "episode",
}


def spotify_error(status: int, message: str, **headers: str) -> Response:
    return JSONResponse({"error": {"status": status, "message": message}}, status, headers=headers)


class FakeSpotify(FakePlatform):
    # How long the app tokens it gives last, in seconds.
    expires_in = 3600

    def live_posts(self) -> list[str]:
        return []

    def authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {APP_TOKEN}"

    def expired_token(self) -> Response:
        return spotify_error(401, "The access token expired")

    def rate_limited(self) -> Response:
        return spotify_error(429, "API rate limit exceeded", **{"Retry-After": "4"})

    def server_error(self) -> Response:
        return spotify_error(503, "Service unavailable")

    def routes(self, app: FastAPI) -> None:
        app.add_api_route("/api/token", self.token, methods=["POST"])
        app.add_api_route("/v1/shows/{show_id}", self.show, methods=["GET"])
        app.add_api_route("/v1/episodes/{episode_id}", self.episode, methods=["GET"])

    async def token(self, request: Request) -> Response:
        form = await form_fields(request)
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()

        async def work() -> Answer | Response:
            valid = request.headers.get("authorization") == f"Basic {expected}"
            if not valid or form.get("grant_type") != "client_credentials":
                return JSONResponse(
                    {"error": "invalid_client", "error_description": "Invalid client"}, 400
                )
            return Answer(
                {"access_token": APP_TOKEN, "token_type": "Bearer", "expires_in": self.expires_in}
            )

        return await self.handle(request, "token", work, payload=form, authenticated=False)

    async def show(self, show_id: str, request: Request) -> Response:
        async def work() -> Answer | Response:
            if show_id != SHOW_ID:
                return spotify_error(404, "Non existing id")
            return Answer(SHOW)

        return await self.handle(request, "read", work)

    async def episode(self, episode_id: str, request: Request) -> Response:
        async def work() -> Answer | Response:
            if episode_id != EPISODE_ID or "market" not in request.query_params:
                return spotify_error(404, "Non existing id")
            return Answer(EPISODE)

        return await self.handle(request, "read", work)
