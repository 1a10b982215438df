"""Content blocks and resource contents.

Content blocks are a tagged union on ``type`` (msgspec decodes them in one pass).
Resource contents are *not* tagged on the wire: a text resource has ``text``, a blob
resource has ``blob``. Fields that hold either are annotated ``AnyResourceContents``;
at run time that is a marker base class shared by both structs, which the codec's
decode hook resolves by looking at the keys (see ``_codec``). Type checkers see the
plain union.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from fastmcp_protocol._base import (
    UNSET,
    Annotations,
    Icon,
    MetaObject,
    UnsetType,
    WireStruct,
    field,
)

__all__ = [
    "AnyResourceContents",
    "AudioContent",
    "BlobResourceContents",
    "ContentBlock",
    "EmbeddedResource",
    "ImageContent",
    "ResourceContents",
    "ResourceLink",
    "SamplingMessageContentBlock",
    "TextContent",
    "TextResourceContents",
    "ToolResultContent",
    "ToolUseContent",
]


class _ResourceContentsChoice:
    """Run-time marker for "text or blob resource contents" (see the module docstring)."""

    __slots__ = ()


class ResourceContents(WireStruct, kw_only=True, frozen=True):
    """The contents of a specific resource or sub-resource (the common fields)."""

    uri: str
    mime_type: str | None = None
    meta: MetaObject | None = field(default=None, name="_meta")


class TextResourceContents(ResourceContents, _ResourceContentsChoice, kw_only=True, frozen=True):
    """Resource contents that can be represented as text."""

    text: str


class BlobResourceContents(ResourceContents, _ResourceContentsChoice, kw_only=True, frozen=True):
    """Binary resource contents, base64-encoded in ``blob``."""

    blob: str


if TYPE_CHECKING:
    AnyResourceContents: TypeAlias = TextResourceContents | BlobResourceContents
else:
    AnyResourceContents = _ResourceContentsChoice


class TextContent(WireStruct, tag_field="type", tag="text", kw_only=True, frozen=True):
    """Text provided to or from an LLM."""

    text: str
    annotations: Annotations | None = None
    meta: MetaObject | None = field(default=None, name="_meta")


class ImageContent(WireStruct, tag_field="type", tag="image", kw_only=True, frozen=True):
    """An image provided to or from an LLM; ``data`` is base64."""

    data: str
    mime_type: str
    annotations: Annotations | None = None
    meta: MetaObject | None = field(default=None, name="_meta")


class AudioContent(WireStruct, tag_field="type", tag="audio", kw_only=True, frozen=True):
    """Audio provided to or from an LLM; ``data`` is base64 (2025-03-26 and later)."""

    data: str
    mime_type: str
    annotations: Annotations | None = None
    meta: MetaObject | None = field(default=None, name="_meta")


class ResourceLink(WireStruct, tag_field="type", tag="resource_link", kw_only=True, frozen=True):
    """A link to a resource the server can read (2025-06-18 and later)."""

    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    size: int | None = None
    annotations: Annotations | None = None
    icons: list[Icon] | None = None
    meta: MetaObject | None = field(default=None, name="_meta")


class EmbeddedResource(WireStruct, tag_field="type", tag="resource", kw_only=True, frozen=True):
    """The contents of a resource, embedded into a prompt or tool call result."""

    resource: AnyResourceContents
    annotations: Annotations | None = None
    meta: MetaObject | None = field(default=None, name="_meta")


ContentBlock: TypeAlias = (
    TextContent | ImageContent | AudioContent | ResourceLink | EmbeddedResource
)
"""Any content block of a tool result or prompt message (tagged on ``type``)."""


class ToolUseContent(WireStruct, tag_field="type", tag="tool_use", kw_only=True, frozen=True):
    """A request from the assistant to call a tool (sampling with tools, 2025-11-25)."""

    id: str
    name: str
    input: dict[str, Any]
    meta: MetaObject | None = field(default=None, name="_meta")


class ToolResultContent(WireStruct, tag_field="type", tag="tool_result", kw_only=True, frozen=True):
    """The result of a tool use, given back to the assistant (2025-11-25)."""

    tool_use_id: str
    content: list[ContentBlock]
    structured_content: Any | UnsetType = UNSET
    is_error: bool | None = None
    meta: MetaObject | None = field(default=None, name="_meta")


SamplingMessageContentBlock: TypeAlias = (
    TextContent | ImageContent | AudioContent | ToolUseContent | ToolResultContent
)
"""A content block of a sampling message."""
