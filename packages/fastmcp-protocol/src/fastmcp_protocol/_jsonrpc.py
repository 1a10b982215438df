"""The JSON-RPC 2.0 envelope as MCP uses it, and the generic bases of every message.

The envelope structs keep ``params`` and ``result`` as ``msgspec.Raw``: a frame is
decoded once into its envelope (see ``_codec.decode_message``), and the payload is
converted into the method's typed params only once the method is known.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import msgspec

from fastmcp_protocol._base import (
    UNSET,
    Error,
    MessageStruct,
    MetaObject,
    RequestId,
    UnsetType,
    WireStruct,
    field,
)
from fastmcp_protocol._capabilities import ClientCapabilities

__all__ = [
    "JSONRPC_VERSION",
    "CacheableResult",
    "EmptyResult",
    "HeaderMismatchError",
    "JSONRPCBatchRequest",
    "JSONRPCBatchResponse",
    "JSONRPCError",
    "JSONRPCErrorResponse",
    "JSONRPCMessage",
    "JSONRPCNotification",
    "JSONRPCRequest",
    "JSONRPCResponse",
    "JSONRPCResultResponse",
    "MissingRequiredClientCapabilityData",
    "MissingRequiredClientCapabilityError",
    "MissingRequiredClientCapabilityErrorObject",
    "Notification",
    "NotificationParams",
    "PaginatedRequest",
    "PaginatedRequestParams",
    "PaginatedResult",
    "Request",
    "RequestParams",
    "Result",
    "URLElicitationRequiredData",
    "URLElicitationRequiredError",
    "URLElicitationRequiredErrorObject",
    "UnsupportedProtocolVersionData",
    "UnsupportedProtocolVersionError",
    "UnsupportedProtocolVersionErrorObject",
]

JSONRPC_VERSION: Literal["2.0"] = "2.0"


# -- the envelope ------------------------------------------------------------------------


class JSONRPCRequest(MessageStruct, kw_only=True, frozen=True):
    """A request that expects a response. ``params`` stays raw JSON until dispatch."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    method: str
    params: msgspec.Raw | UnsetType = UNSET


class JSONRPCNotification(MessageStruct, kw_only=True, frozen=True):
    """A notification, which does not expect a response."""

    jsonrpc: Literal["2.0"] = "2.0"
    method: str
    params: msgspec.Raw | UnsetType = UNSET


class JSONRPCResultResponse(MessageStruct, kw_only=True, frozen=True):
    """A successful (non-error) response to a request. ``result`` stays raw JSON."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    result: msgspec.Raw


class JSONRPCErrorResponse(MessageStruct, kw_only=True, frozen=True):
    """A response that reports an error.

    ``id`` is ``None`` (written as ``null``) when the request's id could not be read,
    as JSON-RPC 2.0 prescribes for parse errors.
    """

    jsonrpc: Literal["2.0"] = "2.0"
    error: Error
    id: RequestId | UnsetType | None = UNSET


JSONRPCError: TypeAlias = JSONRPCErrorResponse
"""The name of ``JSONRPCErrorResponse`` up to 2025-06-18."""

JSONRPCResponse: TypeAlias = JSONRPCResultResponse | JSONRPCErrorResponse
"""A response to a request, containing either the result or an error."""

JSONRPCMessage: TypeAlias = (
    JSONRPCRequest | JSONRPCNotification | JSONRPCResultResponse | JSONRPCErrorResponse
)
"""Any message that can be decoded off the wire or encoded to be sent."""

JSONRPCBatchRequest: TypeAlias = list[JSONRPCRequest | JSONRPCNotification]
"""A JSON-RPC batch of requests and notifications (2025-03-26 only)."""

JSONRPCBatchResponse: TypeAlias = list[JSONRPCResultResponse | JSONRPCErrorResponse]
"""A JSON-RPC batch of responses (2025-03-26 only)."""


# -- generic bases -----------------------------------------------------------------------


class RequestParams(WireStruct, kw_only=True, frozen=True):
    """Common params of any request: only ``_meta`` (see ``RequestMetaObject``)."""

    meta: MetaObject | None = field(default=None, name="_meta")


class PaginatedRequestParams(RequestParams, kw_only=True, frozen=True):
    """Common params of paginated (``*/list``) requests."""

    cursor: str | None = None


class NotificationParams(WireStruct, kw_only=True, frozen=True):
    """Common params of any notification."""

    meta: MetaObject | None = field(default=None, name="_meta")


class Request(WireStruct, kw_only=True, frozen=True):
    """A request's method and params, without the JSON-RPC envelope."""

    method: str
    params: dict[str, Any] | None = None


