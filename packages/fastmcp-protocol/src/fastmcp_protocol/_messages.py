"""Every MCP request, result and notification, with their params, section by section.

Shapes are the newest released schema's, widened to accept what older versions send:
a member that only one era knows is optional here (``task`` params exist only in
2025-11-25, ``inputResponses``/``requestState`` only from 2026-07-28). What each
version may actually *send* is decided in one place, ``_eras``; which definitions
each version has is listed in ``_versions``.

Typed requests and notifications are tagged on ``method``, so a union of them (say
``ClientRequest``) decodes in one pass. Untagged unions on the wire (text-or-blob
contents, form-or-URL elicitation, the three input responses, "complete or input
required" results) are typed through run-time marker classes that the codec's
decode hook resolves; type checkers see the plain unions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from fastmcp_protocol._base import (
    UNSET,
    Annotations,
    Icon,
    Implementation,
    LoggingLevel,
    MessageStruct,
    MetaObject,
    ModelPreferences,
    ProgressToken,
    RequestId,
    Role,
    UnsetType,
    WireStruct,
    field,
)
from fastmcp_protocol._capabilities import ClientCapabilities, ServerCapabilities
from fastmcp_protocol._content import (
    AnyResourceContents,
    ContentBlock,
    SamplingMessageContentBlock,
)
from fastmcp_protocol._jsonrpc import (
    CacheableResult,
    NotificationParams,
    PaginatedRequestParams,
    PaginatedResult,
    RequestParams,
    Result,
)

__all__ = [
    "BooleanSchema",
    "CallToolRequest",
    "CallToolRequestParams",
    "CallToolResult",
    "CallToolResultResponse",
    "CancelTaskRequest",
    "CancelTaskResult",
    "CancelledNotification",
    "CancelledNotificationParams",
    "ClientNotification",
    "ClientRequest",
    "ClientResult",
    "CompleteArgument",
    "CompleteContext",
    "CompleteRequest",
    "CompleteRequestParams",
    "CompleteResult",
    "CompleteResultResponse",
    "Completion",
    "CreateMessageRequest",
    "CreateMessageRequestParams",
    "CreateMessageResult",
    "CreateTaskResult",
    "DiscoverRequest",
    "DiscoverResult",
    "DiscoverResultResponse",
    "ElicitRequest",
    "ElicitRequestFormParams",
    "ElicitRequestParams",
    "ElicitRequestURLParams",
    "ElicitRequestedSchema",
    "ElicitResult",
    "ElicitationCompleteNotification",
    "ElicitationCompleteParams",
    "EnumOption",
    "EnumSchema",
    "GetPromptRequest",
    "GetPromptRequestParams",
    "GetPromptResult",
    "GetPromptResultResponse",
    "GetTaskPayloadRequest",
    "GetTaskPayloadResult",
    "GetTaskRequest",
    "GetTaskResult",
    "InitializeRequest",
    "InitializeRequestParams",
    "InitializeResult",
    "InitializedNotification",
    "InputRequest",
    "InputRequests",
    "InputRequiredResult",
    "InputResponse",
    "InputResponseRequestParams",
    "InputResponses",
    "LegacyTitledEnumSchema",
    "ListPromptsRequest",
    "ListPromptsResult",
    "ListPromptsResultResponse",
    "ListResourceTemplatesRequest",
    "ListResourceTemplatesResult",
    "ListResourceTemplatesResultResponse",
    "ListResourcesRequest",
    "ListResourcesResult",
    "ListResourcesResultResponse",
    "ListRootsRequest",
    "ListRootsResult",
    "ListTasksRequest",
    "ListTasksResult",
    "ListToolsRequest",
    "ListToolsResult",
    "ListToolsResultResponse",
    "LoggingMessageNotification",
    "LoggingMessageNotificationParams",
    "MultiSelectEnumSchema",
    "NumberSchema",
    "PingRequest",
    "PrimitiveSchemaDefinition",
    "ProgressNotification",
    "ProgressNotificationParams",
    "Prompt",
    "PromptArgument",
    "PromptListChangedNotification",
    "PromptMessage",
    "PromptOutcome",
    "PromptReference",
    "ReadOutcome",
    "ReadResourceRequest",
    "ReadResourceRequestParams",
    "ReadResourceResult",
    "ReadResourceResultResponse",
    "RelatedTaskMetadata",
    "Resource",
    "ResourceListChangedNotification",
    "ResourceReference",
    "ResourceRequestParams",
    "ResourceTemplate",
    "ResourceTemplateReference",
    "ResourceUpdatedNotification",
    "ResourceUpdatedNotificationParams",
    "Root",
    "RootsListChangedNotification",
    "SamplingMessage",
    "ServerNotification",
    "ServerRequest",
    "ServerResult",
    "SetLevelRequest",
    "SetLevelRequestParams",
    "SingleSelectEnumSchema",
    "StringSchema",
    "SubscribeRequest",
    "SubscribeRequestParams",
    "SubscriptionFilter",
    "SubscriptionsAcknowledgedNotification",
    "SubscriptionsAcknowledgedNotificationParams",
    "SubscriptionsListenRequest",
    "SubscriptionsListenRequestParams",
    "SubscriptionsListenResult",
    "SubscriptionsListenResultResponse",
    "Task",
    "TaskAugmentedRequestParams",
    "TaskIdParams",
    "TaskMetadata",
    "TaskStatus",
    "TaskStatusNotification",
    "TaskStatusNotificationParams",
    "TitledEnumItems",
    "TitledMultiSelectEnumSchema",
    "TitledSingleSelectEnumSchema",
    "Tool",
    "ToolAnnotations",
    "ToolCallOutcome",
    "ToolChoice",
    "ToolExecution",
    "ToolListChangedNotification",
    "UnsubscribeRequest",
    "UnsubscribeRequestParams",
    "UntitledEnumItems",
    "UntitledMultiSelectEnumSchema",
    "UntitledSingleSelectEnumSchema",
]

# Run-time markers for untagged unions (resolved by ``_codec``'s decode hook).


class _ElicitParamsChoice:
    __slots__ = ()


class _InputResponseChoice:
    __slots__ = ()


class _ToolCallOutcome:
    __slots__ = ()


class _PromptOutcome:
    __slots__ = ()


class _ReadOutcome:
    __slots__ = ()


# == tasks (2025-11-25; the 2026-07-28 tasks extension lives with the server) ============

TaskStatus: TypeAlias = Literal["working", "input_required", "completed", "failed", "cancelled"]
"""The status of a task."""


class TaskMetadata(WireStruct, kw_only=True, frozen=True):
    """Asks for task-augmented execution: put it in the ``task`` field of the params."""

    ttl: int | None = None


class RelatedTaskMetadata(WireStruct, kw_only=True, frozen=True):
    """Associates a message with a task (``_meta["io.modelcontextprotocol/related-task"]``)."""

    task_id: str


class Task(WireStruct, kw_only=True, frozen=True):
    """Data associated with a task. ``ttl`` is ``None`` for unlimited retention."""

    task_id: str
    status: TaskStatus
    created_at: str
    last_updated_at: str
    ttl: int | None
    status_message: str | None = None
    poll_interval: int | None = None


class TaskAugmentedRequestParams(RequestParams, kw_only=True, frozen=True):
    """Common params of a request that may run as a task."""

    task: TaskMetadata | None = None


class TaskIdParams(RequestParams, kw_only=True, frozen=True):
    """Params naming one task (``tasks/get``, ``tasks/result``, ``tasks/cancel``)."""

    task_id: str


class CreateTaskResult(Result, kw_only=True, frozen=True):
    """The immediate answer to a task-augmented request."""

    task: Task


class GetTaskRequest(MessageStruct, tag_field="method", tag="tasks/get", kw_only=True, frozen=True):
    """Asks for the state of a task."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: TaskIdParams


