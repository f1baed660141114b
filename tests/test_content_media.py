"""Media upload through the gateway: type from the bytes, dimensions, checksum, limits, deletion;
and the signed, expiring public links platforms fetch media from (``GET /public/media/{id}`` on
the content service, without a bearer token)."""

from __future__ import annotations

import hashlib
import struct
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from shared.auth import Role
from shared.media_links import LinkCheck, MediaLinks
from tests.conftest import Platform
from tests.test_errors import assert_problem
from tests.test_thin_thread import create_org


def png(width: int, height: int) -> bytes:
    """A real (tiny, black) PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + checksum

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = b"".join(b"\x00" + b"\x00" * (width * 3) for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


def jpeg(width: int, height: int) -> bytes:
    """A JPEG header: JFIF marker and a baseline start-of-frame carrying the dimensions."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3)
    components = b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + sof0 + components + b"\xff\xd9"


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00;"


def webp_lossless(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    payload = b"\x2f" + bits.to_bytes(4, "little")
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4(width: int, height: int, seconds: float, brand: bytes = b"isom") -> bytes:
    """An MP4 skeleton: ``ftyp``, and a ``moov`` with ``mvhd`` (duration) and a video ``tkhd``."""
    duration = round(seconds * 1000)
    mvhd = _box(b"mvhd", b"\x00" * 4 + struct.pack(">IIII", 0, 0, 1000, duration) + b"\x00" * 80)
    tkhd = _box(
        b"tkhd",
        b"\x00\x00\x00\x07"
        + struct.pack(">IIIII", 0, 0, 1, 0, duration)
        + b"\x00" * 16
        + b"\x00" * 36
        + struct.pack(">II", width << 16, height << 16),
    )
    ftyp = _box(b"ftyp", brand + b"\x00\x00\x02\x00" + brand)
    return ftyp + _box(b"moov", mvhd + _box(b"trak", tkhd)) + _box(b"mdat", b"\x00" * 32)


async def upload(
    platform: Platform,
    organization_id: str,
    data: bytes,
    content_type: str,
    filename: str = "file.bin",
    role: Role = Role.EDITOR,
) -> dict[str, object]:
    response = await platform.gateway.post(
        "/v1/media",
        params={"organization_id": organization_id, "filename": filename},
        content=data,
        headers={**platform.auth(role), "Content-Type": content_type},
    )
    assert response.status_code == 201, response.text
    media: dict[str, object] = response.json()
    return media


async def test_an_upload_is_typed_measured_and_checksummed_from_its_bytes(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    data = png(40, 50)
    media = await upload(platform, organization_id, data, "image/png", "poster.png")
    assert media["mime_type"] == "image/png"
    assert media["kind"] == "image"
    assert (media["width"], media["height"]) == (40, 50)
    assert media["size_bytes"] == len(data)
    assert media["sha256"] == hashlib.sha256(data).hexdigest()
    assert media["filename"] == "poster.png"

    content = await platform.gateway.get(
        f"/v1/media/{media['id']}/content",
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id]),
    )
    assert content.status_code == 200
    assert content.content == data
    assert content.headers["content-type"] == "image/png"
    assert content.headers["etag"] == f'"{media["sha256"]}"'

    listed = await platform.gateway.get(
        "/v1/media",
        params={"organization_id": organization_id},
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id]),
    )
    assert [m["id"] for m in listed.json()] == [media["id"]]
    one = await platform.gateway.get(f"/v1/media/{media['id']}", headers=platform.auth(Role.EDITOR))
    assert one.json() == media


async def test_video_dimensions_and_duration_come_from_the_mp4_boxes(platform: Platform) -> None:
    organization_id = await create_org(platform)
    media = await upload(platform, organization_id, mp4(1080, 1920, 12.5), "video/mp4")
    assert (media["width"], media["height"], media["duration_seconds"]) == (1080, 1920, 12.5)
    quicktime = await upload(
        platform, organization_id, mp4(640, 360, 3, b"qt  "), "video/quicktime"
    )
    assert quicktime["mime_type"] == "video/quicktime"


