"""Every example runs for real: each server as a child process over stdio (HTTP for
the HTTP ones), called by our client; the client script as a child process.
(examples/testing/ holds the example unit tests; pytest collects them itself.)"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import servers
import trio

from fastmcp import Client
from fastmcp_protocol import ProgressNotificationParams, TextResourceContents

EXAMPLES = Path(__file__).parents[1] / "examples"


def stdio(name: str, **env: str) -> Client:
    return Client([sys.executable, str(EXAMPLES / name)], env=env or None)


def text_of(contents: Any) -> str:
    block = contents.contents[0]
    assert isinstance(block, TextResourceContents)
    return block.text


async def test_echo_server() -> None:
    async with stdio("echo_server.py") as client:
        assert [t.name for t in await client.list_all_tools()] == ["echo"]
        assert await client.call_tool("echo", {"message": "hello"}, result_type=str) == "hello"


async def test_quickstart() -> None:
    async with stdio("quickstart.py") as client:
        assert await client.call_tool("add", {"a": 20, "b": 22}, result_type=str) == "42"
        assert text_of(await client.read_resource("config://settings")) == '{"theme":"dark"}'
        prompt = await client.get_prompt("greeting", {"name": "Ada"})
        assert prompt.messages[0].content.text == "Please greet Ada warmly."  # type: ignore[union-attr]


async def test_process_items_reports_progress_and_stops_when_cancelled() -> None:
    seen: list[ProgressNotificationParams] = []

    async def on_progress(params: ProgressNotificationParams) -> None:
        seen.append(params)

    async with stdio("process_items.py") as client:
        done = await client.call_tool(
            "process_items",
            {"items": ["a", "b", "c"]},
            result_type=list[str],
            on_progress=on_progress,
        )
        assert done == ["A", "B", "C"]
        assert [(p.progress, p.total) for p in seen] == [(0, 3), (1, 3), (2, 3), (3, 3)]
        with trio.move_on_after(0.2):  # a thousand items take ten seconds
            await client.call_tool("process_items", {"items": ["x"] * 1000})
        # the server stopped that call and goes on serving
        assert await client.call_tool("process_items", {"items": ["z"]}, result_type=list[str]) == [
            "Z"
        ]


async def test_parallel_fetch() -> None:
    async with stdio("parallel_fetch.py") as client:
        urls = [f"https://example.com/{i}" for i in range(20)]
        pages = await client.call_tool("parallel_fetch", {"urls": urls}, result_type=dict[str, str])
        assert pages == {url: f"<contents of {url}>" for url in urls}


async def test_critical_write_is_never_half_done() -> None:
    store = Path(tempfile.gettempdir()) / "fastmcp-critical-write.txt"
    async with stdio("critical_write.py") as client:
        text = "x" * 10_000
        assert await client.call_tool("save", {"text": text}, result_type=str) == (
            "saved 10000 characters"
        )
        assert store.read_text() == text
        with trio.move_on_after(0.01):  # inside the 50 ms masked write
            await client.call_tool("save", {"text": "y" * 5000})
        await client.ping()
    await trio.sleep(0.1)  # the masked write finishes after the cancellation arrived
    assert store.read_text() in (text, "y" * 5000)  # all of one, never a mix


async def test_budget_aware_search() -> None:
    async with stdio("budget_aware.py") as client:
        answer = await client.call_tool("search", {"query": "trio"}, result_type=str)
        assert answer.startswith("searched 'trio' 5 levels deep")


async def test_dependencies() -> None:
    async with stdio("dependencies.py") as client:
        tool = {t.name: t for t in await client.list_all_tools()}["add_note"]
        assert set(tool.input_schema["properties"]) == {"text"}  # notes is injected
        assert await client.call_tool("add_note", {"text": "one"}, result_type=int) == 1
        assert await client.call_tool("add_note", {"text": "two"}, result_type=int) == 2
        assert await client.call_tool("list_notes", result_type=list[str]) == ["one", "two"]


async def test_http_server() -> None:
    seen: list[float] = []

    async def on_progress(params: ProgressNotificationParams) -> None:
        seen.append(params.progress)

    with servers.http_server(EXAMPLES / "http_server.py", port_flag=None) as url:
        for version in (None, "2025-11-25"):  # the newest era, then the legacy one
            seen.clear()
            async with Client(url, protocol_version=version) as client:
                assert client.instructions == "A demo over HTTP."
                assert await client.call_tool("add", {"a": 1, "b": 2}, result_type=int) == 3
                assert (
                    await client.call_tool(
                        "countdown", {"n": 3}, result_type=str, on_progress=on_progress
                    )
                    == "liftoff"
                )
                assert seen == [1, 2, 3]
                assert text_of(await client.read_resource("info://server")) == "served over HTTP"


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_bench_server(transport: str) -> None:
    async def check(client: Client) -> None:
        names = {t.name for t in await client.list_all_tools()}
        assert {"echo", "add", "sleep", "tool_0000", "tool_0002"} <= names
        assert await client.call_tool("echo", {"message": "m"}, result_type=str) == "m"
        assert await client.call_tool("add", {"a": 2, "b": 2}, result_type=int) == 4

    if transport == "stdio":
        async with stdio("bench_server.py", MCPBENCH_EXTRA_TOOLS="3") as client:
            await check(client)
        return
    extra = {"MCPBENCH_EXTRA_TOOLS": "3"}
    with servers.http_server(EXAMPLES / "bench_server.py", port_flag="http", env=extra) as url:
        async with Client(url) as client:
            await check(client)


def test_the_client_script() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "client.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "connected to example-server (2026-07-28)",
        "tool add: Calculate the sum of two numbers",
        "add(2, 3) = 5",
        'config://settings = {"theme":"dark"}',
        "user: Please greet Ada warmly.",
    ]
