"""The gateway's ``/v1`` routes found by a dictionary lookup instead of FastAPI's walk.

FastAPI keeps an included router as a node of a tree and, on every request, walks the tree
twice (once to match, once to handle), recounting each router's routes to see whether they
changed. The gateway's ``/v1`` has some 200 routes in nested routers: finding one cost 60 to
120 µs of the 165 to 290 µs a cached read spent in the gateway (in process, the service stubbed;
issue 18). ``RouteTable`` holds each of those routes as FastAPI included it (full path, the
routers' dependencies, the handler FastAPI built) on a shelf: its section (the first segment
after ``/v1``) and its number of segments. A request is matched against its shelf's few routes,
in the app's order, and handled by what FastAPI would have run. The routers stay included as
they are: they are the OpenAPI document, and what answers a request the table does not match
(a 404, a 405).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from opentelemetry import trace
from starlette._utils import get_route_path
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from services.gateway.forwarding import API_PREFIX

# The route context the table matched, from ``matches`` to ``handle`` through the scope, and
# for a path whose routes answer other methods, every method they answer.
_MATCHED = "engage.route_context"
_ALLOWED = "engage.allowed_methods"


class RouteTable(BaseRoute):
    """The ``/v1`` API routes of an app, by section; first among the app's routes."""

    def __init__(self, contexts: Iterable[RouteContext]) -> None:
        # By section and number of segments: a parameter takes one segment, so a path is only
        # ever tried against the templates as long as it is.
        self._shelves: dict[tuple[str, int], list[RouteContext]] = {}
        for context in contexts:
            path = context.path or ""
            if not isinstance(context.original_route, APIRoute) or not path.startswith(
                API_PREFIX + "/"
            ):
                continue
            section = section_of(path)
            if "{" in section:
                # A parameter as the section would need every request tried against it.
                raise ValueError(f"{path}: a /v1 route's first segment must be a constant")
            if ":path}" in path:
                raise ValueError(f"{path}: a /v1 route's parameter must be one segment")
            if context.app is None:
                raise ValueError(f"{path}: FastAPI built no handler for the route")
            self._shelves.setdefault((section, path.count("/")), []).append(context)

    @classmethod
    def first_in(cls, app: FastAPI) -> RouteTable:
        """The table of ``app``'s routes as included now, placed before them."""
        table = cls(iter_route_contexts(app.routes))
        app.router.routes.insert(0, table)
        return table

    @property
    def routes(self) -> list[RouteContext]:
        return [context for contexts in self._shelves.values() for context in contexts]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path = get_route_path(scope)
        candidates = self._shelves.get((section_of(path), path.count("/")), ())
        partial: Scope | None = None
        allowed: set[str] = set()
        for context in candidates:
            match, child_scope = context.matches(scope)
            if match is Match.FULL:
                return match, {**child_scope, "route": context.original_route, _MATCHED: context}
            if match is Match.PARTIAL:
                allowed.update(context.methods or ())
                if partial is None:
                    partial = {**child_scope, "route": context.original_route, _MATCHED: context}
        if partial is None:
            return Match.NONE, {}
        return Match.PARTIAL, {**partial, _ALLOWED: allowed}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        context: RouteContext = scope[_MATCHED]
        methods = context.methods
        if methods and scope["method"] not in methods:
            # Every method the path answers, not only its first route's (FastAPI's Allow).
            allowed = scope.get(_ALLOWED) or methods
            raise HTTPException(405, headers={"Allow": ", ".join(sorted(allowed))})
        # What FastAPI's router says of the route it chose: the server span's name and route.
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute("http.route", context.path)
            span.update_name(f"{scope['method']} {context.path}")
        await context.app(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        # Names are the included routers' to resolve: they hold every route the table does.
        raise NoMatchFound(name, path_params)


def section_of(path: str) -> str:
    """A path's (or a path template's) section: ``/v1/listening/engagements/{id}`` →
    ``/v1/listening``."""
    return API_PREFIX + "/" + path.removeprefix(API_PREFIX + "/").partition("/")[0]
