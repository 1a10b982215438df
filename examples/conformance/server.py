"""The conformance server: every fixture the official MCP conformance suite expects.

    python examples/conformance/server.py --port 3001

serves Streamable HTTP at http://127.0.0.1:3001/mcp, both protocol eras at once
(legacy sessions for 2025-11-25 and older, stateless requests for 2026-07-28), for
``../shared/mcp-spec/run-conformance.sh server http://127.0.0.1:3001/mcp``. It is also
a tour of the framework: content of every kind, logging, progress, sampling and
elicitation (server-to-client requests in the legacy era, input rounds in the modern
one), resources and templates, prompts, completion, tasks, skills, and a tool whose
argument is mirrored into an HTTP header.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import trio

from fastmcp_core import McpContext, MissingCapability, ProtocolError
from fastmcp_protocol import (
    INTERNAL_ERROR,
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    ClientCapabilities,
    CreateMessageRequest,
    CreateMessageRequestParams,
    ElicitRequest,
    ElicitRequestedSchema,
    ElicitRequestFormParams,
    EmbeddedResource,
    ImageContent,
    ListRootsRequest,
    PromptMessage,
    SamplingCapability,
    SamplingMessage,
    TextContent,
    TextResourceContents,
)
from fastmcp_server import Server

IMAGE = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
AUDIO = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="
EMPTY: dict[str, Any] = {"type": "object", "properties": {}}

server = Server(
    "mcp-conformance-test-server",
    "1.0.0",
    instructions="A server with every fixture of the MCP conformance suite.",
    list_cache=(300_000, "public"),
    read_cache=(300_000, "private"),
)
# the skills extension (SEP-2640): skill://pdf-processing/SKILL.md and its files
server.add_skills(Path(__file__).parent / "skills")


# -- content of every kind ------------------------------------------------------------


@server.tool(input_schema=EMPTY)
async def test_simple_text() -> str:
    """Returns a simple text response."""
    return "This is a simple text response for testing."


@server.tool(input_schema=EMPTY)
async def test_image_content() -> ImageContent:
    """Returns an image."""
    return ImageContent(data=IMAGE, mime_type="image/png")


@server.tool(input_schema=EMPTY)
async def test_audio_content() -> AudioContent:
    """Returns audio."""
    return AudioContent(data=AUDIO, mime_type="audio/wav")


@server.tool(input_schema=EMPTY)
async def test_embedded_resource() -> EmbeddedResource:
    """Returns an embedded resource."""
    return EmbeddedResource(
        resource=TextResourceContents(
            uri="test://embedded-resource",
            mime_type="text/plain",
            text="This is an embedded resource content.",
        )
    )


@server.tool(input_schema=EMPTY)
async def test_multiple_content_types() -> list[Any]:
    """Returns text, an image and a resource."""
    return [
        TextContent(text="Multiple content types test:"),
        ImageContent(data=IMAGE, mime_type="image/png"),
        EmbeddedResource(
            resource=TextResourceContents(
                uri="test://mixed-content-resource",
                mime_type="application/json",
                text=json.dumps({"test": "data", "value": 123}),
            )
        ),
    ]


@server.tool(input_schema=EMPTY)
async def test_error_handling() -> CallToolResult:
    """Always returns a tool error."""
    return CallToolResult(
        content=[TextContent(text="This tool intentionally returns an error for testing")],
        is_error=True,
    )


# -- logging and progress -------------------------------------------------------------


@server.tool(input_schema=EMPTY)
async def test_tool_with_logging(ctx: McpContext) -> str:
    """Sends three log messages while it runs."""
    for i, text in enumerate(
        ("Tool execution started", "Tool processing data", "Tool execution completed")
    ):
        if i:
            await trio.sleep(0.05)
        await ctx.info(text, logger="conformance-test-server")
    return "Tool with logging executed successfully"


@server.tool(input_schema=EMPTY)
async def test_tool_with_progress(ctx: McpContext) -> str:
    """Reports progress 0, 50, 100 and returns the progress token."""
    for i, progress in enumerate((0, 50, 100)):
        if i:
            await trio.sleep(0.05)
        await ctx.report_progress(progress, 100, f"Completed step {progress} of 100")
    return str(ctx.progress_token)


@server.tool(input_schema=EMPTY)
async def test_logging_tool(ctx: McpContext) -> str:
    """Logs a message (sent only when the request asked for a log level)."""
    await ctx.info("test_logging_tool ran")
    return "Logging tool completed"


# -- asking the client (legacy: server-to-client requests) --------------------------


@server.tool
async def test_sampling(ctx: McpContext, prompt: str) -> str:
    """Asks the client's LLM to answer the prompt.

    Args:
        prompt: The prompt to send to the LLM
    """
    reply = await ctx.sample(prompt, max_tokens=100)
    text = reply.content.text if isinstance(reply.content, TextContent) else str(reply.content)
    return f"LLM response: {text}"


@server.tool
async def test_elicitation(ctx: McpContext, message: str) -> str:
    """Asks the user for their username and email.

    Args:
        message: The message to show the user
    """
    answer = await ctx.elicit(
        message,
        {
            "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"},
            },
            "required": ["username", "email"],
        },
    )
    return f"User response: action={answer.action}, content={json.dumps(answer.data)}"


SEP1034 = {
    "properties": {
        "name": {"type": "string", "description": "User name", "default": "John Doe"},
        "age": {"type": "integer", "description": "User age", "default": 30},
        "score": {"type": "number", "description": "User score", "default": 95.5},
        "status": {
            "type": "string",
            "description": "User status",
            "enum": ["active", "inactive", "pending"],
            "default": "active",
        },
        "verified": {"type": "boolean", "description": "Verification status", "default": True},
    },
    "required": [],
}

SEP1330 = {
    "properties": {
        "untitledSingle": {
            "type": "string",
            "description": "Select one option",
            "enum": ["option1", "option2", "option3"],
        },
        "titledSingle": {
            "type": "string",
            "description": "Select one option with titles",
            "oneOf": [
                {"const": "value1", "title": "First Option"},
                {"const": "value2", "title": "Second Option"},
                {"const": "value3", "title": "Third Option"},
            ],
        },
        "legacyEnum": {
            "type": "string",
            "description": "Select one option (legacy)",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {
            "type": "array",
            "description": "Select multiple options",
            "minItems": 1,
            "maxItems": 3,
            "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
        },
        "titledMulti": {
            "type": "array",
            "description": "Select multiple options with titles",
            "minItems": 1,
            "maxItems": 3,
            "items": {
                "anyOf": [
                    {"const": "value1", "title": "First Choice"},
                    {"const": "value2", "title": "Second Choice"},
                    {"const": "value3", "title": "Third Choice"},
                ]
            },
        },
    },
    "required": [],
}


@server.tool(input_schema=EMPTY)
async def test_elicitation_sep1034_defaults(ctx: McpContext) -> str:
    """Elicits a form whose fields have defaults (SEP-1034)."""
    answer = await ctx.elicit("Please review and update the form fields with defaults", SEP1034)
    return f"Elicitation completed: action={answer.action}, content={json.dumps(answer.data)}"


@server.tool(input_schema=EMPTY)
async def test_elicitation_sep1330_enums(ctx: McpContext) -> str:
    """Elicits a form with every kind of enum (SEP-1330)."""
    answer = await ctx.elicit("Please select options from the enum fields", SEP1330)
    return f"Elicitation completed: action={answer.action}, content={json.dumps(answer.data)}"


# -- JSON Schema 2020-12, kept verbatim ------------------------------------------------

JSON_SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


@server.tool(input_schema=JSON_SCHEMA_2020_12)
async def json_schema_2020_12_tool(**arguments: Any) -> str:
    """Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)."""
    return f"JSON Schema 2020-12 tool called with: {json.dumps(arguments)}"


@server.tool(input_schema=EMPTY)
async def test_reconnection(ctx: McpContext) -> str:
    """Ends its response stream early; the answer arrives on the resumed stream."""
    ctx.release_stream()
    await trio.sleep(0.1)
    return (
        "Reconnection test completed successfully. If you received this, "
        "the client properly reconnected after stream closure."
    )


# -- the stateless era ----------------------------------------------------------------


@server.tool(input_schema=EMPTY)
async def test_missing_capability(ctx: McpContext) -> str:
    """Needs the client's sampling capability."""
    if ctx.client_capabilities.sampling is None:
        raise MissingCapability(
            "Missing required client capability", ClientCapabilities(sampling=SamplingCapability())
        )
    return "Success"


