"""McpContext: budgets, progress and logging, asking the client in both eras, testing."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from core_support import TableDispatcher, pipe, request, start, text

from fastmcp_core import (
    Budget,
    McpContext,
    MissingCapability,
    RequestStateSealer,
    Session,
    binding_of,
)
from fastmcp_protocol import (
    CallToolResult,
    ClientCapabilities,
    CreateMessageResult,
    ElicitationCapability,
    ElicitResult,
    ListRootsResult,
    Result,
    Root,
    RootsCapability,
    SamplingCapability,
    TextContent,
    decode,
)


class Person(msgspec.Struct):
    name: str
    age: int = 0


# -- budget through the context ----------------------------------------------------------


async def test_poll_quota_cancels_at_the_checkpoint_that_exceeds_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    passed: list[int] = []

    async def loop(ctx: McpContext, params: dict[str, Any]) -> Result:
        ctx.restrict(Budget(poll_quota=3))
        for i in range(10):
            await ctx.checkpoint()
            passed.append(i)
        return Result()

    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, TableDispatcher({"work": loop}))
        await peer.send(request(1, "work"))
        reply = await peer.next()
        assert passed == [0, 1, 2]
        assert reply["error"] == {
            "code": -32001,
            "message": "Request cancelled: its poll budget is spent",
        }
        nursery.cancel_scope.cancel()


async def test_cost_quota_exhaustion_cancels_the_request(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def spend(ctx: McpContext, params: dict[str, Any]) -> Result:
        ctx.restrict(Budget(cost_quota=10))
        ctx.consume(4)
        assert ctx.budget().cost_quota == 6
        ctx.consume(7)  # more than is left
        assert ctx.is_cancelled()
        await trio.sleep(1)
        return Result()

    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, TableDispatcher({"work": spend}))
        await peer.send(request(1, "work"))
        reply = await peer.next()
        assert reply["error"]["code"] == -32001
        assert "cost budget" in reply["error"]["message"]
        nursery.cancel_scope.cancel()


async def test_per_handler_budget_tightens_the_server_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[float] = []

    async def slow(ctx: McpContext, params: dict[str, Any]) -> Result:
        seen.append(ctx.budget().remaining())
        ctx.restrict(Budget.with_timeout(5))
        ctx.restrict(Budget.with_timeout(500))  # never loosens
        seen.append(ctx.budget().remaining())
        await trio.sleep(60)
        return Result()

    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, TableDispatcher({"work": slow}), request_timeout=30)
        t0 = trio.current_time()
        await peer.send(request(1, "work"))
        reply = await peer.next()
        assert trio.current_time() - t0 == pytest.approx(5)
        assert seen == [pytest.approx(30), pytest.approx(5)]
        assert reply["error"]["code"] == -32001
        nursery.cancel_scope.cancel()


# -- asking the client: legacy era (server-to-client requests) ----------------------------


class ClientSide:
    """Answers server-to-client requests like a client would."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def route(self, ctx: McpContext, req: Any) -> Any:
        self.seen.append(req.method)
        params = msgspec.json.decode(req.params)

        async def answer() -> Any:
            if req.method == "elicitation/create":
                assert params["requestedSchema"]["properties"]["name"] == {"type": "string"}
                return ElicitResult(action="accept", content={"name": "Ada", "age": 36})
            if req.method == "sampling/createMessage":
                prompt = params["messages"][0]["content"]["text"]
                return CreateMessageResult(
                    role="assistant", content=TextContent(text=prompt.upper()), model="m"
                )
            return ListRootsResult(roots=[Root(uri="file:///src", name="src")])

        return answer

    async def notification(self, note: Any) -> None:
        pass


CAPS = ClientCapabilities(
    elicitation=ElicitationCapability(form={}),
    sampling=SamplingCapability(),
    roots=RootsCapability(),
)


