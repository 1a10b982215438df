"""The method table: every MCP method, its payload types, direction and versions.

A receiver decodes the envelope, looks the method up here, and converts the raw
params into ``spec.params``; a sender decodes a response's raw result into
``spec.result``. The flags say what the 2026-07-28 era changed per method:
``input_request`` (carried inside an ``InputRequiredResult`` instead of as a
JSON-RPC request), ``input_required`` (the result may ask for input), ``cacheable``
(the result carries ``ttlMs``/``cacheScope``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final, Literal

import msgspec

from fastmcp_protocol import _messages as m
from fastmcp_protocol._jsonrpc import (
    NotificationParams,
    PaginatedRequestParams,
    RequestParams,
    Result,
)
from fastmcp_protocol._versions import (
    LEGACY_PROTOCOL_VERSIONS,
    MODERN_PROTOCOL_VERSIONS,
    PROTOCOL_VERSIONS,
)

__all__ = ["METHODS", "Direction", "MethodSpec", "methods_for"]


class Direction(enum.Enum):
    """Who sends a method."""

    CLIENT_TO_SERVER = "client_to_server"
    SERVER_TO_CLIENT = "server_to_client"
    BOTH = "both"

    def allows(self, sender: Literal["client", "server"]) -> bool:
        """Whether ``sender`` may send a method of this direction."""
        if self is Direction.BOTH:
            return True
        return (self is Direction.CLIENT_TO_SERVER) == (sender == "client")


class MethodSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the method table."""

    method: str
    kind: Literal["request", "notification"]
    direction: Direction
    params: Any
    """The struct the params decode into (absent params decode as ``{}``); a type, or
    for ``elicitation/create`` the form-or-URL union."""
    result: type | None
    """The struct the result decodes into; ``None`` for notifications."""
    message: type
    """The typed message struct that the schema names (``CallToolRequest``)."""
    versions: frozenset[str]
    """The versions in which the method travels as a JSON-RPC message."""
    input_request: bool = False
    input_required: bool = False
    cacheable: bool = False

    def exists_in(self, version: str) -> bool:
        """Whether the method is a JSON-RPC message of ``version``."""
        return version in self.versions


_ALL = frozenset(PROTOCOL_VERSIONS)
_LEGACY = frozenset(LEGACY_PROTOCOL_VERSIONS)
_MODERN = frozenset(MODERN_PROTOCOL_VERSIONS)
_ONLY_2025_11 = frozenset({"2025-11-25"})
_ELICITATION = frozenset({"2025-06-18", "2025-11-25"})

C2S = Direction.CLIENT_TO_SERVER
S2C = Direction.SERVER_TO_CLIENT
BOTH = Direction.BOTH


def _req(
    method: str,
    direction: Direction,
    params: Any,
    result: type,
    message: type,
    versions: frozenset[str],
    **flags: bool,
) -> MethodSpec:
    return MethodSpec(
        method=method,
        kind="request",
        direction=direction,
        params=params,
        result=result,
        message=message,
        versions=versions,
        **flags,
    )


def _note(
    method: str, direction: Direction, params: type, message: type, versions: frozenset[str]
) -> MethodSpec:
    return MethodSpec(
        method=method,
        kind="notification",
        direction=direction,
        params=params,
        result=None,
        message=message,
        versions=versions,
    )