class GetTaskResult(Task, kw_only=True, frozen=True):
    """The answer to ``tasks/get``: the task itself, as a result."""

    meta: MetaObject | None = field(default=None, name="_meta")
    result_type: str | None = None


class GetTaskPayloadRequest(
    MessageStruct, tag_field="method", tag="tasks/result", kw_only=True, frozen=True
):
    """Asks for the result of a finished task."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: TaskIdParams


class GetTaskPayloadResult(Result, kw_only=True, frozen=True):
    """The answer to ``tasks/result``: the original request's result (open object).

    Decode the payload with the original request's result type instead.
    """


class CancelTaskRequest(
    MessageStruct, tag_field="method", tag="tasks/cancel", kw_only=True, frozen=True
):
    """Asks to cancel a task."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: TaskIdParams


class CancelTaskResult(Task, kw_only=True, frozen=True):
    """The answer to ``tasks/cancel``: the task after cancellation."""

    meta: MetaObject | None = field(default=None, name="_meta")
    result_type: str | None = None


class ListTasksRequest(
    MessageStruct, tag_field="method", tag="tasks/list", kw_only=True, frozen=True
):
    """Asks for the list of tasks."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: PaginatedRequestParams | UnsetType = UNSET


class ListTasksResult(PaginatedResult, kw_only=True, frozen=True):
    """The answer to ``tasks/list``."""

    tasks: list[Task]


class TaskStatusNotificationParams(Task, kw_only=True, frozen=True):
    """Params of ``notifications/tasks/status``: the task's new state."""

    meta: MetaObject | None = field(default=None, name="_meta")


class TaskStatusNotification(
    MessageStruct, tag_field="method", tag="notifications/tasks/status", kw_only=True, frozen=True
):
    """Tells the requestor that a task's status changed (optional to send)."""

    jsonrpc: Literal["2.0"] = "2.0"
    params: TaskStatusNotificationParams


# == tools ================================================================================


