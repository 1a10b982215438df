"""The client under test for the official MCP conformance suite.

    python examples/conformance/client.py URL

The harness appends the server URL as the last argument and names the scenario in
``MCP_CONFORMANCE_SCENARIO``; harness 0.2.0-alpha.12 also sets
``MCP_CONFORMANCE_PROTOCOL_VERSION`` (2026-07-28: the stateless era; a dated 2025
version: the initialize handshake with that version), and some scenarios pass JSON in
``MCP_CONFORMANCE_CONTEXT``. Without a version (harness 0.1.16) the client speaks
2025-11-25. Exit status 0 means the scenario's steps ran; the harness judges the wire.

Each scenario is one coroutine in ``SCENARIOS``. The client declares sampling,
elicitation and roots (the request-metadata scenario checks that they are objects);
elicitation forms are accepted with the schema's defaults filled in (SEP-1034).

Auth scenarios (``auth/*``) are run by ``auth_client.py`` beside this file (OAuth
providers of ``fastmcp_client.auth``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from fastmcp_client import Client, SkillVerificationError
from fastmcp_protocol import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    TextContent,
)

Scenario = Callable[[Client, dict[str, Any]], Awaitable[None]]


# -- what the client answers ------------------------------------------------------------


async def elicit(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
    """Accept; the client fills every omitted form field with its schema default."""
    if isinstance(params, ElicitRequestURLParams):
        return ElicitResult(action="accept")
    content: dict[str, Any] = {}
    for name, field in params.requested_schema.properties.items():
        if field.get("type") == "boolean" and "default" not in field:
            content[name] = True  # the MRTR scenario asks to confirm
    return ElicitResult(action="accept", content=content)


async def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
    return CreateMessageResult(
        role="assistant", content=TextContent(text="conformance"), model="conformance-model"
    )


# sse-retry measures the client's one reconnection GET: the standalone GET stream (opened
# in the background after notifications/initialized) could race the tools/call and get
# its result instead. Elsewhere it stays on: servers send their requests on it.
HTTP_OPTIONS: dict[str, dict[str, Any]] = {"sse-retry": {"standalone_stream": False}}


def make_client(url: str, scenario: str) -> Client:
    version = os.environ.get("MCP_CONFORMANCE_PROTOCOL_VERSION") or "2025-11-25"
    return Client(
        url,
        protocol_version=version,
        request_timeout=25,
        sampling_handler=sample,
        elicitation_handler=elicit,
        roots=[],
        http_options=HTTP_OPTIONS.get(scenario),
    )


# -- scenarios ---------------------------------------------------------------------------


async def basic(client: Client, context: dict[str, Any]) -> None:
    """initialize, tools_call: list the tools and add two numbers if the server can."""
    tools = await client.list_all_tools()
    if any(tool.name == "add_numbers" for tool in tools):
        await client.call_tool("add_numbers", {"a": 2, "b": 3})


async def list_only(client: Client, context: dict[str, Any]) -> None:
    """request-metadata, json-schema-ref-no-deref: one listing after connecting."""
    await client.list_tools()


async def call_every_tool(client: Client, context: dict[str, Any]) -> None:
    """sep-2322-client-request-state, http-invalid-tool-headers, sse-retry,
    elicitation-sep1034-client-defaults: call each listed tool (input rounds, task
    results and reconnection are the client's and transport's business)."""
    for tool in await client.list_all_tools():
        arguments = {
            name: _dummy(schema)
            for name, schema in (tool.input_schema.get("properties") or {}).items()
            if name in (tool.input_schema.get("required") or [])
        }
        await client.call_tool(tool.name, arguments)


def _dummy(schema: dict[str, Any]) -> Any:
    if "enum" in schema:
        return schema["enum"][0]
    samples: dict[Any, Any] = {
        "integer": 1,
        "number": 1,
        "boolean": True,
        "object": {},
        "array": [],
    }
    return samples.get(schema.get("type"), "us-west1")


async def everything(client: Client, context: dict[str, Any]) -> None:
    """http-standard-headers: list and use tools, resources and prompts."""
    await call_every_tool(client, context)
    for resource in await client.list_all_resources():
        await client.read_resource(resource.uri)
    for prompt in await client.list_all_prompts():
        arguments = {arg.name: "value" for arg in prompt.arguments or [] if arg.required}
        await client.get_prompt(prompt.name, arguments)


async def custom_headers(client: Client, context: dict[str, Any]) -> None:
    """http-custom-headers: the calls the harness lists (headers are the transport's)."""
    await client.list_tools()
    for call in context.get("toolCalls", []):
        await client.call_tool(call["name"], call.get("arguments") or {})


async def schema_echo(client: Client, context: dict[str, Any]) -> None:
    """json-schema-2020-12-preservation: send a tool's inputSchema back verbatim."""
    tools = {tool.name: tool for tool in await client.list_all_tools()}
    schema = tools["json_schema_2020_12_tool"].input_schema
    await client.call_tool("json_schema_echo", {"schema": schema})


async def skills_listing(client: Client, context: dict[str, Any]) -> None:
    """sep-2640-client-no-prefetch: the registry comes from the listing alone; no
    skill file is fetched ahead of need."""
    await client.list_all_skills()


async def skills_loading(client: Client, context: dict[str, Any]) -> None:
    """sep-2640-client-verify-*: load each listed skill (its SKILL.md verified against
    the entry) and read its other files; a skill that fails is refused, and nothing
    more of it is read."""
    for entry in await client.list_all_skills():
        try:
            loaded = await client.load_skill(entry)
        except SkillVerificationError as error:
            print(f"refused {entry.uri}: {error}", file=sys.stderr)
            continue
        for uri in loaded.files:
            if uri != entry.uri:
                await loaded.read(uri)


SCENARIOS: dict[str, Scenario] = {
    "initialize": basic,
    "tools_call": basic,
    "elicitation-sep1034-client-defaults": call_every_tool,
    "sse-retry": call_every_tool,
    "request-metadata": list_only,
    "sep-2322-client-request-state": call_every_tool,
    "http-standard-headers": everything,
    "http-custom-headers": custom_headers,
    "http-invalid-tool-headers": call_every_tool,
    "json-schema-ref-no-deref": list_only,
    "json-schema-2020-12-preservation": schema_echo,
    "sep-2640-client-no-prefetch": skills_listing,
    "sep-2640-client-verify-digest": skills_loading,
    "sep-2640-client-verify-size": skills_loading,
    "sep-2640-client-verify-frontmatter": skills_loading,
}


async def run(url: str, name: str, context: dict[str, Any]) -> None:
    async with make_client(url, name) as client:
        await SCENARIOS[name](client, context)


def main(argv: list[str]) -> int:
    name = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    if len(argv) < 2 or (name not in SCENARIOS and not name.startswith("auth/")):
        known = ", ".join(SCENARIOS)
        print(f"usage: MCP_CONFORMANCE_SCENARIO=<{known}|auth/...> {argv[0]} URL", file=sys.stderr)
        return 1
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    try:
        if name.startswith("auth/"):
            from auth_client import run as run_auth  # beside this script

            trio.run(run_auth, name, argv[-1], context)
        else:
            trio.run(run, argv[-1], name, context)
    except Exception as exc:  # the harness reads the exit status; say why on stderr
        print(f"scenario {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