@server.tool(input_schema=EMPTY)
async def test_streaming_elicitation() -> str:
    """Answers on its own response stream, without requests to the client."""
    return "Streaming complete"


@server.tool(input_schema=EMPTY)
async def test_trigger_tool_change() -> str:
    """Tells subscribers that the tool list changed."""
    await server.notify_list_changed("tools")
    return "Mutation triggered"


@server.tool(input_schema=EMPTY)
async def test_trigger_prompt_change() -> str:
    """Tells subscribers that the prompt list changed."""
    await server.notify_list_changed("prompts")
    return "Mutation triggered"


@server.tool(
    input_schema={
        "type": "object",
        "properties": {
            "region": {
                "type": "string",
                "description": "Mirrored into Mcp-Param-Region",
                "x-mcp-header": "Region",
            }
        },
        "required": ["region"],
    }
)
async def test_header_param(region: str) -> str:
    """Echoes a header-mirrored parameter (SEP-2243 x-mcp-header)."""
    return f"region={region}"


# -- multi round-trip requests (2026-07-28) -------------------------------------------

NAME_FORM: dict[str, Any] = {"properties": {"name": {"type": "string"}}, "required": ["name"]}
CONFIRM_FORM: dict[str, Any] = {"properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


@server.tool(input_schema=EMPTY)
async def test_input_required_result_elicitation(ctx: McpContext) -> str:
    """MRTR: asks for the user's name."""
    answer = await ctx.elicit("What is your name?", NAME_FORM, key="user_name")
    name = (answer.data or {}).get("name", "unknown")
    return f"Hello, {name}!"


@server.tool(input_schema=EMPTY)
async def test_input_required_result_sampling(ctx: McpContext) -> str:
    """MRTR: asks the client's LLM."""
    reply = await ctx.sample(
        "What is the capital of France?", max_tokens=100, key="capital_question"
    )
    text = reply.content.text if isinstance(reply.content, TextContent) else ""
    return f"Sampling result: {text}"


@server.tool(input_schema=EMPTY)
async def test_input_required_result_list_roots(ctx: McpContext) -> str:
    """MRTR: asks for the client's roots."""
    roots = await ctx.list_roots(key="client_roots")
    return f"Found {len(roots)} root(s)"


@server.tool(input_schema=EMPTY)
async def test_input_required_result_request_state(ctx: McpContext) -> str:
    """MRTR: asks for a confirmation; the answer comes back with the sealed state."""
    await ctx.elicit("Please confirm", CONFIRM_FORM, key="confirm")
    return "state-ok: requestState validated"


@server.tool(input_schema=EMPTY)
async def test_input_required_result_multiple_inputs(ctx: McpContext) -> str:
    """MRTR: asks three things at once."""
    answers = await ctx.ask(
        {
            "user_name": ElicitRequest(
                params=ElicitRequestFormParams(
                    message="What is your name?",
                    requested_schema=ElicitRequestedSchema(
                        properties=NAME_FORM["properties"], required=["name"]
                    ),
                )
            ),
            "greeting": CreateMessageRequest(
                params=CreateMessageRequestParams(
                    messages=[
                        SamplingMessage(
                            role="user", content=TextContent(text="Generate a greeting")
                        )
                    ],
                    max_tokens=50,
                )
            ),
            "client_roots": ListRootsRequest(),
        }
    )
    name = (answers["user_name"].content or {}).get("name")
    greeting = answers["greeting"].content
    text = greeting.text if isinstance(greeting, TextContent) else ""
    return f"Name: {name}; Greeting: {text}; Roots: {len(answers['client_roots'].roots)}"


@server.tool(input_schema=EMPTY)
async def test_input_required_result_multi_round(ctx: McpContext) -> str:
    """MRTR: two rounds, one question each."""
    name = await ctx.elicit("Step 1: What is your name?", NAME_FORM, key="step1")
    color = await ctx.elicit(
        "Step 2: What is your favorite color?",
        {"properties": {"color": {"type": "string"}}, "required": ["color"]},
        key="step2",
    )
    return f"Multi-round complete for {(name.data or {}).get('name')} who likes {(color.data or {}).get('color')}"


@server.tool(input_schema=EMPTY)
async def test_input_required_result_tampered_state(ctx: McpContext) -> str:
    """MRTR: its requestState is integrity-protected (tampering is refused)."""
    await ctx.elicit("Please confirm", CONFIRM_FORM, key="confirm")
    return "Confirmed"


@server.tool(input_schema=EMPTY)
async def test_input_required_result_capabilities(ctx: McpContext) -> str:
    """MRTR: asks only what the client declared it can answer."""
    if ctx.client_capabilities.elicitation is not None:
        await ctx.elicit(
            "Anything to add?", {"properties": {"note": {"type": "string"}}}, key="elicit_input"
        )
        return "Elicited"
    await ctx.sample("Sample request", max_tokens=50, key="sample_input")
    return "Sampled"


@server.prompt(name="test_input_required_result_prompt")
async def input_required_prompt(ctx: McpContext) -> str:
    """MRTR: prompt that requires elicitation input."""
    answer = await ctx.elicit(
        "What context should the prompt use?",
        {"properties": {"context": {"type": "string"}}, "required": ["context"]},
        key="user_context",
    )
    return f"Prompt with context: {(answer.data or {}).get('context')}"


# -- tasks (the io.modelcontextprotocol/tasks extension) ------------------------------


@server.tool
async def greet(name: str) -> str:
    """Greets someone (never a task)."""
    return f"Hello, {name}!"


@server.tool(task="optional")
async def slow_compute(seconds: float, label: str) -> str:
    """Computes for a while; runs as a task when the client supports tasks."""
    await trio.sleep(seconds)
    return f"Computed {label} after {seconds}s"


@server.tool(task="required", input_schema=EMPTY)
async def failing_job() -> CallToolResult:
    """A task whose tool fails."""
    await trio.sleep(1)
    return CallToolResult(
        content=[TextContent(text="Job failed: the job could not finish")], is_error=True
    )


@server.tool(task="optional", input_schema=EMPTY)
async def protocol_error_job() -> str:
    """A task that ends with a JSON-RPC error."""
    await trio.sleep(0.5)
    raise ProtocolError(INTERNAL_ERROR, "Internal error: the job crashed")


@server.tool(task="optional")
async def confirm_delete(ctx: McpContext, filename: str) -> str:
    """Asks for confirmation before deleting (as a task: input_required)."""
    answer = await ctx.elicit(
        f"Delete {filename}?",
        {"properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]},
    )
    return f"Deleted {filename}" if answer.accepted else f"Kept {filename}"


@server.tool(task="optional", input_schema=EMPTY)
async def multi_input(ctx: McpContext) -> str:
    """Asks two questions at once."""
    form = {"properties": {"name": {"type": "string"}, "confirm": {"type": "boolean"}}}
    schema = ElicitRequestedSchema(properties=form["properties"])
    answers = await ctx.ask(
        {
            "first": ElicitRequest(
                params=ElicitRequestFormParams(message="First?", requested_schema=schema)
            ),
            "second": ElicitRequest(
                params=ElicitRequestFormParams(message="Second?", requested_schema=schema)
            ),
        }
    )
    return f"Got {len(answers)} answers"


@server.tool(task="required", defer_task=True, input_schema=EMPTY)
async def test_tool_with_task(ctx: McpContext) -> str:
    """Asks for a name synchronously, then continues as a task."""
    answer = await ctx.elicit("What is your name?", NAME_FORM, key="user_name")
    await ctx.start_task()
    await trio.sleep(0.5)
    return f"Hello from the task, {(answer.data or {}).get('name')}!"


# -- resources ------------------------------------------------------------------------


@server.resource(
    "test://static-text",
    name="static-text",
    title="Static Text Resource",
    description="A static text resource for testing",
    mime_type="text/plain",
)
def static_text() -> str:
    return "This is the content of the static text resource."


@server.resource(
    "test://static-binary",
    name="static-binary",
    title="Static Binary Resource",
    description="A static binary resource (image) for testing",
    mime_type="image/png",
)
def static_binary() -> BlobResourceContents:
    return BlobResourceContents(uri="test://static-binary", blob=IMAGE, mime_type="image/png")


@server.resource(
    "test://watched-resource",
    name="watched-resource",
    title="Watched Resource",
    description="A resource that changes (subscribe to it)",
    mime_type="text/plain",
)
def watched() -> str:
    return "Watched resource content"


@server.resource(
    "test://template/{id}/data",
    name="template",
    title="Resource Template",
    description="A resource template with parameter substitution",
    mime_type="application/json",
)
def template(id: str) -> str:
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


# -- prompts --------------------------------------------------------------------------


@server.prompt(title="Simple Test Prompt", description="A simple prompt without arguments")
def test_simple_prompt() -> str:
    return "This is a simple prompt for testing."


@server.prompt(
    title="Prompt With Arguments",
    description="A prompt with required arguments",
    complete={"arg1": lambda value: []},
)
def test_prompt_with_arguments(arg1: str, arg2: str) -> str:
    """A prompt with required arguments.

    Args:
        arg1: First test argument
        arg2: Second test argument
    """
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@server.prompt(
    title="Prompt With Embedded Resource", description="A prompt that includes an embedded resource"
)
def test_prompt_with_embedded_resource(resourceUri: str) -> list[Any]:
    """A prompt that includes an embedded resource.

    Args:
        resourceUri: URI of the resource to embed
    """
    return [
        PromptMessage(
            role="user",
            content=EmbeddedResource(
                resource=TextResourceContents(
                    uri=resourceUri,
                    mime_type="text/plain",
                    text="Embedded resource content for testing.",
                )
            ),
        ),
        "Please process the embedded resource above.",
    ]


@server.prompt(title="Prompt With Image", description="A prompt that includes image content")
def test_prompt_with_image() -> list[Any]:
    return [ImageContent(data=IMAGE, mime_type="image/png"), "Please analyze the image above."]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    server.run_http(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
