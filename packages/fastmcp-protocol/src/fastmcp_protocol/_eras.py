"""What differs between the two protocol eras on the wire, in one place.

Legacy (2025-11-25 and older): a session opened by ``initialize``; the version is
negotiated once. Modern (2026-07-28): no handshake; every request carries its
version, capabilities and client info in ``params._meta``, and every result says
what it is (``resultType``) and, for lists and reads, how long it may be cached.

Senders build the newest shape and pass it through ``prepare_result`` for the
version of the peer: that fills the modern fields or strips them, and rewrites
content an older peer cannot read. Receivers of modern requests call
``check_request_meta`` to validate the per-request fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeVar

import msgspec

from fastmcp_protocol._base import UNSET, Implementation, LoggingLevel, ProgressToken
from fastmcp_protocol._capabilities import ClientCapabilities, RequestMetaObject
from fastmcp_protocol._codec import convert
from fastmcp_protocol._content import (
    AudioContent,
    ContentBlock,
    ResourceLink,
    TextContent,
)
from fastmcp_protocol._errors import INVALID_PARAMS, UNSUPPORTED_PROTOCOL_VERSION, McpError
from fastmcp_protocol._jsonrpc import UnsupportedProtocolVersionData
from fastmcp_protocol._messages import (
    CallToolResult,
    GetPromptResult,
    InputRequiredResult,
    PromptMessage,
)
from fastmcp_protocol._versions import (
    LEGACY_PROTOCOL_VERSIONS,
    MODERN_PROTOCOL_VERSIONS,
    is_modern,
)

__all__ = [
    "META_CLIENT_CAPABILITIES",
    "META_CLIENT_INFO",
    "META_LOG_LEVEL",
    "META_PROTOCOL_VERSION",
    "META_SERVER_INFO",
    "META_SUBSCRIPTION_ID",
    "RESULT_COMPLETE",
    "RESULT_INPUT_REQUIRED",
    "check_request_meta",
    "content_for_version",
    "modern_request_meta",
    "negotiate_version",
    "prepare_result",
    "read_request_meta",
    "unsupported_version_error",
]

META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"
META_SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"

RESULT_COMPLETE = "complete"
RESULT_INPUT_REQUIRED = "input_required"


# -- negotiation -------------------------------------------------------------------------


def negotiate_version(requested: str, supported: Sequence[str] = LEGACY_PROTOCOL_VERSIONS) -> str:
    """The version a legacy server answers ``initialize`` with.

    The requested version when the server supports it, otherwise the newest version
    the server supports (the client then decides whether it can speak it).
    ``supported`` is newest first.
    """
    if requested in supported:
        return requested
    return supported[0]


def unsupported_version_error(
    requested: str, supported: Sequence[str] = MODERN_PROTOCOL_VERSIONS
) -> McpError:
    """The -32022 error for a modern request whose version the server does not speak."""
    return McpError(
        UNSUPPORTED_PROTOCOL_VERSION,
        f"Unsupported protocol version: {requested}",
        UnsupportedProtocolVersionData(requested=requested, supported=list(supported)),
    )


def read_request_meta(meta: dict[str, Any] | None) -> RequestMetaObject:
    """The reserved keys of a request's ``_meta``, without checking that any is present.

    Raises ``McpError(-32602)`` when a reserved key has the wrong type.
    """
    if not meta:
        return _EMPTY_META
    try:
        return convert(meta, RequestMetaObject)
    except msgspec.ValidationError as exc:
        raise McpError(INVALID_PARAMS, f"Invalid params: {exc} (in `$.params._meta`)") from None


_EMPTY_META = RequestMetaObject()


def check_request_meta(
    meta: dict[str, Any] | None, supported: Sequence[str] = MODERN_PROTOCOL_VERSIONS
) -> RequestMetaObject:
    """Validate the per-request fields of a modern request (2026-07-28).

    Missing ``protocolVersion`` or ``clientCapabilities`` is malformed (-32602, naming
    the field); a version outside ``supported`` is -32022 with ``data.supported``.
    """
    fields = read_request_meta(meta)
    if fields.protocol_version is None:
        raise McpError(
            INVALID_PARAMS,
            f"Invalid params: `$.params._meta` lacks required `{META_PROTOCOL_VERSION}`",
        )
    if fields.protocol_version not in supported:
        raise unsupported_version_error(fields.protocol_version, supported)
    if fields.client_capabilities is None:
        raise McpError(
            INVALID_PARAMS,
            f"Invalid params: `$.params._meta` lacks required `{META_CLIENT_CAPABILITIES}`",
        )
    return fields


def modern_request_meta(
    *,
    client_capabilities: ClientCapabilities,
    protocol_version: str = MODERN_PROTOCOL_VERSIONS[0],
    client_info: Implementation | None = None,
    log_level: LoggingLevel | None = None,
    progress_token: ProgressToken | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``_meta`` a modern client puts on every request, as plain JSON values."""
    meta: dict[str, Any] = dict(extra) if extra else {}
    meta[META_PROTOCOL_VERSION] = protocol_version
    meta[META_CLIENT_CAPABILITIES] = msgspec.to_builtins(client_capabilities)
    if client_info is not None:
        meta[META_CLIENT_INFO] = msgspec.to_builtins(client_info)
    if log_level is not None:
        meta[META_LOG_LEVEL] = log_level
    if progress_token is not None:
        meta["progressToken"] = progress_token
    return meta