async def test_bytes_that_do_not_match_the_declared_type_are_refused(platform: Platform) -> None:
    organization_id = await create_org(platform)
    response = await platform.gateway.post(
        "/v1/media",
        params={"organization_id": organization_id, "filename": "fake.png"},
        content=jpeg(100, 100),
        headers={**platform.auth(Role.EDITOR), "Content-Type": "image/png"},
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "urn:engage:problem:media-type-mismatch"
    assert (problem["declared"], problem["detected"]) == ("image/png", "image/jpeg")

    garbage = await platform.gateway.post(
        "/v1/media",
        params={"organization_id": organization_id, "filename": "x.mp4"},
        content=b"this is not a video",
        headers={**platform.auth(Role.EDITOR), "Content-Type": "video/mp4"},
    )
    assert garbage.status_code == 422
    assert garbage.json()["type"] == "urn:engage:problem:media-type-mismatch"
    assert garbage.json().get("detected") is None


async def test_unsupported_types_and_oversized_files_are_refused(platform: Platform) -> None:
    organization_id = await create_org(platform)
    params = {"organization_id": organization_id, "filename": "f"}
    unsupported = await platform.gateway.post(
        "/v1/media",
        params=params,
        content=b"%PDF-1.7",
        headers={**platform.auth(Role.EDITOR), "Content-Type": "application/pdf"},
    )
    assert unsupported.status_code == 415
    assert "image/png" in unsupported.json()["supported"]

    limit = platform.settings.media.max_image_bytes
    too_big = png(8, 8) + b"\x00" * (limit - len(png(8, 8)) + 1)
    response = await platform.gateway.post(
        "/v1/media",
        params=params,
        content=too_big,
        headers={**platform.auth(Role.EDITOR), "Content-Type": "image/png"},
    )
    assert response.status_code == 413
    assert response.json()["limit_bytes"] == limit
    listed = await platform.gateway.get(
        "/v1/media", params={"organization_id": organization_id}, headers=platform.auth(Role.EDITOR)
    )
    assert listed.json() == []


async def test_only_agency_writers_upload_and_other_clients_see_nothing(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    forbidden = await platform.gateway.post(
        "/v1/media",
        params={"organization_id": organization_id, "filename": "a.gif"},
        content=gif(10, 10),
        headers={
            **platform.auth(Role.CLIENT_APPROVER, orgs=[organization_id]),
            "Content-Type": "image/gif",
        },
    )
    assert forbidden.status_code == 403
    media = await upload(platform, organization_id, gif(10, 10), "image/gif")
    other = await create_org(platform, "Another client")
    outsider = platform.auth(Role.CLIENT_VIEWER, orgs=[other])
    hidden = await platform.gateway.get(f"/v1/media/{media['id']}", headers=outsider)
    assert hidden.status_code == 404
    hidden_bytes = await platform.gateway.get(f"/v1/media/{media['id']}/content", headers=outsider)
    assert hidden_bytes.status_code == 404


async def test_media_in_use_cannot_be_deleted_and_unused_media_can(platform: Platform) -> None:
    organization_id = await create_org(platform)
    used = await upload(platform, organization_id, webp_lossless(30, 30), "image/webp")
    unused = await upload(platform, organization_id, jpeg(30, 30), "image/jpeg")
    created = await platform.gateway.post(
        "/v1/content-items",
        json={
            "organization_id": organization_id,
            "kind": "image",
            "title": "Vendemmia",
            "media_ids": [used["id"]],
        },
        headers=platform.auth(Role.EDITOR),
    )
    assert created.status_code == 201, created.text
    writer = platform.auth(Role.EDITOR)
    refused = await platform.gateway.delete(f"/v1/media/{used['id']}", headers=writer)
    assert refused.status_code == 409
    viewer = platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id])
    not_allowed = await platform.gateway.delete(f"/v1/media/{unused['id']}", headers=viewer)
    assert not_allowed.status_code == 403
    deleted = await platform.gateway.delete(f"/v1/media/{unused['id']}", headers=writer)
    assert deleted.status_code == 204
    gone = await platform.gateway.get(f"/v1/media/{unused['id']}/content", headers=writer)
    assert gone.status_code == 404


def with_query(url: str, **changes: str) -> str:
    """The link with some of its query parameters replaced (or removed when empty)."""
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()} | changes
    kept = {key: value for key, value in query.items() if value}
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(kept)}"


