"""Every method and notification, encoded for every version it exists in, is valid there.

For each row of the method table and each version in which the method travels as a
JSON-RPC message: build a representative message in the newest shape, shape it for
that version (``_meta`` for modern requests, ``prepare_result`` for results), encode
it, validate the JSON against the official schema of that version, and decode it
back to the same value.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from protocol_schemas import definitions, validate

import fastmcp_protocol as p

SERVER = p.Implementation(name="example-server", version="1.2.3", title="Example")
CLIENT = p.Implementation(name="example-client", version="0.9")
CAPS = p.ClientCapabilities(
    roots=p.RootsCapability(list_changed=True),
    sampling=p.SamplingCapability(),
    elicitation=p.ElicitationCapability(form={}, url={}),
)

ICON = p.Icon(src="https://example.com/icon.png", mime_type="image/png", sizes=["48x48"])
ANNOTATIONS = p.Annotations(audience=["user", "assistant"], priority=0.5)
PNG = "iVBORw0KGgo="
WAV = "UklGRg=="

TOOL = p.Tool(
    name="get_weather",
    title="Weather",
    description="Current weather for a city.",
    input_schema={
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}},
        "required": ["city"],
    },
    output_schema={
        "type": "object",
        "properties": {"celsius": {"type": "number"}},
        "required": ["celsius"],
    },
    annotations=p.ToolAnnotations(read_only_hint=True, open_world_hint=True),
    icons=[ICON],
    meta={"com.example/owner": "weather-team"},
)

RICH_CONTENT: list[p.ContentBlock] = [
    p.TextContent(text="It is 21 °C in Paris.", annotations=ANNOTATIONS),
    p.ImageContent(data=PNG, mime_type="image/png"),
    p.AudioContent(data=WAV, mime_type="audio/wav"),
    p.ResourceLink(uri="file:///forecast.md", name="forecast", mime_type="text/markdown"),
    p.EmbeddedResource(resource=p.TextResourceContents(uri="weather://paris", text="21 °C")),
    p.EmbeddedResource(
        resource=p.BlobResourceContents(uri="weather://map", blob=PNG, mime_type="image/png")
    ),
]

SAMPLING_MESSAGES = [
    p.SamplingMessage(role="user", content=p.TextContent(text="What is the capital of France?")),
    p.SamplingMessage(role="assistant", content=p.ImageContent(data=PNG, mime_type="image/png")),
]

FORM = p.ElicitRequestedSchema(
    properties={
        "name": p.StringSchema(title="Name", min_length=1),
        "age": p.NumberSchema(type="integer", minimum=0),
        "subscribe": p.BooleanSchema(description="Send me news"),
        "colour": p.LegacyTitledEnumSchema(enum=["r", "g"], enum_names=["Red", "Green"]),
    },
    required=["name"],
)

TASK = p.Task(
    task_id="task-1",
    status="working",
    created_at="2025-11-25T10:00:00Z",
    last_updated_at="2025-11-25T10:00:05Z",
    ttl=60_000,
    poll_interval=500,
    status_message="Halfway",
)

# method -> (params, result); result None for notifications
EXAMPLES: dict[str, tuple[Any, Any]] = {
    "initialize": (
        p.InitializeRequestParams(
            protocol_version="2025-11-25", capabilities=CAPS, client_info=CLIENT
        ),
        p.InitializeResult(
            protocol_version="2025-11-25",
            capabilities=p.ServerCapabilities(
                tools=p.ToolsCapability(list_changed=True),
                resources=p.ResourcesCapability(subscribe=True, list_changed=True),
                prompts=p.PromptsCapability(list_changed=False),
                logging={},
                completions={},
            ),
            server_info=SERVER,
            instructions="Ask me about the weather.",
        ),
    ),
    "ping": (p.RequestParams(), p.Result()),
    "server/discover": (
        p.RequestParams(),
        p.DiscoverResult(
            supported_versions=["2026-07-28"],
            capabilities=p.ServerCapabilities(tools=p.ToolsCapability(), extensions={}),
            instructions="Ask me about the weather.",
        ),
    ),
    "tools/list": (
        p.PaginatedRequestParams(cursor="c1"),
        p.ListToolsResult(tools=[TOOL], next_cursor="c2"),
    ),
    "tools/call": (
        p.CallToolRequestParams(name="get_weather", arguments={"city": "Paris"}),
        p.CallToolResult(content=RICH_CONTENT, structured_content={"celsius": 21}),
    ),
    "resources/list": (
        p.PaginatedRequestParams(),
        p.ListResourcesResult(
            resources=[
                p.Resource(
                    uri="weather://paris",
                    name="paris",
                    title="Paris weather",
                    mime_type="text/plain",
                    size=5,
                    annotations=ANNOTATIONS,
                    icons=[ICON],
                )
            ]
        ),
    ),
    "resources/templates/list": (
        p.PaginatedRequestParams(),
        p.ListResourceTemplatesResult(
            resource_templates=[
                p.ResourceTemplate(
                    uri_template="weather://{city}", name="city", mime_type="text/plain"
                )
            ]
        ),
    ),
    "resources/read": (
        p.ReadResourceRequestParams(uri="weather://paris"),
        p.ReadResourceResult(
            contents=[
                p.TextResourceContents(uri="weather://paris", text="21 °C", mime_type="text/plain"),
                p.BlobResourceContents(uri="weather://map", blob=PNG, mime_type="image/png"),
            ]
        ),
    ),
    "resources/subscribe": (p.SubscribeRequestParams(uri="weather://paris"), p.Result()),
    "resources/unsubscribe": (p.UnsubscribeRequestParams(uri="weather://paris"), p.Result()),
    "subscriptions/listen": (
        p.SubscriptionsListenRequestParams(
            notifications=p.SubscriptionFilter(
                tools_list_changed=True, resource_subscriptions=["weather://paris"]
            )
        ),
        p.SubscriptionsListenResult(meta={p.META_SUBSCRIPTION_ID: 5}),
    ),
    "prompts/list": (
        p.PaginatedRequestParams(),
        p.ListPromptsResult(
            prompts=[
                p.Prompt(
                    name="greet",
                    title="Greeting",
                    description="Greets someone",
                    arguments=[p.PromptArgument(name="who", required=True, description="Name")],
                )
            ]
        ),
    ),
    "prompts/get": (
        p.GetPromptRequestParams(name="greet", arguments={"who": "Ada"}),
        p.GetPromptResult(
            description="A greeting",
            messages=[p.PromptMessage(role="user", content=block) for block in RICH_CONTENT]
            + [p.PromptMessage(role="assistant", content=p.TextContent(text="Hello Ada!"))],
        ),
    ),
    "completion/complete": (
        p.CompleteRequestParams(
            ref=p.PromptReference(name="greet"),
            argument=p.CompleteArgument(name="who", value="A"),
            context=p.CompleteContext(arguments={"lang": "en"}),
        ),
        p.CompleteResult(completion=p.Completion(values=["Ada", "Alan"], total=2, has_more=False)),
    ),
    "logging/setLevel": (p.SetLevelRequestParams(level="warning"), p.Result()),
    "tasks/get": (
        p.TaskIdParams(task_id="task-1"),
        p.GetTaskResult(**msgspec.structs.asdict(TASK)),
    ),
    "tasks/result": (p.TaskIdParams(task_id="task-1"), p.GetTaskPayloadResult()),
    "tasks/cancel": (
        p.TaskIdParams(task_id="task-1"),
        p.CancelTaskResult(**{**msgspec.structs.asdict(TASK), "status": "cancelled"}),
    ),
    "tasks/list": (p.PaginatedRequestParams(), p.ListTasksResult(tasks=[TASK])),
    "sampling/createMessage": (
        p.CreateMessageRequestParams(
            messages=SAMPLING_MESSAGES,
            max_tokens=100,
            system_prompt="You are terse.",
            model_preferences=p.ModelPreferences(
                hints=[p.ModelHint(name="claude")], intelligence_priority=0.8
            ),
            include_context="thisServer",
            temperature=0.2,
            stop_sequences=["\n\n"],
            metadata={"purpose": "test"},
        ),
        p.CreateMessageResult(
            role="assistant",
            content=p.TextContent(text="Paris."),
            model="claude-x",
            stop_reason="endTurn",
        ),
    ),
    "elicitation/create": (
        p.ElicitRequestFormParams(message="Who are you?", requested_schema=FORM),
        p.ElicitResult(action="accept", content={"name": "Ada", "age": 36, "subscribe": True}),
    ),
    "roots/list": (
        p.RequestParams(),
        p.ListRootsResult(roots=[p.Root(uri="file:///home/ada/project", name="project")]),
    ),
    "notifications/initialized": (p.NotificationParams(), None),
    "notifications/cancelled": (p.CancelledNotificationParams(request_id=7, reason="user"), None),
    "notifications/progress": (
        p.ProgressNotificationParams(progress_token="tok", progress=5, total=10, message="half"),
        None,
    ),
    "notifications/message": (
        p.LoggingMessageNotificationParams(level="info", logger="db", data={"rows": 3}),
        None,
    ),
    "notifications/resources/list_changed": (p.NotificationParams(), None),
    "notifications/resources/updated": (
        p.ResourceUpdatedNotificationParams(uri="weather://paris"),
        None,
    ),
    "notifications/prompts/list_changed": (p.NotificationParams(), None),
    "notifications/tools/list_changed": (p.NotificationParams(), None),
    "notifications/roots/list_changed": (p.NotificationParams(), None),
    "notifications/tasks/status": (
        p.TaskStatusNotificationParams(**msgspec.structs.asdict(TASK)),
        None,
    ),
    "notifications/elicitation/complete": (p.ElicitationCompleteParams(elicitation_id="e1"), None),
    "notifications/subscriptions/acknowledged": (
        p.SubscriptionsAcknowledgedNotificationParams(
            notifications=p.SubscriptionFilter(tools_list_changed=True)
        ),
        None,
    ),
}


def _same(decoded: Any, sent: Any) -> bool:
    """Equal as values: same type, same JSON (forms hold schema structs that decode as dicts)."""
    return type(decoded) is type(sent) and msgspec.to_builtins(decoded) == msgspec.to_builtins(sent)


def test_every_method_has_an_example() -> None:
    assert set(EXAMPLES) == set(p.METHODS)


def _cases() -> list[tuple[str, str]]:
    return [
        (method, version)
        for method, spec in p.METHODS.items()
        for version in p.PROTOCOL_VERSIONS
        if spec.exists_in(version)
    ]


def _for_version(params: Any, version: str, kind: str) -> Any:
    if kind == "notification":
        return params
    if p.is_modern(version):
        meta = p.modern_request_meta(
            client_capabilities=CAPS, client_info=CLIENT, log_level="info", progress_token="pt"
        )
    else:
        meta = {"progressToken": "pt"}
    return msgspec.structs.replace(params, meta=meta)


@pytest.mark.parametrize(("method", "version"), _cases())
def test_message_is_valid_in_version(method: str, version: str) -> None:
    spec = p.METHODS[method]
    params, result = EXAMPLES[method]
    params = _for_version(params, version, spec.kind)

    if spec.kind == "request":
        frame = p.encode_request(42, method, params)
    else:
        frame = p.encode_notification(method, params)
    validate(version, spec.message.__name__, json.loads(frame))
    message = p.decode_message(frame)
    assert isinstance(message, p.JSONRPCRequest | p.JSONRPCNotification)
    assert message.method == method
    assert _same(p.decode_params(message.params, spec.params), params)

    if result is None:
        return
    server_sends = spec.direction is not p.Direction.SERVER_TO_CLIENT
    prepared = p.prepare_result(result, version, server_info=SERVER if server_sends else None)
    validate(version, spec.result.__name__, json.loads(p.encode(prepared)))
    response = p.encode_result(42, prepared)
    envelope = "JSONRPCResultResponse" if version >= "2025-11-25" else "JSONRPCResponse"
    validate(version, envelope, json.loads(response))
    typed = spec.message.__name__.removesuffix("Request") + "ResultResponse"
    if typed in definitions(version):
        validate(version, typed, json.loads(response))
    decoded = p.decode_message(response)
    assert isinstance(decoded, p.JSONRPCResultResponse)
    assert _same(p.decode_result(decoded.result, spec.result), prepared)


def test_modern_results_carry_result_type_and_cache_hints() -> None:
    prepared = p.prepare_result(EXAMPLES["tools/list"][1], "2026-07-28", server_info=SERVER)
    wire = json.loads(p.encode(prepared))
    assert wire["resultType"] == "complete"
    assert wire["ttlMs"] == 0
    assert wire["cacheScope"] == "private"
    assert wire["_meta"][p.META_SERVER_INFO] == {
        "name": "example-server",
        "version": "1.2.3",
        "title": "Example",
    }
    legacy = json.loads(p.encode(p.prepare_result(prepared, "2025-11-25")))
    assert not {"resultType", "ttlMs", "cacheScope"} & set(legacy)


def test_content_an_old_version_cannot_carry_becomes_text() -> None:
    result = EXAMPLES["tools/call"][1]
    old = p.prepare_result(result, "2024-11-05")
    kinds = [type(block).__name__ for block in old.content]
    assert kinds == [
        "TextContent",
        "ImageContent",
        "TextContent",
        "TextContent",
        "EmbeddedResource",
        "EmbeddedResource",
    ]
    assert old.content[3] == p.TextContent(text="[resource: forecast](file:///forecast.md)")
    assert old.structured_content is msgspec.UNSET
    middle = p.prepare_result(result, "2025-03-26")
    assert isinstance(middle.content[2], p.AudioContent)
    assert isinstance(middle.content[3], p.TextContent)
    assert p.prepare_result(result, "2025-06-18").content is result.content


def test_input_required_result_is_valid_and_round_trips() -> None:
    requests: dict[str, p.InputRequest] = {
        "who": p.ElicitRequest(
            params=p.ElicitRequestFormParams(message="Name?", requested_schema=FORM)
        ),
        "capital": p.CreateMessageRequest(
            params=p.CreateMessageRequestParams(messages=SAMPLING_MESSAGES[:1], max_tokens=50)
        ),
        "roots": p.ListRootsRequest(),
        "login": p.ElicitRequest(
            params=p.ElicitRequestURLParams(message="Log in", url="https://example.com/login")
        ),
    }
    result = p.prepare_result(
        p.InputRequiredResult(input_requests=requests, request_state="opaque"), "2026-07-28"
    )
    frame = p.encode_result(3, result)
    validate("2026-07-28", "InputRequiredResult", json.loads(p.encode(result)))
    for name in ("CallToolResultResponse", "GetPromptResultResponse", "ReadResourceResultResponse"):
        validate("2026-07-28", name, json.loads(frame))
    assert _same(p.decode(frame, p.CallToolResultResponse).result, result)
    with pytest.raises(ValueError, match="input-required"):
        p.prepare_result(result, "2025-11-25")


def test_retry_with_input_responses_is_valid_and_round_trips() -> None:
    responses: dict[str, p.InputResponse] = {
        "who": p.ElicitResult(action="accept", content={"name": "Ada"}),
        "capital": p.CreateMessageResult(
            role="assistant", content=p.TextContent(text="Paris"), model="m"
        ),
        "roots": p.ListRootsResult(roots=[p.Root(uri="file:///tmp")]),
    }
    params = p.CallToolRequestParams(
        name="get_weather",
        arguments={"city": "Paris"},
        input_responses=responses,
        request_state="opaque",
        meta=p.modern_request_meta(client_capabilities=CAPS),
    )
    frame = p.encode_request(9, "tools/call", params)
    validate("2026-07-28", "CallToolRequest", json.loads(frame))
    message = p.decode_message(frame)
    assert isinstance(message, p.JSONRPCRequest)
    assert p.decode_params(message.params, p.CallToolRequestParams) == params


def test_url_elicitation_and_new_enum_schemas_are_valid_in_2025_11_25() -> None:
    form = p.ElicitRequestedSchema(
        properties={
            "size": p.UntitledSingleSelectEnumSchema(enum=["s", "m"], default="m"),
            "colour": p.TitledSingleSelectEnumSchema(
                one_of=[p.EnumOption(const="r", title="Red")], title="Colour"
            ),
            "tags": p.UntitledMultiSelectEnumSchema(
                items=p.UntitledEnumItems(enum=["a", "b"]), max_items=2
            ),
            "pets": p.TitledMultiSelectEnumSchema(
                items=p.TitledEnumItems(any_of=[p.EnumOption(const="c", title="Cat")])
            ),
            "email": p.StringSchema(format="email", default="ada@example.com"),
        }
    )
    form_params = p.ElicitRequestFormParams(message="Preferences", requested_schema=form)
    url_params = p.ElicitRequestURLParams(
        message="Authorise", url="https://example.com/oauth", elicitation_id="e-1"
    )
    for params in (form_params, url_params):
        frame = p.encode_request(1, "elicitation/create", params)
        validate("2025-11-25", "ElicitRequest", json.loads(frame))
        message = p.decode_message(frame)
        assert isinstance(message, p.JSONRPCRequest)
        assert _same(p.decode_params(message.params, p.ElicitRequestParams), params)


def test_form_elicitation_without_mode_decodes_as_form() -> None:
    """The 2025-06-18 shape has no ``mode``."""
    raw = b'{"message":"Name?","requestedSchema":{"type":"object","properties":{}}}'
    params = p.decode_params(raw, p.ElicitRequestParams)
    assert isinstance(params, p.ElicitRequestFormParams)


def test_error_responses_are_valid() -> None:
    error = p.unsupported_version_error("1900-01-01", ["2026-07-28", "2025-11-25"])
    frame = json.loads(p.encode_error(1, error))
    validate("2026-07-28", "UnsupportedProtocolVersionError", frame)
    validate("2026-07-28", "JSONRPCErrorResponse", frame)
    assert frame["error"]["data"] == {
        "requested": "1900-01-01",
        "supported": ["2026-07-28", "2025-11-25"],
    }
    for version in p.PROTOCOL_VERSIONS:
        name = "JSONRPCErrorResponse" if version >= "2025-11-25" else "JSONRPCError"
        validate(
            version, name, json.loads(p.encode_error(1, p.METHOD_NOT_FOUND, "Method not found"))
        )
    header = json.loads(p.encode_error(2, p.HEADER_MISMATCH, "Mcp-Method does not match the body"))
    validate("2026-07-28", "HeaderMismatchError", header)
    missing = p.McpError(
        p.MISSING_REQUIRED_CLIENT_CAPABILITY,
        "Sampling is required",
        p.MissingRequiredClientCapabilityData(
            required_capabilities=p.ClientCapabilities(sampling=p.SamplingCapability())
        ),
    )
    validate(
        "2026-07-28", "MissingRequiredClientCapabilityError", json.loads(p.encode_error(3, missing))
    )
    url = p.McpError(
        p.URL_ELICITATION_REQUIRED,
        "Authorise first",
        p.URLElicitationRequiredData(
            elicitations=[
                p.ElicitRequestURLParams(message="m", url="https://x", elicitation_id="e")
            ]
        ),
    )
    validate("2025-11-25", "URLElicitationRequiredError", json.loads(p.encode_error(4, url)))
