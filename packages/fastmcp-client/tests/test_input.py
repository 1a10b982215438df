"""What servers ask of the client: sampling, elicitation and roots, answered by the same
handlers in both eras (modern: input-required rounds; legacy: server-to-client requests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
import trio.lowlevel
from client_support import FakeServer, prompt_text, sent, text

from fastmcp_client import Client, InputRequiredError
from fastmcp_core import McpContext
from fastmcp_protocol import (
    CallToolResult,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    InputRequiredResult,
    McpError,
    Root,
    TextContent,
    TextResourceContents,
    UnexpectedResult,
)

ERAS = ["modern", "legacy"]


class Person(msgspec.Struct):
    name: str
    age: int = 30


async def ask_person(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
    answer = await ctx.elicit("Who are you?", Person)
    if not answer.accepted:
        return text(f"no answer: {answer.action}")
    assert answer.data is not None
    return text(f"{answer.data.name} is {answer.data.age}")


async def ask_everything(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
    sampled = await ctx.sample("Say hi", max_tokens=10)
    roots = await ctx.list_roots()
    opened = await ctx.elicit_url("Log in", "https://example.com/login")
    assert isinstance(sampled.content, TextContent)
    uris = ",".join(root.uri for root in roots)
    return text(f"{sampled.content.text}|{sampled.model}|{uris}|{opened.action}")


async def ask_twice(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
    # two questions at once: one round in the modern era, two concurrent requests in the legacy
    answers = await ctx.ask(
        {
            "first": _sampling("one"),
            "second": _sampling("two"),
        }
    )
    return text("+".join(_text_of(a) for a in (answers["first"], answers["second"])))


def _sampling(prompt: str) -> Any:
    from fastmcp_protocol import CreateMessageRequest, SamplingMessage

    return CreateMessageRequest(
        params=CreateMessageRequestParams(
            messages=[SamplingMessage(role="user", content=TextContent(text=prompt))],
            max_tokens=5,
        )
    )


def _text_of(answer: Any) -> str:
    result = msgspec.convert(answer, CreateMessageResult) if isinstance(answer, dict) else answer
    assert isinstance(result.content, TextContent)
    return result.content.text


async def sample(params: CreateMessageRequestParams) -> CreateMessageResult | str:
    message = params.messages[0].content
    assert isinstance(message, TextContent)
    if message.text == "Say hi":
        return CreateMessageResult(role="assistant", content=TextContent(text="hi!"), model="m-1")
    return message.text.upper()


asked: list[ElicitRequestFormParams | ElicitRequestURLParams] = []


async def elicit(
    params: ElicitRequestFormParams | ElicitRequestURLParams,
) -> ElicitResult | dict[str, Any]:
    asked.append(params)
    if isinstance(params, ElicitRequestURLParams):
        return ElicitResult(action="accept")
    return {"name": "Ada"}  # age is left to the schema's default


def server(era: str) -> FakeServer:
    fake = FakeServer(era=era)  # type: ignore[arg-type]
    fake.tool("ask_person", ask_person)
    fake.tool("ask_everything", ask_everything)
    fake.tool("ask_twice", ask_twice)

    async def greet(ctx: McpContext, args: dict[str, str]) -> Any:
        answer = await ctx.elicit("Name?", {"properties": {"name": {"type": "string"}}})
        return prompt_text(f"Hello {answer.data['name'] if answer.data else '?'}")

    fake.prompts = {"greet": greet}
    return fake


def client(fake: FakeServer, **options: Any) -> Client:
    return Client(
        fake,
        sampling_handler=sample,
        elicitation_handler=elicit,
        roots=[Root(uri="file:///work", name="work")],
        **options,
    )


@pytest.mark.parametrize("era", ERAS)
async def test_elicitation_is_answered_and_defaults_are_filled_in(era: str) -> None:
    asked.clear()
    async with client(server(era)) as c:
        result = await c.call_tool("ask_person")
    assert result.content == [TextContent(text="Ada is 30")]
    assert len(asked) == 1
    assert isinstance(asked[0], ElicitRequestFormParams)
    assert asked[0].message == "Who are you?"


@pytest.mark.parametrize("era", ERAS)
async def test_sampling_roots_and_url_elicitation(era: str) -> None:
    async with client(server(era)) as c:
        result = await c.call_tool("ask_everything")
    assert result.content == [TextContent(text="hi!|m-1|file:///work|accept")]


@pytest.mark.parametrize("era", ERAS)
async def test_several_questions_at_once(era: str) -> None:
    async with client(server(era)) as c:
        result = await c.call_tool("ask_twice")
    assert result.content == [TextContent(text="ONE+TWO")]


async def test_modern_rounds_echo_request_state_and_use_new_ids() -> None:
    fake = server("modern")
    async with client(fake) as c:
        await c.call_tool("ask_everything")
    calls = sent(fake, "tools/call")
    # sample, roots, url elicitation: one round each, then the complete one
    assert len(calls) == 4
    assert "inputResponses" not in calls[0]
    assert "requestState" not in calls[0]
    for retry in calls[1:]:
        assert retry["requestState"]
        assert retry["name"] == "ask_everything"
    assert set(calls[1]["inputResponses"]) == {"sample-1"}
    assert calls[1]["inputResponses"]["sample-1"]["model"] == "m-1"
    assert set(calls[3]["inputResponses"]) == {"elicit-3"}


async def test_request_state_is_echoed_byte_for_byte_and_omitted_when_absent() -> None:
    fake = FakeServer(era="modern")
    state = '{"nonce": "x",  "spaces": true}'

    async def manual(ctx: McpContext, args: dict[str, Any]) -> Any:
        params = ctx.lifespan
        if "inputResponses" not in params:
            return InputRequiredResult(
                input_requests={"confirm": _sampling("ok?")},
                request_state=state if args.get("stateful") else None,
            )
        return text(f"state={params.get('requestState')!r}")

    fake.tool("manual", manual, raw=True)
    async with client(fake) as c:
        with_state = await c.call_tool("manual", {"stateful": True})
        without = await c.call_tool("manual", {"stateful": False})
    assert with_state.content == [TextContent(text=f"state={state!r}")]
    assert without.content == [TextContent(text="state=None")]


async def test_input_without_a_handler_is_a_clear_error() -> None:
    fake = server("modern")
    async with Client(fake) as c:
        # the server sees no elicitation capability and refuses (-32021)
        with pytest.raises(McpError) as caught:
            await c.call_tool("ask_person")
        assert caught.value.code == -32021

    manual = FakeServer(era="modern")

    async def ask_anyway(ctx: McpContext, args: dict[str, Any]) -> Any:
        return InputRequiredResult(input_requests={"s": _sampling("?")})

    manual.tool("ask_anyway", ask_anyway)
    async with Client(manual) as c:
        with pytest.raises(InputRequiredError, match="no sampling_handler"):
            await c.call_tool("ask_anyway")


async def test_legacy_input_without_a_handler_is_refused_by_the_server() -> None:
    async with Client(server("legacy")) as c:
        with pytest.raises(McpError) as caught:
            await c.call_tool("ask_person")
    assert caught.value.code == -32021


async def test_rounds_are_capped() -> None:
    fake = FakeServer(era="modern")

    async def forever(ctx: McpContext, args: dict[str, Any]) -> Any:
        return InputRequiredResult(request_state="again")

    fake.tool("forever", forever, raw=True)
    async with Client(fake, max_input_rounds=3) as c:
        with pytest.raises(InputRequiredError, match="after 3 rounds"):
            await c.call_tool("forever")
    assert len(sent(fake, "tools/call")) == 4


async def test_an_unknown_result_type_is_refused() -> None:
    fake = FakeServer(era="modern")

    async def odd(ctx: McpContext, args: dict[str, Any]) -> Any:
        return CallToolResult(content=[], result_type="mystery")

    fake.tool("odd", odd)
    async with Client(fake) as c:
        with pytest.raises(UnexpectedResult, match="unknown resultType 'mystery'"):
            await c.call_tool("odd")


async def test_a_missing_result_type_means_complete() -> None:
    fake = FakeServer(era="modern")

    async def plain(ctx: McpContext, args: dict[str, Any]) -> CallToolResult:
        ctx.protocol_version = "2025-11-25"  # answered in the old shape: no resultType
        return text("plain")

    fake.tool("plain", plain)
    async with Client(fake) as c:
        result = await c.call_tool("plain")
    assert result.content == [TextContent(text="plain")]
    assert result.result_type is None


@pytest.mark.parametrize("era", ERAS)
async def test_prompts_and_resources_may_ask_too(era: str) -> None:
    fake = server(era)
    async with client(fake) as c:
        prompt = await c.get_prompt("greet")
        secret = await c.read_resource("mem://secret")
    assert prompt.messages[0].content == TextContent(text="Hello Ada")
    assert secret.contents == [TextResourceContents(uri="mem://secret", text="{'name': 'Ada'}")]


async def test_a_handler_error_fails_the_modern_call() -> None:
    async def broken(params: Any) -> Any:
        raise RuntimeError("no model")

    async with Client(server("modern"), sampling_handler=broken, roots=[]) as c:
        with pytest.raises(RuntimeError, match="no model"):
            await c.call_tool("ask_everything")


async def test_roots_from_paths_and_a_roots_handler(tmp_path: Path) -> None:
    fake = server("legacy")
    calls = 0

    async def roots_now() -> list[Root]:
        nonlocal calls
        calls += 1
        return [Root(uri=f"file:///r{calls}")]

    async with Client(
        fake, roots_handler=roots_now, sampling_handler=sample, elicitation_handler=elicit
    ) as c:
        first = await c.call_tool("ask_everything")
        second = await c.call_tool("ask_everything")
    assert "file:///r1" in first.content[0].text  # type: ignore[union-attr]
    assert "file:///r2" in second.content[0].text  # type: ignore[union-attr]

    fake = server("legacy")
    async with Client(
        fake, roots=[tmp_path], sampling_handler=sample, elicitation_handler=elicit
    ) as c:
        await c.set_roots([tmp_path / "sub", "file:///elsewhere"])
        result = await c.call_tool("ask_everything")
        await trio.lowlevel.checkpoint()
    assert f"{(tmp_path / 'sub').as_uri()},file:///elsewhere" in result.content[0].text  # type: ignore[union-attr]
    assert [n.method for n in fake.notes] == [
        "notifications/initialized",
        "notifications/roots/list_changed",
    ]


async def test_declared_capabilities_follow_the_handlers() -> None:
    fake = server("legacy")
    async with Client(fake, elicitation_handler=elicit):
        pass
    assert sent(fake, "initialize")[0]["capabilities"] == {"elicitation": {"form": {}, "url": {}}}
    fake = server("modern")
    async with Client(fake, tasks=False):
        pass
    meta = sent(fake, "server/discover")[0]["_meta"]
    assert meta["io.modelcontextprotocol/clientCapabilities"] == {}


@pytest.mark.parametrize("era", ERAS)
async def test_plain_function_handlers_answer_from_a_worker_thread(era: str) -> None:
    """Sync sampling, elicitation and roots handlers may block (a person typing, a
    model SDK): they run in a worker thread, not in the client's event loop."""
    import threading

    threads: set[str] = set()

    def blocking_sample(params: CreateMessageRequestParams) -> str:
        threads.add(threading.current_thread().name)
        message = params.messages[0].content
        assert isinstance(message, TextContent)
        return message.text.upper()

    def blocking_elicit(
        params: ElicitRequestFormParams | ElicitRequestURLParams,
    ) -> dict[str, Any]:
        threads.add(threading.current_thread().name)
        return {"name": "Grace"}

    def blocking_roots() -> list[Root]:
        threads.add(threading.current_thread().name)
        return [Root(uri="file:///sync")]

    fake = server(era)
    async with Client(
        fake,
        sampling_handler=blocking_sample,
        elicitation_handler=blocking_elicit,
        roots_handler=blocking_roots,
    ) as c:
        person = await c.call_tool("ask_person")
        everything = await c.call_tool("ask_everything")
    assert person.content == [TextContent(text="Grace is 30")]
    assert "file:///sync" in everything.content[0].text  # type: ignore[union-attr]
    assert threads
    assert threading.main_thread().name not in threads
