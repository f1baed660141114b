"""Tracked links: their random codes, the destination tagged with UTM parameters, QR codes.

Plain functions, no database: the redirect and the touchpoint's answer build the same URLs.
"""

from __future__ import annotations

import io
import re
import secrets
import unicodedata
from datetime import date

import segno

from services.strategy.touchpoints.schemas import Medium
from shared.utm import with_utm

# 64 random bits (11 URL-safe characters): a link cannot be found by trying codes, and a
# collision among the touchpoints of every client is not to be expected.
CODE_BYTES = 8
CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{11}")
PATH = "/t"
MEDIUM_PARAMETER = "via"
# The parameters the rule sets; a destination's own values of them are replaced, its other
# parameters kept as written.
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content")
SLUG_LENGTH = 80
# The quiet zone ISO/IEC 18004 asks for around a QR code, in modules.
QR_BORDER = 4
MIN_QR_PIXELS = 64
MAX_QR_PIXELS = 2048
DEFAULT_QR_PIXELS = 512


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def is_code(text: str) -> bool:
    return CODE_PATTERN.fullmatch(text) is not None


def tracked_link(base_url: str, code: str) -> str:
    """The short link to share or print: following it counts a click."""
    return f"{base_url.rstrip('/')}{PATH}/{code}"


def qr_link(base_url: str, code: str) -> str:
    """What the QR code holds: the short link, marked so that following it counts a scan."""
    return f"{tracked_link(base_url, code)}?{MEDIUM_PARAMETER}={Medium.QR.value}"


def slug(text: str, fallback: str = "touchpoint") -> str:
    """``Caffè Sport: vetrina`` as ``caffe-sport-vetrina``."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    return words[:SLUG_LENGTH].rstrip("-") or fallback


def default_campaign(organization_name: str, starts_on: date) -> str:
    """An engagement has no name of its own: its client's and the month it starts say which."""
    return f"{slug(organization_name, 'engagement')}-{starts_on:%Y-%m}"


def tagged(destination: str, *, kind: str, name: str, campaign: str, medium: Medium) -> str:
    """``destination`` with the touchpoint's UTM parameters: source its kind, medium how it was
    followed, campaign the engagement's, content the touchpoint's name."""
    values = (kind, medium.value, campaign, slug(name))
    return with_utm(destination, dict(zip(UTM_KEYS, values, strict=True)))


def _qr(content: str) -> segno.QRCode:
    # A full QR code, never a Micro QR: not every phone's camera app reads those.
    return segno.make_qr(content, error="m")


def _scale(code: segno.QRCode, pixels: int) -> int:
    """Pixels per module so that the code, quiet zone included, is at most ``pixels`` wide."""
    modules, _ = code.symbol_size(scale=1, border=QR_BORDER)
    return max(1, pixels // int(modules))


def qr_svg(content: str, pixels: int) -> bytes:
    code = _qr(content)
    buffer = io.BytesIO()
    code.save(buffer, kind="svg", scale=_scale(code, pixels), border=QR_BORDER, xmldecl=True)
    return buffer.getvalue()


def qr_png(content: str, pixels: int) -> bytes:
    code = _qr(content)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=_scale(code, pixels), border=QR_BORDER)
    return buffer.getvalue()
