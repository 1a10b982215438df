"""The released protocol versions, and which definition each of them has.

This is the one place that knows how the schema changed between releases. The
structs elsewhere have the newest shape, widened to read older ones; here every
version maps each of its schema definition names to the Python type that models it
there. Most names map to the same type in every version; the per-version unions
(``ClientRequest`` & co.) and a few renamed shapes differ and are listed explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Final

__all__ = [
    "LATEST_PROTOCOL_VERSION",
    "LEGACY_PROTOCOL_VERSIONS",
    "MODERN_PROTOCOL_VERSIONS",
    "PROTOCOL_VERSIONS",
    "is_legacy",
    "is_modern",
    "schema_definitions",
]

LATEST_PROTOCOL_VERSION: Final = "2026-07-28"
"""The newest released version: the default of servers and clients built here."""

MODERN_PROTOCOL_VERSIONS: Final = ("2026-07-28",)
"""Versions without an ``initialize`` handshake: every request carries its ``_meta``."""

LEGACY_PROTOCOL_VERSIONS: Final = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
"""Session-based versions negotiated by ``initialize``, newest first."""

PROTOCOL_VERSIONS: Final = MODERN_PROTOCOL_VERSIONS + LEGACY_PROTOCOL_VERSIONS
"""Every released version, newest first."""


def is_modern(version: str) -> bool:
    """Whether ``version`` is of the stateless era (2026-07-28 and later).

    Versions are dates, so an unknown later version counts as modern.
    """
    return version >= MODERN_PROTOCOL_VERSIONS[-1]


def is_legacy(version: str) -> bool:
    """Whether ``version`` is of the session era (``initialize``; 2025-11-25 and earlier)."""
    return not is_modern(version)


_V = PROTOCOL_VERSIONS[::-1]  # oldest first

# The first and the last version of every definition name (from the official schemas).
_LIFETIMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("2024-11-05", "2024-11-05"): ("Annotated",),
    ("2024-11-05", "2025-03-26"): ("ResourceReference",),
    ("2024-11-05", "2025-06-18"): ("JSONRPCError",),
    ("2024-11-05", "2025-11-25"): (
        "InitializeRequest", "InitializeResult", "InitializedNotification", "PingRequest",
        "RootsListChangedNotification", "ServerRequest", "SetLevelRequest",
        "SubscribeRequest", "UnsubscribeRequest",
    ),
    ("2024-11-05", "2026-07-28"): (
        "BlobResourceContents", "CallToolRequest", "CallToolResult", "CancelledNotification",
        "ClientCapabilities", "ClientNotification", "ClientRequest", "ClientResult",
        "CompleteRequest", "CompleteResult", "CreateMessageRequest", "CreateMessageResult",
        "Cursor", "EmbeddedResource", "EmptyResult", "GetPromptRequest", "GetPromptResult",
        "ImageContent", "Implementation", "JSONRPCMessage", "JSONRPCNotification",
        "JSONRPCRequest", "JSONRPCResponse", "ListPromptsRequest", "ListPromptsResult",
        "ListResourceTemplatesRequest", "ListResourceTemplatesResult", "ListResourcesRequest",
        "ListResourcesResult", "ListRootsRequest", "ListRootsResult", "ListToolsRequest",
        "ListToolsResult", "LoggingLevel", "LoggingMessageNotification", "ModelHint",
        "ModelPreferences", "Notification", "PaginatedRequest", "PaginatedResult",
        "ProgressNotification", "ProgressToken", "Prompt", "PromptArgument",
        "PromptListChangedNotification", "PromptMessage", "PromptReference",
        "ReadResourceRequest", "ReadResourceResult", "Request", "RequestId", "Resource",
        "ResourceContents", "ResourceListChangedNotification", "ResourceTemplate",
        "ResourceUpdatedNotification", "Result", "Role", "Root", "SamplingMessage",
        "ServerCapabilities", "ServerNotification", "ServerResult", "TextContent",
        "TextResourceContents", "Tool", "ToolListChangedNotification",
    ),
    ("2025-03-26", "2025-03-26"): ("JSONRPCBatchRequest", "JSONRPCBatchResponse"),
    ("2025-03-26", "2026-07-28"): ("Annotations", "AudioContent", "ToolAnnotations"),
    ("2025-06-18", "2026-07-28"): (
        "BaseMetadata", "BooleanSchema", "ContentBlock", "ElicitRequest", "ElicitResult",
        "EnumSchema", "NumberSchema", "PrimitiveSchemaDefinition", "ResourceLink",
        "ResourceTemplateReference", "StringSchema",
    ),
    ("2025-11-25", "2025-11-25"): (
        "CancelTaskRequest", "CancelTaskResult", "CreateTaskResult",
        "ElicitationCompleteNotification", "GetTaskPayloadRequest", "GetTaskPayloadResult",
        "GetTaskRequest", "GetTaskResult", "InitializeRequestParams", "ListTasksRequest",
        "ListTasksResult", "RelatedTaskMetadata", "SetLevelRequestParams",
        "SubscribeRequestParams", "Task", "TaskAugmentedRequestParams", "TaskMetadata",
        "TaskStatus", "TaskStatusNotification", "TaskStatusNotificationParams",
        "ToolExecution", "URLElicitationRequiredError", "UnsubscribeRequestParams",
    ),
    ("2025-11-25", "2026-07-28"): (
        "CallToolRequestParams", "CancelledNotificationParams", "CompleteRequestParams",
        "CreateMessageRequestParams", "ElicitRequestFormParams", "ElicitRequestParams",
        "ElicitRequestURLParams", "Error", "GetPromptRequestParams", "Icon", "Icons",
        "JSONRPCErrorResponse", "JSONRPCResultResponse", "LegacyTitledEnumSchema",
        "LoggingMessageNotificationParams", "MultiSelectEnumSchema", "NotificationParams",
        "PaginatedRequestParams", "ProgressNotificationParams", "ReadResourceRequestParams",
        "RequestParams", "ResourceRequestParams", "ResourceUpdatedNotificationParams",
        "SamplingMessageContentBlock", "SingleSelectEnumSchema",
        "TitledMultiSelectEnumSchema", "TitledSingleSelectEnumSchema", "ToolChoice",
        "ToolResultContent", "ToolUseContent", "UntitledMultiSelectEnumSchema",
        "UntitledSingleSelectEnumSchema",
    ),
    ("2026-07-28", "2026-07-28"): (
        "CacheableResult", "CallToolResultResponse", "CompleteResultResponse",
        "DiscoverRequest", "DiscoverResult", "DiscoverResultResponse",
        "GetPromptResultResponse", "HeaderMismatchError", "InputRequest", "InputRequests",
        "InputRequiredResult", "InputResponse", "InputResponseRequestParams",
        "InputResponses", "InternalError", "InvalidParamsError", "InvalidRequestError",
        "JSONArray", "JSONObject", "JSONValue", "ListPromptsResultResponse",
        "ListResourceTemplatesResultResponse", "ListResourcesResultResponse",
        "ListToolsResultResponse", "MetaObject", "MethodNotFoundError",
        "MissingRequiredClientCapabilityError", "NotificationMetaObject", "ParseError",
        "ReadResourceResultResponse", "RequestMetaObject", "ResultMetaObject", "ResultType",
        "SubscriptionFilter", "SubscriptionsAcknowledgedNotification",
        "SubscriptionsAcknowledgedNotificationParams", "SubscriptionsListenRequest",
        "SubscriptionsListenRequestParams", "SubscriptionsListenResult",
        "SubscriptionsListenResultMetaObject", "SubscriptionsListenResultResponse",
        "UnsupportedProtocolVersionError",
    ),
}  # fmt: skip


def _overrides() -> dict[str, dict[str, object]]:
    """The definitions whose Python type differs between versions."""
    import fastmcp_protocol as p

    legacy_client_requests = (
        p.InitializeRequest
        | p.PingRequest
        | p.ListResourcesRequest
        | p.ListResourceTemplatesRequest
        | p.ReadResourceRequest
        | p.SubscribeRequest
        | p.UnsubscribeRequest
        | p.ListPromptsRequest
        | p.GetPromptRequest
        | p.ListToolsRequest
        | p.CallToolRequest
        | p.SetLevelRequest
        | p.CompleteRequest
    )
    task_requests = (
        p.GetTaskRequest | p.GetTaskPayloadRequest | p.CancelTaskRequest | p.ListTasksRequest
    )
    task_results = p.GetTaskResult | p.GetTaskPayloadResult | p.CancelTaskResult | p.ListTasksResult
    legacy_client_notifications = (
        p.CancelledNotification
        | p.InitializedNotification
        | p.ProgressNotification
        | p.RootsListChangedNotification
    )
    legacy_server_notifications = (
        p.CancelledNotification
        | p.ProgressNotification
        | p.ResourceListChangedNotification
        | p.ResourceUpdatedNotification
        | p.PromptListChangedNotification
        | p.ToolListChangedNotification
        | p.LoggingMessageNotification
    )
    legacy_server_results = (
        p.Result
        | p.InitializeResult
        | p.ListResourcesResult
        | p.ListResourceTemplatesResult
        | p.ReadResourceResult
        | p.ListPromptsResult
        | p.GetPromptResult
        | p.ListToolsResult
        | p.CallToolResult
        | p.CompleteResult
    )
    first: dict[str, object] = {
        "JSONRPCResponse": p.JSONRPCResultResponse,
        "ClientRequest": legacy_client_requests,
        "ClientNotification": legacy_client_notifications,
        "ClientResult": p.Result | p.CreateMessageResult | p.ListRootsResult,
        "ServerRequest": p.PingRequest | p.CreateMessageRequest | p.ListRootsRequest,
        "ServerNotification": legacy_server_notifications,
        "ServerResult": legacy_server_results,
    }
    v2025_06 = {
        **first,
        "ClientResult": p.Result | p.CreateMessageResult | p.ListRootsResult | p.ElicitResult,
        "ServerRequest": (
            p.PingRequest | p.CreateMessageRequest | p.ListRootsRequest | p.ElicitRequest
        ),
        "EnumSchema": p.LegacyTitledEnumSchema,
        "PrimitiveSchemaDefinition": (
            p.StringSchema | p.NumberSchema | p.BooleanSchema | p.LegacyTitledEnumSchema
        ),
    }
    v2025_11 = {
        "ClientRequest": legacy_client_requests | task_requests,
        "ClientNotification": legacy_client_notifications | p.TaskStatusNotification,
        "ClientResult": (
            p.Result | task_results | p.CreateMessageResult | p.ListRootsResult | p.ElicitResult
        ),
        "ServerNotification": (
            legacy_server_notifications
            | p.TaskStatusNotification
            | p.ElicitationCompleteNotification
        ),
        "ServerResult": legacy_server_results | task_results,
        "JSONRPCMessage": p.JSONRPCRequest | p.JSONRPCNotification | p.JSONRPCResponse,
    }
    return {
        "2024-11-05": first,
        "2025-03-26": {
            **first,
            "JSONRPCMessage": (p.JSONRPCMessage | p.JSONRPCBatchRequest | p.JSONRPCBatchResponse),
        },
        "2025-06-18": v2025_06,
        "2025-11-25": v2025_11,
        "2026-07-28": {},
    }


@cache
def schema_definitions(version: str) -> Mapping[str, Any]:
    """Every definition of ``version``'s official schema, by name, to its Python type.

    Raises ``KeyError`` for a version that was never released.
    """
    import fastmcp_protocol as p

    if version not in PROTOCOL_VERSIONS:
        raise KeyError(f"unknown protocol version {version!r}")
    at = _V.index(version)
    overrides = _overrides()[version]
    out: dict[str, Any] = {}
    for (first, last), names in _LIFETIMES.items():
        if _V.index(first) <= at <= _V.index(last):
            for name in names:
                out[name] = overrides.get(name, getattr(p, name))
    return out
