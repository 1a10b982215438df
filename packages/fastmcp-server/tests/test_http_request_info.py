"""``ctx.http``: the HTTP request a handler serves (headers, the client's address), in
both eras over real HTTP - per POST in a legacy session, not the session's first - and
``None`` off HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import httpx
import pytest
import trio
from auth_server_support import ACCEPT, INITIALIZE, LEGACY, legacy, modern_call, modern_headers
from auth_server_support import result_of as answer_of
from server_support import connect

from fastmcp_core import HttpRequestInfo, McpContext
from fastmcp_protocol import TextContent
from fastmcp_server import Server


def make_server() -> Server:
    server = Server("who")

    @server.tool
    async def caller(ctx: McpContext) -> dict[str, Any]:
        http = ctx.http
        if http is None:
            return {"http": None}
        assert isinstance(http, HttpRequestInfo)
        return {
            "caller": http.header("X-Caller"),
            "agent": http.headers.get("user-agent"),
            "client": list(http.client) if http.client else None,
        }

    return server


@asynccontextmanager
async def serving(server: Server, http_server: str) -> AsyncIterator[str]:
    async with trio.open_nursery() as nursery:
        address = await nursery.start(partial(server.serve_http, port=0, http_server=http_server))
        yield address.url
        nursery.cancel_scope.cancel()


def structured(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return json.loads(answer_of(response)["content"][0]["text"])


@pytest.mark.parametrize("http_server", ["h1", "hypercorn"])
async def test_a_modern_request_sees_its_own_post(http_server: str) -> None:
    async with serving(make_server(), http_server) as url, httpx.AsyncClient() as http:
        for caller in ("one", "two"):
            response = await http.post(
                url,
                json=modern_call(1, "caller"),
                headers={**modern_headers("tools/call", "caller"), "accept": ACCEPT,
                         "x-caller": caller, "user-agent": "tester"},
            )  # fmt: skip
            seen = structured(response)
            assert seen["caller"] == caller
            assert seen["agent"] == "tester"
            assert seen["client"][0] == "127.0.0.1"
            assert isinstance(seen["client"][1], int)


@pytest.mark.parametrize("http_server", ["h1", "hypercorn"])
async def test_a_legacy_request_sees_the_post_that_carried_it(http_server: str) -> None:
    async with serving(make_server(), http_server) as url, httpx.AsyncClient() as http:
        opened = await http.post(
            url, json=INITIALIZE, headers={"accept": ACCEPT, "x-caller": "first"}
        )
        session = {"mcp-session-id": opened.headers["mcp-session-id"],
                   "mcp-protocol-version": LEGACY, "accept": ACCEPT}  # fmt: skip
        await http.post(url, json=legacy(None, "notifications/initialized"), headers=session)
        call = legacy(2, "tools/call", {"name": "caller", "arguments": {}})
        for caller in ("second", "third"):
            response = await http.post(url, json=call, headers={**session, "x-caller": caller})
            assert structured(response)["caller"] == caller
        # a POST without the header: this request has none, whatever the first had
        assert structured(await http.post(url, json=call, headers=session))["caller"] is None


async def test_the_legacy_sse_transport_sees_each_post() -> None:
    from fastmcp_client import Client, HttpServer

    server = make_server()
    async with serving(server, "h1") as url:
        sse = url.replace("/mcp", "/sse")
        target = HttpServer(url=sse, transport="sse", headers={"x-caller": "sse"})
        async with Client(target) as client:
            result = await client.call_tool("caller", {})
            assert isinstance(result.content[0], TextContent)
            assert json.loads(result.content[0].text)["caller"] == "sse"


async def test_off_http_there_is_no_request() -> None:
    for modern in (False, True):
        async with connect(make_server(), modern=modern) as client:
            result = await client.call("tools/call", {"name": "caller", "arguments": {}})
            assert json.loads(result["content"][0]["text"]) == {"http": None}
