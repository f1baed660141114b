"""How the console answers a page or a fragment: its Jinja2 template in the caller's language,
behind the console's security headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from services.gateway.console.charts import instant_in, local_time
from services.gateway.console.gateway_calls import Answer
from services.gateway.console.i18n import LANGUAGE_COOKIE, LANGUAGES, language_of, translator

CONSOLE_PREFIX = "/console"
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.filters["hhmm"] = local_time
TEMPLATES.env.filters["instant_in"] = instant_in
# Only the console's own scripts run, and nothing loads from another origin. Inline styles are
# allowed for a variant's preview: the content service's own page, shown in a sandboxed frame
# (no script runs in it) that inherits this policy.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    language = language_of(request)
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {"t": translator(language), "lang": language, "languages": LANGUAGES, **context},
        status_code=status_code,
        headers=SECURITY_HEADERS,
    )
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            chosen,
            max_age=LANGUAGE_COOKIE_SECONDS,
            path=CONSOLE_PREFIX,
            samesite="strict",
            httponly=True,
        )
    return response


def problem(request: Request, answer: Answer) -> Response:
    """A read the caller may not make, shown where its section would be."""
    return render(request, "fragments/problem.html", answer=answer)
