"""``fastmcp call``, ``fastmcp list`` and ``fastmcp inspect``: the command as a client.

Results go to stdout; progress, log lines and errors to stderr. A file or module
SPEC runs in this process (the in-process transport: nothing to spawn, the server's
log lines on this stderr); a URL is reached over HTTP, a configured server or a
command after ``--`` is started as a child process.

Ctrl-C (SIGINT) while a request runs cancels it: the server is told
(``notifications/cancelled``), the connection is closed in order, and the command
exits with status 130.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import msgspec
import trio

from fastmcp._cli._console import Console, ProgressBar, configure_logging
from fastmcp._cli._errors import CliError
from fastmcp._cli._serve import http_options
from fastmcp._cli._spec import Spec, client_target
from fastmcp._cli._values import parse_arguments, parse_pairs
from fastmcp_client import Client
from fastmcp_protocol import (
    LEGACY_PROTOCOL_VERSIONS,
    PROTOCOL_VERSIONS,
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    ContentBlock,
    EmbeddedResource,
    GetPromptResult,
    ImageContent,
    ProgressNotificationParams,
    ReadResourceResult,
    ResourceLink,
    TextContent,
    TextResourceContents,
)

__all__ = ["run_call", "run_inspect", "run_list"]

T = TypeVar("T")


@asynccontextmanager
async def _connected(
    spec: Spec, args: argparse.Namespace, *, protocol_version: str | None = None
) -> AsyncIterator[Client]:
    target, options = client_target(spec)
    http = http_options(spec, args)
    try:
        async with Client(target, **options, **http, protocol_version=protocol_version) as client:
            yield client
    finally:
        if "auth" in http:
            await http["auth"].aclose()


def _run_interruptible(work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` under trio; SIGINT cancels it (the request in flight is
    cancelled on the wire) and becomes ``CliError(status=130)``.

    While it runs, ``sys.stdout`` is stderr: an in-process server that prints does
    not mix its output into the command's (printed once ``work`` is done).
    """

    async def main() -> tuple[bool, Any]:
        result: list[Any] = []
        with trio.open_signal_receiver(signal.SIGINT) as signals:
            interrupted = False
            async with trio.open_nursery() as nursery:

                async def watch() -> None:
                    nonlocal interrupted
                    async for _ in signals:
                        interrupted = True
                        nursery.cancel_scope.cancel()
                        return

                nursery.start_soon(watch)
                result.append(await work())
                nursery.cancel_scope.cancel()
        return interrupted, result[0] if result else None

    with contextlib.redirect_stdout(sys.stderr):
        interrupted, value = trio.run(main)
    if interrupted:
        raise CliError("interrupted: the request was cancelled", 130)
    return value  # type: ignore[no-any-return]


# -- call ------------------------------------------------------------------------------------


def run_call(spec: Spec, args: argparse.Namespace, console: Console) -> int:
    """Call a tool, read a resource or get a prompt, and print what came back."""
    configure_logging(args.log_level)
    target: str | None = args.target
    pairs: list[str] = list(args.pairs)
    resource, prompt = args.resource, args.prompt
    if resource is None and prompt is None:
        if target is None:
            raise CliError("what to call? give a TOOL name, a resource URI, or --prompt NAME")
        if "://" in target:
            resource, target = target, None
    elif target is not None:
        pairs.insert(0, target)
        target = None
    if resource is not None and pairs:
        raise CliError("a resource takes no key=value arguments")
    base: dict[str, Any] = {}
    if args.input_json is not None:
        try:
            base = json.loads(args.input_json)
        except ValueError as exc:
            raise CliError(f"--input-json is not valid JSON: {exc}") from None
        if not isinstance(base, dict):
            raise CliError("--input-json must be a JSON object")
    parse_pairs(pairs)  # a bad pair is reported before connecting
    timeout = math.inf if args.timeout is None else args.timeout
    bar = ProgressBar(console)

    async def on_progress(params: ProgressNotificationParams) -> None:
        bar.update(params.progress, params.total, params.message)

    async def work() -> Callable[[], int]:
        async with _connected(spec, args) as client:
            try:
                if resource is not None:
                    read = await client.read_resource(
                        resource, timeout=timeout, on_progress=on_progress
                    )
                    return lambda: _print_resource(read, args.json, console)
                if prompt is not None:
                    got = await _get_prompt(client, prompt, pairs, base, timeout)
                    return lambda: _print_prompt(got, args.json)
                assert target is not None
                tools = {tool.name: tool for tool in await client.list_all_tools()}
                tool = tools.get(target)
                if tool is None:
                    known = ", ".join(sorted(tools)) or "none"
                    raise CliError(f"unknown tool {target!r} (the server has: {known})")
                arguments = parse_arguments(
                    pairs, tool.input_schema, what=f"tool {target!r}", base=base
                )
                result = await client.call_tool(
                    target, arguments, timeout=timeout, on_progress=on_progress
                )
            finally:
                bar.close()
            return lambda: _print_tool_result(result, args.json, console)

    return _run_interruptible(work)()


