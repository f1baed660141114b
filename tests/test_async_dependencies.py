"""Every dependency on a request's path is a coroutine.

FastAPI runs a plain function dependency in its thread pool: a hand-off to a thread and back
for each dependency of each request, which under load costs more than the dependency itself
(issue 18: the gateway's reads spent their CPU around the work, not in it)."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from shared.settings import Settings

APPS = ("gateway", "strategy", "content", "publisher", "listening", "reporting", "sandbox")


def _calls(dependant: Dependant) -> Iterator[object]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _is_coroutine(call: object) -> bool:
    target = call if inspect.isroutine(call) else getattr(call, "__call__", call)  # noqa: B004
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


@pytest.mark.parametrize("name", APPS)
def test_no_route_depends_on_a_plain_function(name: str, settings: Settings) -> None:
    app: FastAPI = importlib.import_module(f"services.{name}.app").build_app(settings)
    # Each route as included, with the dependencies its routers add.
    routes = [
        context
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]
    assert routes
    plain = {
        f"{getattr(context.original_route, 'path', '?')}: {getattr(call, '__qualname__', call)}"
        for context in routes
        for call in _calls(context.dependant)
        if not _is_coroutine(call)
    }
    assert plain == set()