_ROWS = (
    # lifecycle
    _req("initialize", C2S, m.InitializeRequestParams, m.InitializeResult, m.InitializeRequest, _LEGACY),
    _req("ping", BOTH, RequestParams, Result, m.PingRequest, _LEGACY),
    _req("server/discover", C2S, RequestParams, m.DiscoverResult, m.DiscoverRequest, _MODERN, cacheable=True),
    # server features
    _req("tools/list", C2S, PaginatedRequestParams, m.ListToolsResult, m.ListToolsRequest, _ALL, cacheable=True),
    _req("tools/call", C2S, m.CallToolRequestParams, m.CallToolResult, m.CallToolRequest, _ALL, input_required=True),
    _req("resources/list", C2S, PaginatedRequestParams, m.ListResourcesResult, m.ListResourcesRequest, _ALL, cacheable=True),
    _req("resources/templates/list", C2S, PaginatedRequestParams, m.ListResourceTemplatesResult, m.ListResourceTemplatesRequest, _ALL, cacheable=True),
    _req("resources/read", C2S, m.ReadResourceRequestParams, m.ReadResourceResult, m.ReadResourceRequest, _ALL, cacheable=True, input_required=True),
    _req("resources/subscribe", C2S, m.SubscribeRequestParams, Result, m.SubscribeRequest, _LEGACY),
    _req("resources/unsubscribe", C2S, m.UnsubscribeRequestParams, Result, m.UnsubscribeRequest, _LEGACY),
    _req("subscriptions/listen", C2S, m.SubscriptionsListenRequestParams, m.SubscriptionsListenResult, m.SubscriptionsListenRequest, _MODERN),
    _req("prompts/list", C2S, PaginatedRequestParams, m.ListPromptsResult, m.ListPromptsRequest, _ALL, cacheable=True),
    _req("prompts/get", C2S, m.GetPromptRequestParams, m.GetPromptResult, m.GetPromptRequest, _ALL, input_required=True),
    _req("completion/complete", C2S, m.CompleteRequestParams, m.CompleteResult, m.CompleteRequest, _ALL),
    _req("logging/setLevel", C2S, m.SetLevelRequestParams, Result, m.SetLevelRequest, _LEGACY),
    # tasks (2025-11-25; both sides may be the receiver of a task-augmented request)
    _req("tasks/get", BOTH, m.TaskIdParams, m.GetTaskResult, m.GetTaskRequest, _ONLY_2025_11),
    _req("tasks/result", BOTH, m.TaskIdParams, m.GetTaskPayloadResult, m.GetTaskPayloadRequest, _ONLY_2025_11),
    _req("tasks/cancel", BOTH, m.TaskIdParams, m.CancelTaskResult, m.CancelTaskRequest, _ONLY_2025_11),
    _req("tasks/list", BOTH, PaginatedRequestParams, m.ListTasksResult, m.ListTasksRequest, _ONLY_2025_11),
    # client features
    _req("sampling/createMessage", S2C, m.CreateMessageRequestParams, m.CreateMessageResult, m.CreateMessageRequest, _LEGACY, input_request=True),
    _req("elicitation/create", S2C, m.ElicitRequestParams, m.ElicitResult, m.ElicitRequest, _ELICITATION, input_request=True),
    _req("roots/list", S2C, RequestParams, m.ListRootsResult, m.ListRootsRequest, _LEGACY, input_request=True),
    # notifications
    _note("notifications/initialized", C2S, NotificationParams, m.InitializedNotification, _LEGACY),
    _note("notifications/cancelled", BOTH, m.CancelledNotificationParams, m.CancelledNotification, _ALL),
    _note("notifications/progress", BOTH, m.ProgressNotificationParams, m.ProgressNotification, _ALL),
    _note("notifications/message", S2C, m.LoggingMessageNotificationParams, m.LoggingMessageNotification, _ALL),
    _note("notifications/resources/list_changed", S2C, NotificationParams, m.ResourceListChangedNotification, _ALL),
    _note("notifications/resources/updated", S2C, m.ResourceUpdatedNotificationParams, m.ResourceUpdatedNotification, _ALL),
    _note("notifications/prompts/list_changed", S2C, NotificationParams, m.PromptListChangedNotification, _ALL),
    _note("notifications/tools/list_changed", S2C, NotificationParams, m.ToolListChangedNotification, _ALL),
    _note("notifications/roots/list_changed", C2S, NotificationParams, m.RootsListChangedNotification, _LEGACY),
    _note("notifications/tasks/status", BOTH, m.TaskStatusNotificationParams, m.TaskStatusNotification, _ONLY_2025_11),
    _note("notifications/elicitation/complete", S2C, m.ElicitationCompleteParams, m.ElicitationCompleteNotification, _ONLY_2025_11),
    _note("notifications/subscriptions/acknowledged", S2C, m.SubscriptionsAcknowledgedNotificationParams, m.SubscriptionsAcknowledgedNotification, _MODERN),
)  # fmt: skip

METHODS: Final[Mapping[str, MethodSpec]] = {row.method: row for row in _ROWS}
"""Every method of every released version, by name."""


def methods_for(
    version: str, sender: Literal["client", "server"] | None = None
) -> list[MethodSpec]:
    """The methods that exist as JSON-RPC messages in ``version`` (sent by ``sender``)."""
    return [
        spec
        for spec in _ROWS
        if spec.exists_in(version) and (sender is None or spec.direction.allows(sender))
    ]