async def _get_prompt(
    client: Client,
    name: str,
    pairs: list[str],
    base: dict[str, Any],
    timeout: float,
) -> GetPromptResult:
    prompts = {p.name: p for p in await client.list_all_prompts()}
    prompt = prompts.get(name)
    if prompt is None:
        known = ", ".join(sorted(prompts)) or "none"
        raise CliError(f"unknown prompt {name!r} (the server has: {known})")
    declared = {a.name: a for a in prompt.arguments or []}
    arguments = {key: str(value) for key, value in base.items()}
    for key, value in parse_pairs(pairs):
        if declared and key not in declared:
            raise CliError(
                f"prompt {name!r} has no argument {key!r} (its arguments: {', '.join(declared)})"
            )
        arguments[key] = value  # prompt arguments are strings
    missing = [a for a, spec in declared.items() if spec.required and a not in arguments]
    if missing:
        raise CliError(f"prompt {name!r} needs {', '.join(f'{m}=...' for m in missing)}")
    return await client.get_prompt(name, arguments, timeout=timeout)


def _json_out(value: Any) -> None:
    data = msgspec.json.encode(value)
    sys.stdout.write(msgspec.json.format(data, indent=2).decode() + "\n")
    sys.stdout.flush()


def _print_tool_result(result: CallToolResult, raw: bool, console: Console) -> int:
    if raw:
        _json_out(result)
        return 1 if result.is_error else 0
    if result.is_error:
        text = " ".join(b.text for b in result.content if isinstance(b, TextContent))
        raise CliError(f"the tool failed: {text or '(no message)'}")
    texts = [b.text for b in result.content if isinstance(b, TextContent)]
    structured = result.structured_content
    if structured is not None and (not texts or _is_json_of(texts, structured)):
        _json_out(structured)  # the text is its JSON: print it readably
        return 0
    for block in result.content:
        _print_block(block)
    return 0


def _is_json_of(texts: list[str], value: Any) -> bool:
    try:
        return len(texts) == 1 and json.loads(texts[0]) == value
    except ValueError:
        return False


def _print_block(block: ContentBlock) -> None:
    out = sys.stdout
    if isinstance(block, TextContent):
        out.write(block.text + ("" if block.text.endswith("\n") else "\n"))
    elif isinstance(block, ImageContent | AudioContent):
        size = len(base64.b64decode(block.data))
        kind = "image" if isinstance(block, ImageContent) else "audio"
        out.write(f"[{kind} {block.mime_type}, {size} bytes]\n")
    elif isinstance(block, ResourceLink):
        out.write(f"[resource link {block.uri}]\n")
    elif isinstance(block, EmbeddedResource):
        contents = block.resource
        if isinstance(contents, TextResourceContents):
            out.write(contents.text + ("" if contents.text.endswith("\n") else "\n"))
        else:
            out.write(f"[resource {contents.uri}, {len(base64.b64decode(contents.blob))} bytes]\n")
    out.flush()


def _print_resource(result: ReadResourceResult, raw: bool, console: Console) -> int:
    if raw:
        _json_out(result)
        return 0
    for contents in result.contents:
        if isinstance(contents, TextResourceContents):
            text = contents.text
            sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))
            sys.stdout.flush()
        elif isinstance(contents, BlobResourceContents):
            data = base64.b64decode(contents.blob)
            if sys.stdout.isatty():
                console.print(
                    f"{contents.uri}: {len(data)} bytes of {contents.mime_type or 'binary data'} "
                    "(redirect stdout to a file to save them, or use --json)"
                )
            else:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
    return 0


def _print_prompt(result: GetPromptResult, raw: bool) -> int:
    if raw:
        _json_out(result)
        return 0
    if result.description:
        sys.stdout.write(f"# {result.description}\n")
    for message in result.messages:
        sys.stdout.write(f"[{message.role}]\n")
        _print_block(message.content)
    sys.stdout.flush()
    return 0


# -- list and inspect -------------------------------------------------------------------------


