"""Struct bases and the small shared definitions every other module builds on.

Two bases exist because two encoding rules exist on the wire:

* ``WireStruct`` for data: optional fields default to ``None`` and are omitted
  when unset (``omit_defaults``); attributes are snake_case, the wire is camelCase.
* ``MessageStruct`` for JSON-RPC messages: ``jsonrpc = "2.0"`` is a default that
  must still be written, so defaults are *not* omitted; optional members use
  ``msgspec.UNSET`` instead (UNSET is never written).

Both are frozen (values, hashable when their fields are) and ``gc=False``: wire
values never form reference cycles, and skipping GC tracking makes decoding
cheaper.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import msgspec
from msgspec import UNSET, UnsetType, field

__all__ = [
    "UNSET",
    "Annotated",
    "Annotations",
    "BaseMetadata",
    "Cursor",
    "Error",
    "Icon",
    "Icons",
    "Implementation",
    "InternalError",
    "InvalidParamsError",
    "InvalidRequestError",
    "JSONArray",
    "JSONObject",
    "JSONValue",
    "LoggingLevel",
    "MessageStruct",
    "MetaObject",
    "MethodNotFoundError",
    "ModelHint",
    "ModelPreferences",
    "ParseError",
    "ProgressToken",
    "RequestId",
    "ResultType",
    "Role",
    "UnsetType",
    "WireStruct",
    "field",
]


class WireStruct(
    msgspec.Struct,
    kw_only=True,
    omit_defaults=True,
    rename="camel",
    frozen=True,
    gc=False,
):
    """Base of every MCP data structure: camelCase on the wire, unset fields omitted."""


class MessageStruct(msgspec.Struct, kw_only=True, rename="camel", frozen=True, gc=False):
    """Base of JSON-RPC message structures: ``jsonrpc`` is always written."""


# -- scalar and JSON aliases ------------------------------------------------------------

RequestId: TypeAlias = str | int
"""A uniquely identifying ID for a request in JSON-RPC (never ``null`` for a request)."""

ProgressToken: TypeAlias = str | int
"""A progress token, used to associate progress notifications with the original request."""

Cursor: TypeAlias = str
"""An opaque token used to represent a cursor for pagination."""

Role: TypeAlias = Literal["assistant", "user"]
"""The sender or recipient of messages and data in a conversation."""

LoggingLevel: TypeAlias = Literal[
    "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"
]
"""The severity of a log message (RFC 5424 syslog severities)."""

ResultType: TypeAlias = str
"""``"complete"``, ``"input_required"`` or an extension's value (2026-07-28 and later)."""

JSONValue: TypeAlias = Any
"""Any JSON value."""

JSONObject: TypeAlias = dict[str, Any]
"""A JSON object."""

JSONArray: TypeAlias = list[Any]
"""A JSON array."""

MetaObject: TypeAlias = dict[str, Any]
"""The contents of a ``_meta`` field: an open object whose reserved keys are typed below."""


# -- shared data ------------------------------------------------------------------------


class Annotations(WireStruct, kw_only=True, frozen=True):
    """Optional annotations that tell the client how an object is used or displayed."""

    audience: list[Role] | None = None
    priority: float | None = None
    last_modified: str | None = None


class Annotated(WireStruct, kw_only=True, frozen=True):
    """Base for objects that carry optional annotations (2024-11-05)."""

    annotations: Annotations | None = None


class Icon(WireStruct, kw_only=True, frozen=True):
    """An optionally-sized icon that can be displayed in a user interface."""

    src: str
    mime_type: str | None = None
    sizes: list[str] | None = None
    theme: Literal["light", "dark"] | None = None


class Icons(WireStruct, kw_only=True, frozen=True):
    """Base for objects that carry ``icons``."""

    icons: list[Icon] | None = None


class BaseMetadata(WireStruct, kw_only=True, frozen=True):
    """Base for objects with a programmatic ``name`` and a display ``title``."""

    name: str
    title: str | None = None


class Implementation(WireStruct, kw_only=True, frozen=True):
    """Describes an MCP implementation (client or server)."""

    name: str
    version: str
    title: str | None = None
    description: str | None = None
    icons: list[Icon] | None = None
    website_url: str | None = None


class ModelHint(WireStruct, kw_only=True, frozen=True):
    """Hints to use for model selection."""

    name: str | None = None


class ModelPreferences(WireStruct, kw_only=True, frozen=True):
    """The server's preferences for model selection, requested of the client during sampling."""

    hints: list[ModelHint] | None = None
    cost_priority: float | None = None
    speed_priority: float | None = None
    intelligence_priority: float | None = None


# -- error objects ----------------------------------------------------------------------


class Error(WireStruct, kw_only=True, frozen=True):
    """The ``error`` member of a JSON-RPC error response.

    The subclasses below narrow ``code`` to one standard value; they exist because the
    schema names them. Raise :class:`fastmcp_protocol.McpError` to produce one.
    """

    code: int
    message: str
    data: Any | UnsetType = UNSET


class ParseError(Error, kw_only=True, frozen=True):
    """Invalid JSON was received (-32700)."""

    code: Literal[-32700]


class InvalidRequestError(Error, kw_only=True, frozen=True):
    """The message is not a valid JSON-RPC request object (-32600)."""

    code: Literal[-32600]


class MethodNotFoundError(Error, kw_only=True, frozen=True):
    """The method does not exist or is not available (-32601)."""

    code: Literal[-32601]


class InvalidParamsError(Error, kw_only=True, frozen=True):
    """The method parameters are invalid or malformed (-32602)."""

    code: Literal[-32602]


class InternalError(Error, kw_only=True, frozen=True):
    """The receiver met an unexpected condition (-32603)."""

    code: Literal[-32603]