class ToolAnnotations(WireStruct, kw_only=True, frozen=True):
    """Hints describing a tool. Hints only: a client must not trust them from an
    untrusted server. Defaults when absent: read-only false, destructive true,
    idempotent false, open-world true."""

    title: str | None = None
    read_only_hint: bool | None = None
    destructive_hint: bool | None = None
    idempotent_hint: bool | None = None
    open_world_hint: bool | None = None


class ToolExecution(WireStruct, kw_only=True, frozen=True):
    """Execution-related properties of a tool (2025-11-25)."""

    task_support: Literal["forbidden", "optional", "required"] | None = None


class Tool(WireStruct, kw_only=True, frozen=True):
    """Definition of a tool the client can call.

    ``input_schema`` is a JSON Schema object with ``"type": "object"`` at its root;
    ``output_schema`` describes ``structuredContent``.
    """

    name: str
    input_schema: dict[str, Any]
    title: str | None = None
    description: str | None = None
    output_schema: dict[str, Any] | None = None
    annotations: ToolAnnotations | None = None
    icons: list[Icon] | None = None
    execution: ToolExecution | None = None
    meta: MetaObject | None = field(default=None, name="_meta")


class ListToolsRequest(
    MessageStruct, tag_field="method", tag="tools/list", kw_only=True, frozen=True
):
    """Asks for the tools the server offers."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: PaginatedRequestParams | UnsetType = UNSET


class ListToolsResult(PaginatedResult, kw_only=True, frozen=True):
    """The answer to ``tools/list``."""

    tools: list[Tool]
    ttl_ms: int | None = None
    cache_scope: Literal["private", "public"] | None = None


class CallToolRequestParams(TaskAugmentedRequestParams, kw_only=True, frozen=True):
    """Params of ``tools/call``."""

    name: str
    arguments: dict[str, Any] | None = None
    input_responses: InputResponses | None = None
    request_state: str | None = None


class CallToolRequest(
    MessageStruct, tag_field="method", tag="tools/call", kw_only=True, frozen=True
):
    """Invokes a tool."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: CallToolRequestParams


class CallToolResult(Result, _ToolCallOutcome, kw_only=True, frozen=True):
    """The result of a tool call.

    Errors that originate in the tool belong here with ``is_error=True`` so the model
    can see them; errors in *finding* the tool are JSON-RPC errors.
    """

    content: list[ContentBlock]
    structured_content: Any | UnsetType = UNSET
    is_error: bool | None = None


class ToolListChangedNotification(
    MessageStruct,
    tag_field="method",
    tag="notifications/tools/list_changed",
    kw_only=True,
    frozen=True,
):
    """The list of tools changed."""

    jsonrpc: Literal["2.0"] = "2.0"
    params: NotificationParams | UnsetType = UNSET


# == resources ============================================================================


class Resource(WireStruct, kw_only=True, frozen=True):
    """A resource the server can read."""

    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    size: int | None = None
    annotations: Annotations | None = None
    icons: list[Icon] | None = None
    meta: MetaObject | None = field(default=None, name="_meta")


class ResourceTemplate(WireStruct, kw_only=True, frozen=True):
    """A parameterised resource (RFC 6570 URI template)."""

    uri_template: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    annotations: Annotations | None = None
    icons: list[Icon] | None = None
    meta: MetaObject | None = field(default=None, name="_meta")


class ListResourcesRequest(
    MessageStruct, tag_field="method", tag="resources/list", kw_only=True, frozen=True
):
    """Asks for the resources the server offers."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: PaginatedRequestParams | UnsetType = UNSET


class ListResourcesResult(PaginatedResult, kw_only=True, frozen=True):
    """The answer to ``resources/list``."""

    resources: list[Resource]
    ttl_ms: int | None = None
    cache_scope: Literal["private", "public"] | None = None


class ListResourceTemplatesRequest(
    MessageStruct, tag_field="method", tag="resources/templates/list", kw_only=True, frozen=True
):
    """Asks for the resource templates the server offers."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: PaginatedRequestParams | UnsetType = UNSET


class ListResourceTemplatesResult(PaginatedResult, kw_only=True, frozen=True):
    """The answer to ``resources/templates/list``."""

    resource_templates: list[ResourceTemplate]
    ttl_ms: int | None = None
    cache_scope: Literal["private", "public"] | None = None


class ResourceRequestParams(RequestParams, kw_only=True, frozen=True):
    """Common params of requests about one resource."""

    uri: str


class ReadResourceRequestParams(ResourceRequestParams, kw_only=True, frozen=True):
    """Params of ``resources/read``."""

    input_responses: InputResponses | None = None
    request_state: str | None = None


