"""Fake Foursquare Places API v3: place details, authorised by the API key itself."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.fakes.common import Answer, FakePlatform

API_KEY = "fsq-api-key"
PLACE_ID = "4b5a1f2ef964a520f1b028e3"
PLACE = {
    "fsq_id": PLACE_ID,
    "name": "Agriturismo La Quercia",
    "categories": [{"id": 19009, "name": "Bed and Breakfast", "icon": {}}],
    "location": {
        "formatted_address": "Strada della Quercia 12, 53024 Montalcino SI",
        "locality": "Montalcino",
        "region": "Toscana",
        "country": "IT",
    },
    "geocodes": {"main": {"latitude": 43.0581, "longitude": 11.4893}},
    "website": "https://laquercia.example",
    "tel": "+39 0577 000000",
    "rating": 8.7,
    "popularity": 0.93,
    "stats": {"total_ratings": 120, "total_tips": 31, "total_photos": 88},
}


class FakeFoursquare(FakePlatform):
    def live_posts(self) -> list[str]:
        return []

    def authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == API_KEY

    def expired_token(self) -> Response:
        return JSONResponse({"message": "Invalid request token."}, 401)

    def rate_limited(self) -> Response:
        return JSONResponse({"message": "Quota exceeded."}, 429, headers={"Retry-After": "15"})

    def server_error(self) -> Response:
        return JSONResponse({"message": "Internal Server Error"}, 500)

    def routes(self, app: FastAPI) -> None:
        app.add_api_route("/v3/places/{fsq_id}", self.place, methods=["GET"])

    async def place(self, fsq_id: str, request: Request) -> Response:
        async def work() -> Answer | Response:
            if fsq_id != PLACE_ID:
                return JSONResponse({"message": "Place not found"}, 404)
            fields = request.query_params.get("fields", "").split(",")
            return Answer({key: value for key, value in PLACE.items() if key in fields})

        return await self.handle(request, "read", work)