async def _everything(client: Client) -> dict[str, list[Any]]:
    caps = client.server_capabilities
    found: dict[str, list[Any]] = {}
    if caps.tools is not None:
        found["tools"] = await client.list_all_tools()
    if caps.resources is not None:
        found["resources"] = await client.list_all_resources()
        found["resourceTemplates"] = await client.list_all_resource_templates()
    if caps.prompts is not None:
        found["prompts"] = await client.list_all_prompts()
    return found


def run_list(spec: Spec, args: argparse.Namespace, console: Console) -> int:
    """Print the server's tools, resources, resource templates and prompts."""
    configure_logging(args.log_level)

    async def work() -> dict[str, list[Any]]:
        async with _connected(spec, args) as client:
            return await _everything(client)

    found = _run_interruptible(work)
    if args.json:
        _json_out(found)
        return 0
    _print_listing(found, args.schemas)
    return 0


_TITLES = {
    "tools": "Tools",
    "resources": "Resources",
    "resourceTemplates": "Resource templates",
    "prompts": "Prompts",
}


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def _print_listing(found: dict[str, list[Any]], schemas: bool) -> None:
    out: list[str] = []
    for key, title in _TITLES.items():
        if key not in found:
            continue
        items = found[key]
        out.append(f"{title} ({len(items)})")
        for item in items:
            if key == "tools":
                params = item.input_schema.get("properties") or {}
                required = set(item.input_schema.get("required") or [])
                sig = ", ".join(
                    f"{n}{'' if n in required else '?'}: {_type_name(s)}" for n, s in params.items()
                )
                head = f"{item.name}({sig})"
            elif key == "prompts":
                sig = ", ".join(
                    f"{a.name}{'' if a.required else '?'}" for a in item.arguments or []
                )
                head = f"{item.name}({sig})"
            elif key == "resources":
                head = item.uri + (f" [{item.mime_type}]" if item.mime_type else "")
            else:
                head = item.uri_template + (f" [{item.mime_type}]" if item.mime_type else "")
            description = _first_line(item.description)
            out.append(f"  {head}" + (f"  {description}" if description else ""))
            if schemas and key == "tools":
                out.append(_indented("input schema", item.input_schema))
                if item.output_schema is not None:
                    out.append(_indented("output schema", item.output_schema))
        out.append("")
    sys.stdout.write("\n".join(out).rstrip("\n") + "\n" if out else "")
    sys.stdout.flush()


def _indented(label: str, schema: Any) -> str:
    text = json.dumps(schema, indent=2)
    return f"    {label}:\n" + "\n".join("      " + line for line in text.splitlines())


def _type_name(schema: Any) -> str:
    if not isinstance(schema, dict):
        return "any"
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    if isinstance(kind, str):
        if kind == "array" and isinstance(schema.get("items"), dict):
            return f"array[{_type_name(schema['items'])}]"
        return kind
    for union in ("anyOf", "oneOf"):
        if isinstance(schema.get(union), list):
            return " | ".join(_type_name(s) for s in schema[union])
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    return "any"


async def _all_versions(spec: Spec, args: argparse.Namespace, known: list[str]) -> list[str]:
    """Every protocol version the server speaks, newest first: those it listed (or
    negotiated), and each session-era version it accepts at ``initialize`` (a
    ``server/discover`` lists only the versions usable per request). One connection
    per version, all at once."""
    accepted = set(known)

    async def probe(version: str) -> None:
        with contextlib.suppress(Exception):  # refused, or answered with another version
            async with _connected(spec, args, protocol_version=version) as client:
                if client.protocol_version == version:
                    accepted.add(version)

    async with trio.open_nursery() as nursery:
        for version in LEGACY_PROTOCOL_VERSIONS:
            if version not in accepted:
                nursery.start_soon(probe, version)
    return [v for v in PROTOCOL_VERSIONS if v in accepted] + sorted(
        accepted - set(PROTOCOL_VERSIONS), reverse=True
    )


def run_inspect(spec: Spec, args: argparse.Namespace, console: Console) -> int:
    """Print a JSON report of the server: who it is, what it speaks and offers."""
    configure_logging(args.log_level)

    async def work() -> dict[str, Any]:
        async with _connected(spec, args) as client:
            report: dict[str, Any] = {
                "serverInfo": client.server_info,
                "protocolVersion": client.protocol_version,
                "supportedVersions": client.supported_versions,
                "capabilities": client.server_capabilities,
                "instructions": client.instructions,
            }
            report.update(await _everything(client))
        report["supportedVersions"] = await _all_versions(spec, args, client.supported_versions)
        return report

    _json_out(_run_interruptible(work))
    return 0