async def test_legacy_elicit_sample_and_roots_are_server_to_client_requests() -> None:
    async def tool(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        person = await ctx.elicit("Who are you?", Person)
        answer = await ctx.sample("hello")
        roots = await ctx.list_roots()
        assert person.accepted
        assert person.data == Person(name="Ada", age=36)
        assert isinstance(answer.content, TextContent)
        return text(f"{person.data.name}|{answer.content.text}|{roots[0].uri}")

    def prepare(ctx: McpContext, params: dict[str, Any]) -> None:
        ctx.client_capabilities = CAPS

    a, b = pipe()
    client_side = ClientSide()
    async with trio.open_nursery() as nursery:
        await nursery.start(Session(a, TableDispatcher({"tools/call": tool}, prepare=prepare)).run)
        client = Session(b, client_side)
        await nursery.start(client.run)
        result = await client.request("tools/call", {"name": "t"}, CallToolResult)
        assert result.content == [TextContent(text="Ada|HELLO|file:///src")]
        assert client_side.seen == ["elicitation/create", "sampling/createMessage", "roots/list"]
        nursery.cancel_scope.cancel()


async def test_asking_without_the_capability_is_a_protocol_error() -> None:
    async def tool(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
        await ctx.sample("hi")
        return text("unreachable")

    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, TableDispatcher({"tools/call": tool}))
        await peer.send(request(1, "tools/call", {"name": "t"}))
        reply = await peer.next()
        assert reply["error"]["code"] == -32021
        assert reply["error"]["data"] == {"requiredCapabilities": {"sampling": {}}}
        nursery.cancel_scope.cancel()


# -- asking the client: modern era (multi round-trip requests) ---------------------------

SEALER = RequestStateSealer(key=b"k" * 32)


def modern(ctx: McpContext, params: dict[str, Any]) -> None:
    ctx.client_capabilities = CAPS
    ctx.begin_input_round(
        SEALER,
        binding_of("tools/call", {"name": params["name"], "arguments": params.get("arguments")}),
        request_state=params.get("requestState"),
        input_responses=params.get("inputResponses"),
    )


async def two_questions(ctx: McpContext, params: dict[str, Any]) -> CallToolResult:
    person = await ctx.elicit("Who are you?", Person)
    assert person.data is not None
    reply = await ctx.sample(f"greet {person.data.name}")
    assert isinstance(reply.content, TextContent)
    return text(reply.content.text)


async def test_modern_ask_is_answered_over_rounds_without_server_state() -> None:
    dispatcher = TableDispatcher(
        {"tools/call": two_questions}, version="2026-07-28", prepare=modern
    )
    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, dispatcher)
        base = {"name": "greeter", "arguments": {"lang": "en"}}

        await peer.send(request(1, "tools/call", base))
        first = (await peer.next())["result"]
        assert first["resultType"] == "input_required"
        assert list(first["inputRequests"]) == ["elicit-1"]
        assert first["inputRequests"]["elicit-1"]["method"] == "elicitation/create"
        state1 = first["requestState"]

        answer = {"elicit-1": {"action": "accept", "content": {"name": "Ada"}}}
        await peer.send(
            request(2, "tools/call", {**base, "inputResponses": answer, "requestState": state1})
        )
        second = (await peer.next())["result"]
        assert list(second["inputRequests"]) == ["sample-2"]
        assert (
            second["inputRequests"]["sample-2"]["params"]["messages"][0]["content"]["text"]
            == "greet Ada"
        )

        # the state carries the first answer: only the new one is sent back
        sampled = {
            "sample-2": {
                "role": "assistant",
                "content": {"type": "text", "text": "Hi Ada"},
                "model": "m",
            }
        }
        await peer.send(
            request(
                3,
                "tools/call",
                {**base, "inputResponses": sampled, "requestState": second["requestState"]},
            )
        )
        done = await peer.next()
        assert done["result"]["content"] == [{"type": "text", "text": "Hi Ada"}]
        assert done["result"]["resultType"] == "complete"
        nursery.cancel_scope.cancel()


async def test_tampered_or_foreign_request_state_is_rejected() -> None:
    dispatcher = TableDispatcher(
        {"tools/call": two_questions}, version="2026-07-28", prepare=modern
    )
    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, dispatcher)
        base = {"name": "greeter", "arguments": {"lang": "en"}}
        await peer.send(request(1, "tools/call", base))
        state = (await peer.next())["result"]["requestState"]

        middle = len(state) // 2
        forged = state[:middle] + ("A" if state[middle] != "A" else "B") + state[middle + 1 :]
        other = {"name": "greeter", "arguments": {"lang": "fr"}}
        for rid, params, why in [
            (2, {**base, "requestState": forged}, "failed verification"),
            (3, {**other, "requestState": state}, "another request"),
            (4, {**base, "requestState": "garbage"}, "malformed"),
        ]:
            await peer.send(request(rid, "tools/call", params))
            reply = await peer.next()
            assert reply["error"]["code"] == -32602, reply
            assert why in reply["error"]["message"]
        nursery.cancel_scope.cancel()