class ReadResourceRequest(
    MessageStruct, tag_field="method", tag="resources/read", kw_only=True, frozen=True
):
    """Reads one resource."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: ReadResourceRequestParams


class ReadResourceResult(Result, _ReadOutcome, kw_only=True, frozen=True):
    """The answer to ``resources/read``."""

    contents: list[AnyResourceContents]
    ttl_ms: int | None = None
    cache_scope: Literal["private", "public"] | None = None


class SubscribeRequestParams(ResourceRequestParams, kw_only=True, frozen=True):
    """Params of ``resources/subscribe``."""


class SubscribeRequest(
    MessageStruct, tag_field="method", tag="resources/subscribe", kw_only=True, frozen=True
):
    """Asks for ``notifications/resources/updated`` about one resource (up to 2025-11-25)."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: SubscribeRequestParams


class UnsubscribeRequestParams(ResourceRequestParams, kw_only=True, frozen=True):
    """Params of ``resources/unsubscribe``."""


class UnsubscribeRequest(
    MessageStruct, tag_field="method", tag="resources/unsubscribe", kw_only=True, frozen=True
):
    """Ends a ``resources/subscribe`` subscription (up to 2025-11-25)."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: UnsubscribeRequestParams


class ResourceListChangedNotification(
    MessageStruct,
    tag_field="method",
    tag="notifications/resources/list_changed",
    kw_only=True,
    frozen=True,
):
    """The list of resources changed."""

    jsonrpc: Literal["2.0"] = "2.0"
    params: NotificationParams | UnsetType = UNSET


class ResourceUpdatedNotificationParams(NotificationParams, kw_only=True, frozen=True):
    """Params of ``notifications/resources/updated``."""

    uri: str


class ResourceUpdatedNotification(
    MessageStruct,
    tag_field="method",
    tag="notifications/resources/updated",
    kw_only=True,
    frozen=True,
):
    """A subscribed resource changed and may need to be read again."""

    jsonrpc: Literal["2.0"] = "2.0"
    params: ResourceUpdatedNotificationParams


# == prompts ==============================================================================


class PromptArgument(WireStruct, kw_only=True, frozen=True):
    """An argument a prompt accepts."""

    name: str
    title: str | None = None
    description: str | None = None
    required: bool | None = None


class Prompt(WireStruct, kw_only=True, frozen=True):
    """A prompt or prompt template the server offers."""

    name: str
    title: str | None = None
    description: str | None = None
    arguments: list[PromptArgument] | None = None
    icons: list[Icon] | None = None
    meta: MetaObject | None = field(default=None, name="_meta")


class PromptMessage(WireStruct, kw_only=True, frozen=True):
    """One message of a prompt."""

    role: Role
    content: ContentBlock


class ListPromptsRequest(
    MessageStruct, tag_field="method", tag="prompts/list", kw_only=True, frozen=True
):
    """Asks for the prompts the server offers."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: PaginatedRequestParams | UnsetType = UNSET


class ListPromptsResult(PaginatedResult, kw_only=True, frozen=True):
    """The answer to ``prompts/list``."""

    prompts: list[Prompt]
    ttl_ms: int | None = None
    cache_scope: Literal["private", "public"] | None = None


class GetPromptRequestParams(RequestParams, kw_only=True, frozen=True):
    """Params of ``prompts/get``."""

    name: str
    arguments: dict[str, str] | None = None
    input_responses: InputResponses | None = None
    request_state: str | None = None


class GetPromptRequest(
    MessageStruct, tag_field="method", tag="prompts/get", kw_only=True, frozen=True
):
    """Gets one prompt, filled with arguments."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: GetPromptRequestParams


class GetPromptResult(Result, _PromptOutcome, kw_only=True, frozen=True):
    """The answer to ``prompts/get``."""

    messages: list[PromptMessage]
    description: str | None = None


class PromptListChangedNotification(
    MessageStruct,
    tag_field="method",
    tag="notifications/prompts/list_changed",
    kw_only=True,
    frozen=True,
):
    """The list of prompts changed."""

    jsonrpc: Literal["2.0"] = "2.0"
    params: NotificationParams | UnsetType = UNSET


# == completion ===========================================================================


class PromptReference(WireStruct, tag_field="type", tag="ref/prompt", kw_only=True, frozen=True):
    """Identifies a prompt (completion reference)."""

    name: str
    title: str | None = None


class ResourceTemplateReference(
    WireStruct, tag_field="type", tag="ref/resource", kw_only=True, frozen=True
):
    """Identifies a resource or resource template (completion reference)."""

    uri: str


ResourceReference: TypeAlias = ResourceTemplateReference
"""The name of ``ResourceTemplateReference`` up to 2025-03-26."""


class CompleteArgument(WireStruct, kw_only=True, frozen=True):
    """The argument being completed and its partial value."""

    name: str
    value: str


class CompleteContext(WireStruct, kw_only=True, frozen=True):
    """Arguments already resolved, for context-aware completion."""

    arguments: dict[str, str] | None = None


class CompleteRequestParams(RequestParams, kw_only=True, frozen=True):
    """Params of ``completion/complete``."""

    ref: PromptReference | ResourceTemplateReference
    argument: CompleteArgument
    context: CompleteContext | None = None


class CompleteRequest(
    MessageStruct, tag_field="method", tag="completion/complete", kw_only=True, frozen=True
):
    """Asks for completion options of an argument."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: CompleteRequestParams


