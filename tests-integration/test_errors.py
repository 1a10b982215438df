"""The error hierarchy as a user catches it (see ``fastmcp_protocol._errors``).

``except PeerError`` catches what the other side answered, code, message and data as it
sent them; ``except LocalError`` catches what went wrong on this side; ``except
McpError`` still catches every error with a code, and ``except FastMcpError`` all of
them. Each category is produced for real here: a real server in process or in a child
process, a timeout on trio's MockClock.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import textwrap
from pathlib import Path

import msgspec
import pytest
import trio
import trio.testing

from fastmcp import (
    Client,
    ConfigError,
    ConnectionClosed,
    FastMcpError,
    LocalError,
    McpContext,
    McpError,
    PeerError,
    RequestTimeout,
    Server,
    UnexpectedResult,
)
from fastmcp_protocol import CreateMessageRequestParams, TextContent

PACKAGES = [
    "fastmcp_protocol",
    "fastmcp_protocol.ext_skills",
    "fastmcp_protocol.ext_tasks",
    "fastmcp_core",
    "fastmcp_transport",
    "fastmcp_transport.http_client",
    "fastmcp_transport.http_server",
    "fastmcp_server",
    "fastmcp_server.auth",
    "fastmcp_client",
    "fastmcp_client.auth",
    "fastmcp",
    "fastmcp.prelude",
    "fastmcp.proxy",
]


def server() -> Server:
    server = Server("errors", "1.0")

    @server.prompt
    async def forbidden() -> str:
        """A prompt that refuses with an error of its own."""
        raise McpError(-32050, "not for you", {"reason": "policy"})

    @server.tool
    async def slow() -> str:
        await trio.sleep(60)
        return "late"

    @server.tool
    async def point() -> dict[str, str]:
        return {"x": "not a number"}

    @server.tool
    async def ask(ctx: McpContext) -> str:
        try:
            await ctx.sample("may I?")
        except PeerError as error:
            return f"the client said {error.code}: {error.message}"
        return "the client agreed"

    return server


async def test_what_the_server_answered_is_a_peer_error() -> None:
    async with Client(server()) as client:
        try:
            await client.get_prompt("forbidden")
        except PeerError as error:
            assert (error.code, error.message, error.data) == (
                -32050,
                "not for you",
                {"reason": "policy"},
            )
            assert isinstance(error, McpError)  # `except McpError` catches it as before
            assert not isinstance(error, LocalError)
        else:
            raise AssertionError("the prompt refused")
        with pytest.raises(PeerError, match="Unknown tool: nope") as unknown:
            await client.call_tool("nope")
        assert unknown.value.code == -32602


async def test_in_a_handler_what_the_client_answered_is_a_peer_error() -> None:
    async def refuse(params: CreateMessageRequestParams) -> str:
        raise McpError(-32001, "the user declined")

    # 2025-11-25: sampling is a request to the client, answered with its error
    async with Client(server(), protocol_version="2025-11-25", sampling_handler=refuse) as client:
        result = await client.call_tool("ask")
    assert result.content == [TextContent(text="the client said -32001: the user declined")]


async def test_a_timeout_is_local(autojump_clock: trio.testing.MockClock) -> None:
    async with Client(server()) as client:
        try:
            await client.call_tool("slow", timeout=5)
        except LocalError as error:
            assert isinstance(error, RequestTimeout)
            assert error.code == -32001  # and still an McpError with the SDKs' code
            assert not isinstance(error, PeerError)
        else:
            raise AssertionError("slow() takes a minute")
        assert trio.current_time() == pytest.approx(5, abs=0.1)


async def test_a_result_that_cannot_be_used_is_local() -> None:
    class Point(msgspec.Struct):
        x: int

    async with Client(server()) as client:
        with pytest.raises(LocalError) as caught:
            await client.call_tool("point", result_type=Point)
    assert isinstance(caught.value, UnexpectedResult)
    assert isinstance(caught.value, McpError)
    assert not isinstance(caught.value, PeerError)


async def test_a_server_that_went_away_is_local(tmp_path: Path) -> None:
    script = tmp_path / "dies.py"
    script.write_text(
        textwrap.dedent(
            """
            import os
            from fastmcp import Server

            server = Server("dies", "1.0")

            @server.tool
            def die() -> str:
                os._exit(3)

            server.run()
            """
        )
    )
    async with Client([sys.executable, str(script)]) as client:
        try:
            await client.call_tool("die")
        except LocalError as error:
            assert isinstance(error, ConnectionClosed)
            assert "exited with code 3" in str(error)
            assert not isinstance(error, PeerError)
        else:
            raise AssertionError("the server died")


def test_a_configuration_that_cannot_work_is_local() -> None:
    with pytest.raises(LocalError) as caught:
        Client(server(), roots=["file:///a"], roots_handler=list)
    assert isinstance(caught.value, ConfigError)
    assert isinstance(caught.value, ValueError)  # as it always was
    assert not isinstance(caught.value, McpError)  # it has no code: nothing was sent


def exported_exceptions() -> dict[str, type[BaseException]]:
    found = {}
    for module_name in PACKAGES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) and issubclass(value, BaseException):
                found[f"{module_name}.{name}"] = value
    return found


def test_every_exception_of_ours_has_the_one_root() -> None:
    exceptions = exported_exceptions()
    assert len(exceptions) > 20
    outside = {name for name, error in exceptions.items() if not issubclass(error, FastMcpError)}
    # the signal that ends an input-required round is no error: `except FastMcpError`
    # around ctx.elicit(...) must not swallow it
    assert "fastmcp_core.InputRequired" in outside
    assert outside == {"fastmcp_core.InputRequired"}


def test_peer_errors_and_local_errors_are_apart() -> None:
    for name, error in exported_exceptions().items():
        assert not (issubclass(error, PeerError) and issubclass(error, LocalError)), name
