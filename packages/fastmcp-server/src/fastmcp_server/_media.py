"""Images, audio and files a handler can return without base64 bookkeeping.

``Image(path="chart.png")`` or ``Image(data=png_bytes)`` becomes an image content
block (or blob resource contents when returned from a resource); the MIME type is
taken from the file name or guessed from the data's magic bytes.
"""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path

import attrs

from fastmcp_protocol import (
    Annotations,
    AudioContent,
    BlobResourceContents,
    EmbeddedResource,
    ImageContent,
)

__all__ = ["Audio", "File", "Image"]

_MAGIC: list[tuple[bytes, str]] = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"RIFF", "audio/wav"),  # refined below for WEBP
    (b"ID3", "audio/mpeg"),
    (b"\xff\xfb", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
    (b"%PDF", "application/pdf"),
]


_TEXT_TYPES = {"application/json", "application/xml", "application/yaml", "application/x-sh"}


def mime_of_name(name: str) -> str:
    """The MIME type a file name suggests (``application/octet-stream`` when unknown;
    Markdown is known everywhere, whatever the system's tables say)."""
    if name.endswith(".md"):
        return "text/markdown"
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def is_text(mime: str) -> bool:
    """Whether contents of this MIME type are text (served as text when they decode)."""
    return mime.startswith("text/") or mime in _TEXT_TYPES


def _guess(data: bytes, path: Path | None, fallback: str) -> str:
    if path is not None:
        guessed, _ = mimetypes.guess_type(path.name)
        if guessed:
            return guessed
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    return fallback


@attrs.define
class _Media:
    data: bytes | None = None
    path: str | Path | None = None
    mime_type: str | None = None
    annotations: Annotations | None = None

    def __attrs_post_init__(self) -> None:
        if (self.data is None) == (self.path is None):
            raise ValueError(f"{type(self).__name__} needs exactly one of data= or path=")

    def _bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return Path(self.path).read_bytes()

    def _mime(self, data: bytes, fallback: str) -> str:
        if self.mime_type:
            return self.mime_type
        return _guess(data, Path(self.path) if self.path is not None else None, fallback)

    def to_resource_contents(self, uri: str, mime_type: str | None = None) -> BlobResourceContents:
        data = self._bytes()
        return BlobResourceContents(
            uri=uri,
            blob=base64.b64encode(data).decode(),
            mime_type=mime_type or self._mime(data, "application/octet-stream"),
        )


@attrs.define
class Image(_Media):
    """An image from bytes or a file; returned from a tool or prompt it is image content."""

    def to_content(self) -> ImageContent:
        data = self._bytes()
        return ImageContent(
            data=base64.b64encode(data).decode(),
            mime_type=self._mime(data, "image/png"),
            annotations=self.annotations,
        )


@attrs.define
class Audio(_Media):
    """Audio from bytes or a file; returned from a tool or prompt it is audio content."""

    def to_content(self) -> AudioContent:
        data = self._bytes()
        return AudioContent(
            data=base64.b64encode(data).decode(),
            mime_type=self._mime(data, "audio/wav"),
            annotations=self.annotations,
        )


@attrs.define
class File(_Media):
    """Any file: returned from a tool or prompt it is an embedded blob resource."""

    uri: str | None = None

    def to_content(self) -> EmbeddedResource:
        name = Path(self.path).name if self.path is not None else "data"
        uri = self.uri or (
            Path(self.path).resolve().as_uri() if self.path is not None else f"file:///{name}"
        )
        return EmbeddedResource(
            resource=self.to_resource_contents(uri, self.mime_type), annotations=self.annotations
        )