class Completion(WireStruct, kw_only=True, frozen=True):
    """Completion values (at most 100), with an optional total and a has-more flag."""

    values: list[str]
    total: int | None = None
    has_more: bool | None = None


class CompleteResult(Result, kw_only=True, frozen=True):
    """The answer to ``completion/complete``."""

    completion: Completion


# == logging ==============================================================================


class SetLevelRequestParams(RequestParams, kw_only=True, frozen=True):
    """Params of ``logging/setLevel``."""

    level: LoggingLevel


class SetLevelRequest(
    MessageStruct, tag_field="method", tag="logging/setLevel", kw_only=True, frozen=True
):
    """Sets the minimum level of log messages the server sends (up to 2025-11-25)."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: SetLevelRequestParams


class LoggingMessageNotificationParams(NotificationParams, kw_only=True, frozen=True):
    """Params of ``notifications/message``."""

    level: LoggingLevel
    data: Any
    logger: str | None = None


class LoggingMessageNotification(
    MessageStruct, tag_field="method", tag="notifications/message", kw_only=True, frozen=True
):
    """A log message from the server."""

    jsonrpc: Literal["2.0"] = "2.0"
    params: LoggingMessageNotificationParams


# == sampling =============================================================================


class ToolChoice(WireStruct, kw_only=True, frozen=True):
    """How the model may use the offered tools while sampling."""

    mode: Literal["auto", "required", "none"] | None = None


class SamplingMessage(WireStruct, kw_only=True, frozen=True):
    """A message to or from an LLM."""

    role: Role
    content: SamplingMessageContentBlock | list[SamplingMessageContentBlock]
    meta: MetaObject | None = field(default=None, name="_meta")


class CreateMessageRequestParams(TaskAugmentedRequestParams, kw_only=True, frozen=True):
    """Params of ``sampling/createMessage``."""

    messages: list[SamplingMessage]
    max_tokens: int
    model_preferences: ModelPreferences | None = None
    system_prompt: str | None = None
    include_context: Literal["none", "thisServer", "allServers"] | None = None
    temperature: float | None = None
    stop_sequences: list[str] | None = None
    metadata: dict[str, Any] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None


class CreateMessageRequest(
    MessageStruct, tag_field="method", tag="sampling/createMessage", kw_only=True, frozen=True
):
    """Asks the client to sample an LLM.

    A JSON-RPC request up to 2025-11-25; from 2026-07-28 an input request inside an
    ``InputRequiredResult``, where ``jsonrpc`` and ``id`` are absent.
    """

    jsonrpc: Literal["2.0"] | UnsetType = UNSET
    id: RequestId | UnsetType = UNSET
    params: CreateMessageRequestParams


class CreateMessageResult(Result, _InputResponseChoice, kw_only=True, frozen=True):
    """The client's answer to ``sampling/createMessage``."""

    role: Role
    content: SamplingMessageContentBlock | list[SamplingMessageContentBlock]
    model: str
    stop_reason: str | None = None


# == elicitation ==========================================================================


class StringSchema(WireStruct, tag_field="type", tag="string", kw_only=True, frozen=True):
    """A string field of an elicitation form."""

    title: str | None = None
    description: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    format: Literal["email", "uri", "date", "date-time"] | None = None
    default: str | None = None


class NumberSchema(WireStruct, kw_only=True, frozen=True):
    """A number or integer field of an elicitation form."""

    type: Literal["number", "integer"]
    title: str | None = None
    description: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    default: float | None = None


class BooleanSchema(WireStruct, tag_field="type", tag="boolean", kw_only=True, frozen=True):
    """A boolean field of an elicitation form."""

    title: str | None = None
    description: str | None = None
    default: bool | None = None


class UntitledSingleSelectEnumSchema(
    WireStruct, tag_field="type", tag="string", kw_only=True, frozen=True
):
    """Single choice among plain values."""

    enum: list[str]
    title: str | None = None
    description: str | None = None
    default: str | None = None


class EnumOption(WireStruct, kw_only=True, frozen=True):
    """One option of a titled enum: its value and display title."""

    const: str
    title: str


class TitledSingleSelectEnumSchema(
    WireStruct, tag_field="type", tag="string", kw_only=True, frozen=True
):
    """Single choice among options with display titles."""

    one_of: list[EnumOption]
    title: str | None = None
    description: str | None = None
    default: str | None = None


class UntitledEnumItems(WireStruct, tag_field="type", tag="string", kw_only=True, frozen=True):
    """The item schema of a multiple choice among plain values."""

    enum: list[str]


class UntitledMultiSelectEnumSchema(
    WireStruct, tag_field="type", tag="array", kw_only=True, frozen=True
):
    """Multiple choice among plain values."""

    items: UntitledEnumItems
    title: str | None = None
    description: str | None = None
    min_items: int | None = None
    max_items: int | None = None
    default: list[str] | None = None