# -- outgoing results --------------------------------------------------------------------

_CACHE_FIELDS = frozenset({"ttl_ms", "cache_scope"})
R = TypeVar("R", bound=msgspec.Struct)


def prepare_result(
    result: R,
    version: str,
    *,
    server_info: Implementation | None = None,
    ttl_ms: int = 0,
    cache_scope: Literal["private", "public"] = "private",
) -> R:
    """``result`` in the shape ``version`` expects.

    Modern: ``resultType`` is filled (``"complete"`` unless it asks for input),
    cacheable results get ``ttlMs``/``cacheScope`` where unset (``ttl_ms`` and
    ``cache_scope`` are the defaults), and ``server_info`` goes into ``_meta``.
    Legacy: those fields are removed and content blocks the version cannot carry are
    rewritten as text (see ``content_for_version``). An ``InputRequiredResult``
    exists only in the modern era: preparing one for a legacy version raises
    ``ValueError``.
    """
    if not isinstance(result, msgspec.Struct):
        return result  # type: ignore[unreachable]  # a hand-built dict: the caller shaped it
    changes: dict[str, Any] = {}
    cacheable = _cacheable(type(result))
    if is_modern(version):
        if isinstance(result, InputRequiredResult):
            changes["result_type"] = RESULT_INPUT_REQUIRED
        elif getattr(result, "result_type", None) is None:
            changes["result_type"] = RESULT_COMPLETE
        if cacheable and not isinstance(result, InputRequiredResult):
            defaults = {"ttl_ms": ttl_ms, "cache_scope": cache_scope}
            for name, default in defaults.items():
                if getattr(result, name) is None:
                    changes[name] = default
        if server_info is not None:
            info = msgspec.to_builtins(server_info)
            changes["meta"] = {**(getattr(result, "meta", None) or {}), META_SERVER_INFO: info}
    else:
        if isinstance(result, InputRequiredResult):
            raise ValueError(f"an input-required result cannot be sent to a {version} peer")
        if getattr(result, "result_type", None) is not None:
            changes["result_type"] = None
        if cacheable:
            changes["ttl_ms"] = None
            changes["cache_scope"] = None
        if isinstance(result, CallToolResult):
            content = content_for_version(result.content, version)
            if content is not result.content:
                changes["content"] = content
            if version < "2025-06-18" and result.structured_content is not UNSET:
                changes["structured_content"] = UNSET
        elif isinstance(result, GetPromptResult):
            messages = _messages_for_version(result.messages, version)
            if messages is not result.messages:
                changes["messages"] = messages
    return msgspec.structs.replace(result, **changes) if changes else result


_CACHEABLE: dict[type, bool] = {}


def _cacheable(kind: type[msgspec.Struct]) -> bool:
    """Whether results of ``kind`` have the cache fields (``ttlMs``, ``cacheScope``)."""
    found = _CACHEABLE.get(kind)
    if found is None:
        found = _CACHEABLE[kind] = _CACHE_FIELDS.issubset(kind.__struct_fields__)
    return found


def content_for_version(blocks: list[ContentBlock], version: str) -> list[ContentBlock]:
    """``blocks`` with what ``version`` cannot carry rewritten as text.

    Audio arrived in 2025-03-26, resource links in 2025-06-18. Returns ``blocks``
    itself when nothing needs rewriting.
    """
    if version >= "2025-06-18":
        return blocks
    if not any(_needs_text(block, version) for block in blocks):
        return blocks
    return [_as_text(block) if _needs_text(block, version) else block for block in blocks]


def _needs_text(block: ContentBlock, version: str) -> bool:
    if isinstance(block, ResourceLink):
        return True
    return isinstance(block, AudioContent) and version < "2025-03-26"


def _as_text(block: ContentBlock) -> TextContent:
    if isinstance(block, ResourceLink):
        label = block.title or block.name
        return TextContent(text=f"[resource: {label}]({block.uri})", annotations=block.annotations)
    assert isinstance(block, AudioContent)
    return TextContent(text=f"[audio: {block.mime_type}, {len(block.data)} base64 characters]")


def _messages_for_version(messages: list[PromptMessage], version: str) -> list[PromptMessage]:
    if version >= "2025-06-18":
        return messages
    out: list[PromptMessage] | None = None
    for i, message in enumerate(messages):
        content = message.content
        if _needs_text(content, version):
            if out is None:
                out = list(messages)
            out[i] = PromptMessage(role=message.role, content=_as_text(content))
    return messages if out is None else out
