"""What an uploaded file really is, read from its own bytes (no image library needed).

The MIME type comes from the file's signature ("magic bytes"), never from its name; image
dimensions come from the format's header; MP4/QuickTime dimensions and duration from the ``tkhd``
and ``mvhd`` boxes. A stored file is probed where it lies (``probe_file``): the readers seek to
the few bytes they need, so a large video is never read whole, wherever its ``moov`` box is.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol, overload

SUPPORTED_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "video/mp4",
        "video/quicktime",
        "video/webm",
        "audio/mpeg",
        "audio/mp4",
        "audio/wav",
        "audio/ogg",
    }
)
# Names browsers and tools use for the same formats.
ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/mp3": "audio/mpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/x-m4a": "audio/mp4",
}


class Bytes(Protocol):
    """What the header readers read: ``bytes``, or a file seen as bytes (``FileBytes``)."""

    def __len__(self) -> int: ...

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> bytes: ...


class FileBytes:
    """A seekable file indexed like ``bytes``, read one block at a time: a reader that walks
    boxes or segments costs one read per block it lands in, not the whole file."""

    BLOCK = 64 * 1024

    def __init__(self, file: BinaryIO, size: int) -> None:
        self._file = file
        self._size = size
        self._block_start = -1
        self._block = b""

    def __len__(self) -> int:
        return self._size

    def _read(self, start: int, stop: int) -> bytes:
        if start >= stop:
            return b""
        if stop - start > self.BLOCK:
            self._file.seek(start)
            return self._file.read(stop - start)
        block_start = start - start % self.BLOCK
        if self._block_start != block_start or stop > block_start + len(self._block):
            self._file.seek(block_start)
            self._block = self._file.read(stop - block_start + self.BLOCK)
            self._block_start = block_start
        return self._block[start - block_start : stop - block_start]

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> bytes: ...

    def __getitem__(self, index: int | slice) -> int | bytes:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._size)
            if step != 1:
                raise ValueError("FileBytes reads contiguous slices only")
            return self._read(start, stop)
        position = index + self._size if index < 0 else index
        if not 0 <= position < self._size:
            raise IndexError(index)
        return self._read(position, position + 1)[0]


@dataclass(frozen=True)
class Probe:
    mime_type: str
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None


def normalize_mime_type(content_type: str) -> str:
    """``Image/JPG; charset=x`` → ``image/jpeg``."""
    bare = content_type.split(";", 1)[0].strip().lower()
    return ALIASES.get(bare, bare)


# The longest signature ``sniff`` looks at.
SIGNATURE_BYTES = 16


def sniff(data: bytes) -> str | None:
    """The file's real MIME type from its signature, or None for an unknown format."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] in _RIFF_TYPES:
        return _RIFF_TYPES[data[8:12]]
    if data[4:8] == b"ftyp":
        return "audio/mp4" if data[8:12] in (b"M4A ", b"M4B ") else _video_type(data)
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return None


def probe(data: bytes) -> Probe | None:
    """The file's real type and what its headers say; a truncated header leaves them unknown."""
    return _probe(data[:SIGNATURE_BYTES], data)


def probe_file(file: BinaryIO, size: int) -> Probe | None:
    """``probe`` of a file of ``size`` bytes, reading only the parts its headers point to."""
    file.seek(0)
    return _probe(file.read(SIGNATURE_BYTES), FileBytes(file, size))


def _probe(signature: bytes, data: Bytes) -> Probe | None:
    mime_type = sniff(signature)
    if mime_type is None:
        return None
    reader = _HEADER_READERS.get(mime_type)
    if reader is None:
        return Probe(mime_type)
    try:
        return reader(data)
    except (struct.error, IndexError):
        return Probe(mime_type)


_RIFF_TYPES = {b"WEBP": "image/webp", b"WAVE": "audio/wav"}


def _video_type(data: Bytes) -> str:
    return "video/quicktime" if data[8:12] == b"qt  " else "video/mp4"


def _png(data: Bytes) -> Probe:
    width, height = struct.unpack(">II", data[16:24])
    return Probe("image/png", width, height)


def _gif(data: Bytes) -> Probe:
    width, height = struct.unpack("<HH", data[6:10])
    return Probe("image/gif", width, height)


# Start-of-frame markers carry the dimensions; C4 (Huffman), C8 and CC (arithmetic) do not.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(data: Bytes) -> Probe:
    return Probe("image/jpeg", *_jpeg_size(data))


def _jpeg_size(data: Bytes) -> tuple[int | None, int | None]:
    offset = 2
    while offset + 9 <= len(data):
        if data[offset] != 0xFF:
            return None, None
        marker = data[offset + 1]
        if marker == 0xFF:  # padding between segments
            offset += 1
            continue
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        if marker in _SOF_MARKERS:
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            return width, height
        offset += 2 + length
    return None, None


def _webp(data: Bytes) -> Probe:
    return Probe("image/webp", *_webp_size(data))


def _webp_size(data: Bytes) -> tuple[int | None, int | None]:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    return None, None


def _boxes(data: Bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """ISO base media boxes between ``start`` and ``end``: (type, payload start, box end)."""
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if size == 1 and offset + 16 <= end:
            (size,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            return
        yield kind, offset + header, offset + size
        offset += size


def _iso_video(data: Bytes) -> Probe:
    width = height = None
    duration = None
    for kind, start, end in _boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        for inner, inner_start, inner_end in _boxes(data, start, end):
            if inner == b"mvhd":
                duration = _mvhd_duration(data, inner_start)
            elif inner == b"trak" and width is None:
                width, height = _track_size(data, inner_start, inner_end)
    return Probe(_video_type(data), width, height, duration)


def _mvhd_duration(data: Bytes, start: int) -> float | None:
    version = data[start]
    if version == 1:
        timescale, duration = struct.unpack(">IQ", data[start + 20 : start + 32])
    else:
        timescale, duration = struct.unpack(">II", data[start + 12 : start + 20])
    return duration / timescale if timescale else None


def _track_size(data: Bytes, start: int, end: int) -> tuple[int | None, int | None]:
    """Width and height of a video track (``tkhd``, 16.16 fixed point); audio tracks have 0."""
    for kind, payload, _ in _boxes(data, start, end):
        if kind == b"tkhd":
            offset = payload + (88 if data[payload] == 1 else 76)
            width, height = struct.unpack(">II", data[offset : offset + 8])
            if width and height:
                return width >> 16, height >> 16
    return None, None


_HEADER_READERS = {
    "image/png": _png,
    "image/jpeg": _jpeg,
    "image/gif": _gif,
    "image/webp": _webp,
    "video/mp4": _iso_video,
    "video/quicktime": _iso_video,
}