class TitledEnumItems(WireStruct, kw_only=True, frozen=True):
    """The item schema of a multiple choice among titled options."""

    any_of: list[EnumOption]


class TitledMultiSelectEnumSchema(
    WireStruct, tag_field="type", tag="array", kw_only=True, frozen=True
):
    """Multiple choice among options with display titles."""

    items: TitledEnumItems
    title: str | None = None
    description: str | None = None
    min_items: int | None = None
    max_items: int | None = None
    default: list[str] | None = None


class LegacyTitledEnumSchema(WireStruct, tag_field="type", tag="string", kw_only=True, frozen=True):
    """Single choice with ``enumNames`` titles (deprecated; ``EnumSchema`` in 2025-06-18)."""

    enum: list[str]
    enum_names: list[str] | None = None
    title: str | None = None
    description: str | None = None
    default: str | None = None


SingleSelectEnumSchema: TypeAlias = UntitledSingleSelectEnumSchema | TitledSingleSelectEnumSchema
MultiSelectEnumSchema: TypeAlias = UntitledMultiSelectEnumSchema | TitledMultiSelectEnumSchema
EnumSchema: TypeAlias = SingleSelectEnumSchema | MultiSelectEnumSchema | LegacyTitledEnumSchema
PrimitiveSchemaDefinition: TypeAlias = StringSchema | NumberSchema | BooleanSchema | EnumSchema
"""A flat field of an elicitation form. Several members share ``"type": "string"``, so
forms are decoded as plain dicts (``ElicitRequestedSchema.properties``) and these
structs are for building them."""


class ElicitRequestedSchema(WireStruct, tag_field="type", tag="object", kw_only=True, frozen=True):
    """The restricted JSON Schema of an elicitation form: flat primitive properties."""

    properties: dict[str, Any]
    required: list[str] | None = None
    schema: str | None = field(default=None, name="$schema")


class ElicitRequestFormParams(
    TaskAugmentedRequestParams,
    _ElicitParamsChoice,
    tag_field="mode",
    tag="form",
    kw_only=True,
    frozen=True,
):
    """Params of a form-mode elicitation. Decoding accepts a missing ``mode``
    (the 2025-06-18 shape); encoding always writes ``"mode": "form"``."""

    message: str
    requested_schema: ElicitRequestedSchema


class ElicitRequestURLParams(
    TaskAugmentedRequestParams,
    _ElicitParamsChoice,
    tag_field="mode",
    tag="url",
    kw_only=True,
    frozen=True,
):
    """Params of a URL-mode elicitation (2025-11-25 and later).

    ``elicitation_id`` is required in 2025-11-25 and absent from 2026-07-28 on.
    """

    message: str
    url: str
    elicitation_id: str | None = None


if TYPE_CHECKING:
    ElicitRequestParams: TypeAlias = ElicitRequestFormParams | ElicitRequestURLParams
else:
    ElicitRequestParams = _ElicitParamsChoice


class ElicitRequest(
    MessageStruct, tag_field="method", tag="elicitation/create", kw_only=True, frozen=True
):
    """Asks the client to elicit information from its user.

    A JSON-RPC request up to 2025-11-25; from 2026-07-28 an input request inside an
    ``InputRequiredResult``, where ``jsonrpc`` and ``id`` are absent.
    """

    jsonrpc: Literal["2.0"] | UnsetType = UNSET
    id: RequestId | UnsetType = UNSET
    params: ElicitRequestParams


class ElicitResult(Result, _InputResponseChoice, kw_only=True, frozen=True):
    """The client's answer to an elicitation."""

    action: Literal["accept", "decline", "cancel"]
    content: dict[str, str | int | float | bool | list[str]] | None = None


class ElicitationCompleteParams(NotificationParams, kw_only=True, frozen=True):
    """Params of ``notifications/elicitation/complete``."""

    elicitation_id: str


class ElicitationCompleteNotification(
    MessageStruct,
    tag_field="method",
    tag="notifications/elicitation/complete",
    kw_only=True,
    frozen=True,
):
    """A URL-mode elicitation finished out of band (2025-11-25)."""

    jsonrpc: Literal["2.0"] = "2.0"
    params: ElicitationCompleteParams


# == roots ================================================================================


class Root(WireStruct, kw_only=True, frozen=True):
    """A root directory or file the server may operate on (a ``file://`` URI)."""

    uri: str
    name: str | None = None
    meta: MetaObject | None = field(default=None, name="_meta")


class ListRootsRequest(
    MessageStruct, tag_field="method", tag="roots/list", kw_only=True, frozen=True
):
    """Asks the client for its roots (an input request from 2026-07-28 on)."""

    jsonrpc: Literal["2.0"] | UnsetType = UNSET
    id: RequestId | UnsetType = UNSET
    params: RequestParams | UnsetType = UNSET