async def test_modern_ask_outside_tools_prompts_and_reads_is_refused() -> None:
    async def lister(ctx: McpContext, params: dict[str, Any]) -> Result:
        await ctx.list_roots()
        return Result()

    dispatcher = TableDispatcher({"tools/list": lister}, version="2026-07-28", prepare=modern_caps)
    async with trio.open_nursery() as nursery:
        _, peer = await start(nursery, dispatcher)
        await peer.send(request(1, "tools/list", {"name": "x"}))
        assert (await peer.next())["error"]["code"] == -32602
        nursery.cancel_scope.cancel()


def modern_caps(ctx: McpContext, params: dict[str, Any]) -> None:
    ctx.client_capabilities = CAPS


def test_sealed_state_expires() -> None:
    short = RequestStateSealer(key=b"x" * 32, ttl=-1)
    token = short.seal("b", {"k": 1})
    with pytest.raises(Exception, match="expired"):
        short.open(token, "b")
    fresh = RequestStateSealer(key=b"x" * 32)
    assert fresh.open(fresh.seal("b", {"k": 1}), "b") == {"k": 1}
    with pytest.raises(Exception, match="another principal"):
        fresh.open(fresh.seal("b", {}, "alice"), "b", "bob")


# -- for_testing -------------------------------------------------------------------------


async def process_items(ctx: McpContext, items: list[str]) -> list[str]:
    out = []
    for i, item in enumerate(items):
        await ctx.checkpoint()
        await ctx.report_progress(i + 1, len(items))
        await ctx.info(f"processed {item}")
        out.append(item.upper())
    return out


async def test_for_testing_records_progress_and_logs() -> None:
    ctx = McpContext.for_testing()
    assert await process_items(ctx, ["a", "b"]) == ["A", "B"]
    assert [(p.progress, p.total) for p in ctx.progress] == [(1, 2), (2, 2)]
    assert [m.data for m in ctx.logs] == ["processed a", "processed b"]


async def test_for_testing_enforces_the_budget_and_offers_a_region(
    autojump_clock: trio.testing.MockClock,
) -> None:
    finished: list[int] = []

    async def child(i: int) -> None:
        await trio.sleep(i)
        finished.append(i)

    async with McpContext.for_testing(budget=Budget.with_timeout(2.5)) as ctx:
        for i in range(1, 5):
            ctx.spawn(child, i)
    assert finished == [1, 2]
    assert ctx.is_cancelled()

    plain = McpContext.for_testing()
    with pytest.raises(RuntimeError, match="task region"):
        plain.spawn(child, 1)


async def test_a_testing_region_can_be_restricted(autojump_clock: trio.testing.MockClock) -> None:
    async with McpContext.for_testing() as ctx:
        ctx.restrict(Budget.with_timeout(1))
        with pytest.raises(trio.Cancelled):
            await trio.sleep(2)
    assert ctx.is_cancelled()


async def test_for_testing_answers_questions_to_the_client() -> None:
    ctx = McpContext.for_testing(
        elicit=lambda req: ElicitResult(action="accept", content={"name": "Bo"}),
        roots=[Root(uri="file:///x")],
    )
    got = await ctx.elicit("name?", Person)
    assert got.data == Person(name="Bo")
    assert [r.uri for r in await ctx.list_roots()] == ["file:///x"]
    with pytest.raises(MissingCapability):
        await ctx.sample("no sampling was given")

    declined = McpContext.for_testing(elicit=lambda req: ElicitResult(action="decline"))
    answer = await declined.elicit("name?", Person)
    assert (answer.action, answer.data, answer.accepted) == ("decline", None, False)


async def test_dependencies_and_lifespan_are_reachable() -> None:
    class Db:
        pass

    db = Db()
    ctx = McpContext.for_testing(dependencies={Db: db}, lifespan={"pool": 3})
    assert ctx.dependency(Db) is db
    assert ctx.lifespan == {"pool": 3}
    with pytest.raises(LookupError, match="int"):
        ctx.dependency(int)


def test_form_schema_from_a_type() -> None:
    from fastmcp_core import form_schema

    schema = form_schema(Person)
    assert msgspec.to_builtins(schema) == {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "default": 0}},
        "required": ["name"],
    }
    assert decode(msgspec.json.encode(schema), type(schema)) == schema