class Notification(WireStruct, kw_only=True, frozen=True):
    """A notification's method and params, without the JSON-RPC envelope."""

    method: str
    params: dict[str, Any] | None = None


class PaginatedRequest(MessageStruct, kw_only=True, frozen=True):
    """A paginated request of some ``*/list`` method."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    method: str
    params: PaginatedRequestParams | UnsetType = UNSET


class Result(WireStruct, kw_only=True, frozen=True):
    """Common result fields.

    ``result_type`` is written from 2026-07-28 on (``"complete"`` unless the result
    asks for input); a missing value means ``"complete"``.
    """

    meta: MetaObject | None = field(default=None, name="_meta")
    result_type: str | None = None


EmptyResult: TypeAlias = Result
"""A result that only says "done"."""


class PaginatedResult(Result, kw_only=True, frozen=True):
    """Common fields of a paginated result."""

    next_cursor: str | None = None


class CacheableResult(Result, kw_only=True, frozen=True):
    """A result with a caching hint (2026-07-28); the era helpers fill both fields."""

    ttl_ms: int | None = None
    cache_scope: Literal["private", "public"] | None = None


# -- MCP-defined error responses ---------------------------------------------------------


class UnsupportedProtocolVersionData(WireStruct, kw_only=True, frozen=True):
    """``error.data`` of an unsupported-protocol-version error (-32022)."""

    requested: str
    supported: list[str]


class UnsupportedProtocolVersionErrorObject(Error, kw_only=True, frozen=True):
    """``error`` of an unsupported-protocol-version error (-32022)."""

    code: Literal[-32022]
    data: UnsupportedProtocolVersionData


class UnsupportedProtocolVersionError(MessageStruct, kw_only=True, frozen=True):
    """The request's protocol version is unknown or unsupported (HTTP 400)."""

    jsonrpc: Literal["2.0"] = "2.0"
    error: UnsupportedProtocolVersionErrorObject
    id: RequestId | UnsetType = UNSET


class HeaderMismatchError(MessageStruct, kw_only=True, frozen=True):
    """HTTP headers disagree with the body, or required headers are missing (-32020)."""

    jsonrpc: Literal["2.0"] = "2.0"
    error: Error
    id: RequestId | UnsetType = UNSET


class MissingRequiredClientCapabilityData(WireStruct, kw_only=True, frozen=True):
    """``error.data`` of a missing-required-client-capability error (-32021)."""

    required_capabilities: ClientCapabilities


class MissingRequiredClientCapabilityErrorObject(Error, kw_only=True, frozen=True):
    """``error`` of a missing-required-client-capability error (-32021)."""

    code: Literal[-32021]
    data: MissingRequiredClientCapabilityData


class MissingRequiredClientCapabilityError(MessageStruct, kw_only=True, frozen=True):
    """Processing the request needs a capability the client did not declare (HTTP 400)."""

    jsonrpc: Literal["2.0"] = "2.0"
    error: MissingRequiredClientCapabilityErrorObject
    id: RequestId | UnsetType = UNSET


class URLElicitationRequiredData(WireStruct, kw_only=True, frozen=True):
    """``error.data`` of a URL-elicitation-required error (-32042, 2025-11-25)."""

    elicitations: list[Any]  # ElicitRequestURLParams, typed in _messages


class URLElicitationRequiredErrorObject(Error, kw_only=True, frozen=True):
    """``error`` of a URL-elicitation-required error (-32042, 2025-11-25)."""

    code: Literal[-32042]
    data: URLElicitationRequiredData


class URLElicitationRequiredError(MessageStruct, kw_only=True, frozen=True):
    """The server needs the user to complete a URL elicitation first (2025-11-25)."""

    jsonrpc: Literal["2.0"] = "2.0"
    error: URLElicitationRequiredErrorObject
    id: RequestId | UnsetType = UNSET