class ListRootsResult(Result, _InputResponseChoice, kw_only=True, frozen=True):
    """The client's answer to ``roots/list``."""

    roots: list[Root]


class RootsListChangedNotification(
    MessageStruct,
    tag_field="method",
    tag="notifications/roots/list_changed",
    kw_only=True,
    frozen=True,
):
    """The client's roots changed (up to 2025-11-25)."""

    jsonrpc: Literal["2.0"] = "2.0"
    params: NotificationParams | UnsetType = UNSET


# == multi round-trip requests (2026-07-28) ===============================================

InputRequest: TypeAlias = CreateMessageRequest | ListRootsRequest | ElicitRequest
"""A request the server needs the client to fulfil before it retries (tagged on method)."""

InputRequests: TypeAlias = dict[str, InputRequest]
"""Server-assigned keys to input requests."""

if TYPE_CHECKING:
    InputResponse: TypeAlias = CreateMessageResult | ListRootsResult | ElicitResult
else:
    InputResponse = _InputResponseChoice

InputResponses: TypeAlias = dict[str, InputResponse]
"""The client's results, under the keys of the ``InputRequests`` they answer."""


class InputRequiredResult(
    Result, _ToolCallOutcome, _PromptOutcome, _ReadOutcome, kw_only=True, frozen=True
):
    """The request needs more input; retry it with ``inputResponses`` and ``requestState``.

    At least one of the two fields is present.
    """

    input_requests: InputRequests | None = None
    request_state: str | None = None


class InputResponseRequestParams(RequestParams, kw_only=True, frozen=True):
    """The retry fields a client adds to the params of the original request."""

    input_responses: InputResponses | None = None
    request_state: str | None = None


# == lifecycle ============================================================================


class InitializeRequestParams(RequestParams, kw_only=True, frozen=True):
    """Params of ``initialize``."""

    protocol_version: str
    capabilities: ClientCapabilities
    client_info: Implementation


class InitializeRequest(
    MessageStruct, tag_field="method", tag="initialize", kw_only=True, frozen=True
):
    """Opens a legacy session (up to 2025-11-25)."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: InitializeRequestParams


class InitializeResult(Result, kw_only=True, frozen=True):
    """The answer to ``initialize``: the chosen version and what the server offers."""

    protocol_version: str
    capabilities: ServerCapabilities
    server_info: Implementation
    instructions: str | None = None


class InitializedNotification(
    MessageStruct, tag_field="method", tag="notifications/initialized", kw_only=True, frozen=True
):
    """The client finished initialization (up to 2025-11-25)."""

    jsonrpc: Literal["2.0"] = "2.0"
    params: NotificationParams | UnsetType = UNSET


class PingRequest(MessageStruct, tag_field="method", tag="ping", kw_only=True, frozen=True):
    """Checks that the other side is alive (up to 2025-11-25)."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: RequestParams | UnsetType = UNSET


class DiscoverRequest(
    MessageStruct, tag_field="method", tag="server/discover", kw_only=True, frozen=True
):
    """Asks the server for its versions, capabilities and instructions (2026-07-28)."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: RequestParams


class DiscoverResult(CacheableResult, kw_only=True, frozen=True):
    """The answer to ``server/discover``."""

    supported_versions: list[str]
    capabilities: ServerCapabilities
    instructions: str | None = None


# == subscriptions (2026-07-28) ===========================================================


class SubscriptionFilter(WireStruct, kw_only=True, frozen=True):
    """The notification types a ``subscriptions/listen`` stream opts in to."""

    tools_list_changed: bool | None = None
    prompts_list_changed: bool | None = None
    resources_list_changed: bool | None = None
    resource_subscriptions: list[str] | None = None


class SubscriptionsListenRequestParams(RequestParams, kw_only=True, frozen=True):
    """Params of ``subscriptions/listen``."""

    notifications: SubscriptionFilter


class SubscriptionsListenRequest(
    MessageStruct, tag_field="method", tag="subscriptions/listen", kw_only=True, frozen=True
):
    """Opens a long-lived stream of notifications."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    params: SubscriptionsListenRequestParams


class SubscriptionsListenResult(Result, kw_only=True, frozen=True):
    """Sent when the server ends a subscription gracefully; ``_meta`` names the stream."""

    meta: MetaObject = field(name="_meta")


class SubscriptionsAcknowledgedNotificationParams(NotificationParams, kw_only=True, frozen=True):
    """Params of ``notifications/subscriptions/acknowledged``."""

    notifications: SubscriptionFilter


class SubscriptionsAcknowledgedNotification(
    MessageStruct,
    tag_field="method",
    tag="notifications/subscriptions/acknowledged",
    kw_only=True,
    frozen=True,
):
    """The server agreed to a subscription and says which notifications it will send."""

    jsonrpc: Literal["2.0"] = "2.0"
    params: SubscriptionsAcknowledgedNotificationParams


# == cancellation and progress ============================================================