async def test_a_signed_link_opens_its_medium_without_a_token_until_it_expires(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    data = jpeg(1080, 1350)
    media = await upload(platform, organization_id, data, "image/jpeg", "vendemmia.jpg")
    links = MediaLinks.from_settings(platform.settings)
    link = links.url(uuid.UUID(organization_id), uuid.UUID(str(media["id"])))
    assert link.startswith(f"http://127.0.0.1:{platform.settings.ports.content}/public/media/")

    async with httpx.AsyncClient(timeout=10) as anonymous:
        fetched = await anonymous.get(link)
        assert fetched.status_code == 200, fetched.text
        assert fetched.content == data
        assert fetched.headers["content-type"] == "image/jpeg"
        assert fetched.headers["etag"] == f'"{media["sha256"]}"'
        assert fetched.headers["x-content-type-options"] == "nosniff"
        probed = await anonymous.head(link)
        assert probed.status_code == 200
        assert probed.headers["content-length"] == str(len(data))
        assert probed.content == b""

        two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
        stale = links.url(
            uuid.UUID(organization_id), uuid.UUID(str(media["id"])), now=two_hours_ago
        )
        expired = await anonymous.get(stale)
        assert_problem(expired, 410, "media-link-expired")
        # A forged expiry is a bad signature, not a link that expires later.
        later = str(int(datetime.now(UTC).timestamp()) + 86_400)
        forged = await anonymous.get(with_query(stale, expires=later))
        assert_problem(forged, 403, "media-link-invalid")


async def test_a_link_that_was_not_signed_for_the_medium_and_its_organisation_is_refused(
    platform: Platform,
) -> None:
    organization_id, other_id = await create_org(platform), await create_org(platform)
    media = await upload(platform, organization_id, png(10, 10), "image/png")
    others = await upload(platform, other_id, png(20, 20), "image/png")
    media_id, others_id = uuid.UUID(str(media["id"])), uuid.UUID(str(others["id"]))
    links = MediaLinks.from_settings(platform.settings)
    link = links.url(uuid.UUID(organization_id), media_id)
    signature = parse_qs(urlsplit(link).query)["signature"][0]
    tampered = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    forged_key = MediaLinks(links.base_url, (b"not-the-service-key",), links.ttl)
    refused = {
        # Signed for the other organisation, naming this organisation's medium.
        "other organisation": links.url(uuid.UUID(other_id), media_id),
        # This medium's signature on the other organisation's medium.
        "other medium": link.replace(str(media_id), str(others_id)),
        "tampered signature": with_query(link, signature=tampered),
        "no signature": with_query(link, signature=""),
        "no expiry": with_query(link, expires=""),
        "not a number": with_query(link, expires="soon"),
        "another key": forged_key.url(uuid.UUID(organization_id), media_id),
        "unknown medium": links.url(uuid.UUID(organization_id), uuid.uuid4()),
        "not an id": link.replace(str(media_id), "not-a-uuid"),
    }
    async with httpx.AsyncClient(timeout=10) as anonymous:
        for case, url in refused.items():
            answer = await anonymous.get(url)
            assert answer.status_code == 403, case
            assert_problem(answer, 403, "media-link-invalid")
            assert b"PNG" not in answer.content, case
        assert (await anonymous.get(link)).status_code == 200


def test_links_signed_with_a_retired_key_still_open_while_it_is_listed() -> None:
    organization_id, media_id = uuid.uuid4(), uuid.uuid4()
    old = MediaLinks("http://content", (b"old-key",), timedelta(hours=1))
    rotated = MediaLinks("http://content", (b"new-key", b"old-key"), timedelta(hours=1))
    retired = MediaLinks("http://content", (b"new-key",), timedelta(hours=1))
    query = parse_qs(urlsplit(old.url(organization_id, media_id)).query)
    expires, signature = query["expires"][0], query["signature"][0]

    assert rotated.check(organization_id, media_id, expires, signature) is LinkCheck.VALID
    assert retired.check(organization_id, media_id, expires, signature) is LinkCheck.INVALID
    assert rotated.check(uuid.uuid4(), media_id, expires, signature) is LinkCheck.INVALID
    fresh = parse_qs(urlsplit(rotated.url(organization_id, media_id)).query)
    fresh_check = old.check(organization_id, media_id, fresh["expires"][0], fresh["signature"][0])
    assert fresh_check is LinkCheck.INVALID, "new links are signed with the newest key"
