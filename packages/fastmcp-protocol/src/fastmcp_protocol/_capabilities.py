"""Capabilities of both sides, and the typed ``_meta`` objects that carry them.

Each capability struct is the union of its shape across every released version
(``tasks`` exists only in 2025-11-25, ``extensions`` only from 2026-07-28); a peer
of an older version simply never sets the newer members. An empty object means
"supported, no settings", so sub-capabilities are ``JSONObject | None``.
"""

from __future__ import annotations

from fastmcp_protocol._base import (
    Implementation,
    JSONObject,
    LoggingLevel,
    ProgressToken,
    RequestId,
    WireStruct,
    field,
)

__all__ = [
    "ClientCapabilities",
    "ClientTasksCapability",
    "ClientTasksRequestsCapability",
    "ElicitationCapability",
    "ElicitationTasksCapability",
    "NotificationMetaObject",
    "PromptsCapability",
    "RequestMetaObject",
    "ResourcesCapability",
    "ResultMetaObject",
    "RootsCapability",
    "SamplingCapability",
    "SamplingTasksCapability",
    "ServerCapabilities",
    "ServerTasksCapability",
    "ServerTasksRequestsCapability",
    "SubscriptionsListenResultMetaObject",
    "ToolsCapability",
    "ToolsTasksCapability",
]


class RootsCapability(WireStruct, kw_only=True, frozen=True):
    """The client can list roots."""

    list_changed: bool | None = None


class SamplingCapability(WireStruct, kw_only=True, frozen=True):
    """The client can sample an LLM; ``context`` and ``tools`` are 2025-11-25 sub-features."""

    context: JSONObject | None = None
    tools: JSONObject | None = None


class ElicitationCapability(WireStruct, kw_only=True, frozen=True):
    """The client can elicit input from its user, in form and/or URL mode."""

    form: JSONObject | None = None
    url: JSONObject | None = None


class SamplingTasksCapability(WireStruct, kw_only=True, frozen=True):
    """Task support for sampling requests (2025-11-25)."""

    create_message: JSONObject | None = None


class ElicitationTasksCapability(WireStruct, kw_only=True, frozen=True):
    """Task support for elicitation requests (2025-11-25)."""

    create: JSONObject | None = None


class ClientTasksRequestsCapability(WireStruct, kw_only=True, frozen=True):
    """Which server-to-client requests the client accepts as tasks (2025-11-25)."""

    sampling: SamplingTasksCapability | None = None
    elicitation: ElicitationTasksCapability | None = None


class ClientTasksCapability(WireStruct, kw_only=True, frozen=True):
    """The client supports task-augmented requests (2025-11-25)."""

    list: JSONObject | None = None
    cancel: JSONObject | None = None
    requests: ClientTasksRequestsCapability | None = None


class ClientCapabilities(WireStruct, kw_only=True, frozen=True):
    """Capabilities a client may support. Not a closed set: ``experimental``/``extensions``."""

    experimental: dict[str, JSONObject] | None = None
    extensions: dict[str, JSONObject] | None = None
    roots: RootsCapability | None = None
    sampling: SamplingCapability | None = None
    elicitation: ElicitationCapability | None = None
    tasks: ClientTasksCapability | None = None


class PromptsCapability(WireStruct, kw_only=True, frozen=True):
    """The server offers prompts."""

    list_changed: bool | None = None


class ResourcesCapability(WireStruct, kw_only=True, frozen=True):
    """The server offers resources."""

    subscribe: bool | None = None
    list_changed: bool | None = None


class ToolsCapability(WireStruct, kw_only=True, frozen=True):
    """The server offers tools."""

    list_changed: bool | None = None


class ToolsTasksCapability(WireStruct, kw_only=True, frozen=True):
    """Task support for tool requests (2025-11-25)."""

    call: JSONObject | None = None


class ServerTasksRequestsCapability(WireStruct, kw_only=True, frozen=True):
    """Which client requests the server accepts as tasks (2025-11-25)."""

    tools: ToolsTasksCapability | None = None


class ServerTasksCapability(WireStruct, kw_only=True, frozen=True):
    """The server supports task-augmented requests (2025-11-25)."""

    list: JSONObject | None = None
    cancel: JSONObject | None = None
    requests: ServerTasksRequestsCapability | None = None


class ServerCapabilities(WireStruct, kw_only=True, frozen=True):
    """Capabilities a server may support. Not a closed set: ``experimental``/``extensions``."""

    experimental: dict[str, JSONObject] | None = None
    extensions: dict[str, JSONObject] | None = None
    logging: JSONObject | None = None
    completions: JSONObject | None = None
    prompts: PromptsCapability | None = None
    resources: ResourcesCapability | None = None
    tools: ToolsCapability | None = None
    tasks: ServerTasksCapability | None = None


# -- typed _meta objects ----------------------------------------------------------------
# ``_meta`` is an open object on the wire, so message structs carry it as a plain
# dict (unknown keys survive a round trip); these structs type the reserved keys and
# are read with ``fastmcp_protocol.read_request_meta`` / written by the era helpers.


class RequestMetaObject(WireStruct, kw_only=True, frozen=True):
    """The reserved keys of a request's ``_meta``.

    ``protocolVersion`` and ``clientCapabilities`` are required from 2026-07-28 on;
    older versions only know ``progressToken``.
    """

    protocol_version: str | None = field(
        default=None, name="io.modelcontextprotocol/protocolVersion"
    )
    client_capabilities: ClientCapabilities | None = field(
        default=None, name="io.modelcontextprotocol/clientCapabilities"
    )
    client_info: Implementation | None = field(
        default=None, name="io.modelcontextprotocol/clientInfo"
    )
    log_level: LoggingLevel | None = field(default=None, name="io.modelcontextprotocol/logLevel")
    progress_token: ProgressToken | None = None


class ResultMetaObject(WireStruct, kw_only=True, frozen=True):
    """The reserved keys of a result's ``_meta`` (2026-07-28)."""

    server_info: Implementation | None = field(
        default=None, name="io.modelcontextprotocol/serverInfo"
    )


class SubscriptionsListenResultMetaObject(ResultMetaObject, kw_only=True, frozen=True):
    """The ``_meta`` of a ``subscriptions/listen`` result: which stream ended."""

    subscription_id: RequestId = field(name="io.modelcontextprotocol/subscriptionId")


class NotificationMetaObject(WireStruct, kw_only=True, frozen=True):
    """The reserved keys of a notification's ``_meta`` (2026-07-28)."""

    subscription_id: RequestId | None = field(
        default=None, name="io.modelcontextprotocol/subscriptionId"
    )