class CancelledNotificationParams(NotificationParams, kw_only=True, frozen=True):
    """Params of ``notifications/cancelled``."""

    request_id: RequestId | None = None
    reason: str | None = None


class CancelledNotification(
    MessageStruct, tag_field="method", tag="notifications/cancelled", kw_only=True, frozen=True
):
    """Cancels a request the sender issued earlier (no response is sent for it)."""

    jsonrpc: Literal["2.0"] = "2.0"
    params: CancelledNotificationParams


class ProgressNotificationParams(NotificationParams, kw_only=True, frozen=True):
    """Params of ``notifications/progress``."""

    progress_token: ProgressToken
    progress: float
    total: float | None = None
    message: str | None = None


class ProgressNotification(
    MessageStruct, tag_field="method", tag="notifications/progress", kw_only=True, frozen=True
):
    """Progress of a long-running request that asked for it with a progress token."""

    jsonrpc: Literal["2.0"] = "2.0"
    params: ProgressNotificationParams


# == typed responses (2026-07-28 names them per method) ===================================

if TYPE_CHECKING:
    ToolCallOutcome: TypeAlias = CallToolResult | InputRequiredResult
    PromptOutcome: TypeAlias = GetPromptResult | InputRequiredResult
    ReadOutcome: TypeAlias = ReadResourceResult | InputRequiredResult
else:
    ToolCallOutcome = _ToolCallOutcome
    PromptOutcome = _PromptOutcome
    ReadOutcome = _ReadOutcome


class CallToolResultResponse(MessageStruct, kw_only=True, frozen=True):
    """A successful response to ``tools/call``."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    result: ToolCallOutcome


class GetPromptResultResponse(MessageStruct, kw_only=True, frozen=True):
    """A successful response to ``prompts/get``."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    result: PromptOutcome


class ReadResourceResultResponse(MessageStruct, kw_only=True, frozen=True):
    """A successful response to ``resources/read``."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    result: ReadOutcome


class ListToolsResultResponse(MessageStruct, kw_only=True, frozen=True):
    """A successful response to ``tools/list``."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    result: ListToolsResult


class ListResourcesResultResponse(MessageStruct, kw_only=True, frozen=True):
    """A successful response to ``resources/list``."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    result: ListResourcesResult


class ListResourceTemplatesResultResponse(MessageStruct, kw_only=True, frozen=True):
    """A successful response to ``resources/templates/list``."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    result: ListResourceTemplatesResult


class ListPromptsResultResponse(MessageStruct, kw_only=True, frozen=True):
    """A successful response to ``prompts/list``."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    result: ListPromptsResult


class CompleteResultResponse(MessageStruct, kw_only=True, frozen=True):
    """A successful response to ``completion/complete``."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    result: CompleteResult


class DiscoverResultResponse(MessageStruct, kw_only=True, frozen=True):
    """A successful response to ``server/discover``."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    result: DiscoverResult


class SubscriptionsListenResultResponse(MessageStruct, kw_only=True, frozen=True):
    """The final response of a ``subscriptions/listen`` stream."""

    jsonrpc: Literal["2.0"] = "2.0"
    id: RequestId
    result: SubscriptionsListenResult


# == unions by direction (newest release; older ones in ``_versions``) ====================

ClientRequest: TypeAlias = (
    DiscoverRequest
    | ListResourcesRequest
    | ListResourceTemplatesRequest
    | ReadResourceRequest
    | SubscriptionsListenRequest
    | ListPromptsRequest
    | GetPromptRequest
    | ListToolsRequest
    | CallToolRequest
    | CompleteRequest
)
"""Every request a client may send (2026-07-28)."""

ClientNotification: TypeAlias = CancelledNotification
"""Every notification a client may send (2026-07-28)."""

ClientResult: TypeAlias = Result
"""Every result a client may send (2026-07-28: none but the empty result)."""

ServerNotification: TypeAlias = (
    CancelledNotification
    | ProgressNotification
    | ResourceListChangedNotification
    | SubscriptionsAcknowledgedNotification
    | ResourceUpdatedNotification
    | PromptListChangedNotification
    | ToolListChangedNotification
    | LoggingMessageNotification
)
"""Every notification a server may send (2026-07-28)."""

ServerResult: TypeAlias = (
    Result
    | InputRequiredResult
    | DiscoverResult
    | ListResourcesResult
    | ListResourceTemplatesResult
    | ReadResourceResult
    | SubscriptionsListenResult
    | ListPromptsResult
    | GetPromptResult
    | ListToolsResult
    | CallToolResult
    | CompleteResult
)
"""Every result a server may send (2026-07-28). A typing alias: decode by method."""

ServerRequest: TypeAlias = (
    PingRequest
    | GetTaskRequest
    | GetTaskPayloadRequest
    | CancelTaskRequest
    | ListTasksRequest
    | CreateMessageRequest
    | ListRootsRequest
    | ElicitRequest
)
"""Every request a server may send (2025-11-25; 2026-07-28 has none)."""
