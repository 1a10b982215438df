"""``fastmcp.proxy`` in front of a real peer: the official
``@modelcontextprotocol/server-everything`` over stdio, served by the proxy to our
client in both eras (installed by the test on first use, pinned: the ``everything``
fixture of conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest
from everything_checks import check_basics, check_catalog, check_progress_and_cancellation, text_of

from fastmcp.proxy import proxy
from fastmcp_client import Client
from fastmcp_protocol import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    TextContent,
)


async def sample(params: CreateMessageRequestParams) -> CreateMessageResult:
    return CreateMessageResult(
        role="assistant", content=TextContent(text="sampled via proxy"), model="m"
    )


async def elicit(params: ElicitRequestFormParams | ElicitRequestURLParams) -> ElicitResult:
    assert isinstance(params, ElicitRequestFormParams)
    properties = params.requested_schema.properties
    answer: dict[str, Any] = {"name": "Ada Lovelace", "check": True, "email": "ada@example.com"}
    return ElicitResult(
        action="accept", content={k: v for k, v in answer.items() if k in properties}
    )


@pytest.mark.parametrize("era", [None, "2025-11-25"])
async def test_server_everything_through_the_proxy(everything: list[str], era: str | None) -> None:
    front = proxy(everything)
    async with Client(
        front, protocol_version=era, sampling_handler=sample, elicitation_handler=elicit
    ) as client:
        await check_basics(client)
        await check_progress_and_cancellation(client)  # both pass through the proxy
        # the remote's questions reach our client
        sampled = await client.call_tool("trigger-sampling-request", {"prompt": "hello"})
        assert "sampled via proxy" in text_of(sampled)
        elicited = await client.call_tool("trigger-elicitation-request")
        assert "Ada Lovelace" in text_of(elicited)
        await check_catalog(client)
