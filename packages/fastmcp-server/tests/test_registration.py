"""Registration: both styles, what each returns, and what is derived from signatures."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, TypedDict

import attrs
import msgspec
import pytest
import trio

from fastmcp_core import McpContext
from fastmcp_protocol import (
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    TextContent,
    Tool,
    ToolAnnotations,
)
from fastmcp_server import (
    FunctionPrompt,
    FunctionResource,
    FunctionResourceTemplate,
    FunctionTool,
    Image,
    Server,
    prompt,
    resource,
    tool,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 8


@tool(description="Calculate the sum of two numbers")
async def add(ctx: McpContext, a: int, b: int) -> str:
    await ctx.checkpoint()
    return str(a + b)


@resource("config://settings", description="Application config")
def config() -> str:
    return '{"theme":"dark"}'


@prompt(description="Generate a greeting message")
async def greeting(name: str) -> str:
    return f"Please greet {name} warmly."


def test_the_builder_chain_reads_left_to_right() -> None:
    server = Server("s", "1.0").tool(add).resource(config).prompt(greeting).request_timeout(30)
    assert isinstance(server, Server)
    assert server.default_request_timeout == 30
    assert [t.name for t in server.definitions("tools")] == ["add"]
    assert server.definitions("tools")[0].description == "Calculate the sum of two numbers"
    assert [r.uri for r in server.definitions("resources")] == ["config://settings"]
    assert [p.name for p in server.definitions("prompts")] == ["greeting"]


async def test_free_decorators_return_callable_handlers() -> None:
    assert isinstance(add, FunctionTool)
    assert isinstance(config, FunctionResource)
    assert isinstance(greeting, FunctionPrompt)
    assert await add(McpContext.for_testing(), 2, 3) == "5"  # still the function
    assert config() == '{"theme":"dark"}'
    assert add.__doc__ is None
    assert add.__name__ == "add"


def test_instance_decorators_return_the_function_unchanged() -> None:
    server = Server("s")

    async def plain(x: int) -> int:
        return x

    assert server.tool(plain) is plain

    @server.tool(name="renamed", title="Renamed")
    def other(x: int) -> int:
        return x

    assert other(3) == 3

    @server.resource("users://{id}")
    def user(id: str) -> str:
        return id

    assert user("x") == "x"

    @server.prompt
    def p(topic: str) -> str:
        return topic

    assert p("t") == "t"
    assert {t.name for t in server.definitions("tools")} == {"plain", "renamed"}
    assert isinstance(server.registry.templates["users://{id}"], FunctionResourceTemplate)


def test_tools_made_by_one_factory_each_get_their_own_schema() -> None:
    """Alike functions from one ``def`` share resolved hints; ones that differ do not."""

    def make(name: str, annotations: dict[str, Any] | None, default: Any = 0) -> Any:
        def fn(x: int, label: str = "") -> str:
            return f"{label}{x}"

        fn.__name__ = name
        fn.__defaults__ = (default,)
        if annotations is not None:
            fn.__annotations__ = annotations
        return fn

    server = Server("s")
    server.tool(make("plain", None, ""))
    server.tool(make("alike", None, ""))
    server.tool(make("floats", {"x": "float", "label": "str", "return": "str"}, ""))
    server.tool(make("prefixed", None, "n: "))
    schemas = {t.name: t.input_schema for t in server.definitions("tools")}
    assert schemas["plain"] == schemas["alike"]
    assert schemas["plain"]["properties"]["x"] == {"type": "integer"}
    assert schemas["floats"]["properties"]["x"] == {"type": "number"}
    assert schemas["prefixed"]["properties"]["label"]["default"] == "n: "


def test_tool_names_are_validated() -> None:
    with pytest.raises(ValueError, match="invalid tool name"):
        tool(name="has space")(lambda: None)
    with pytest.raises(ValueError, match="invalid tool name"):
        tool(name="x" * 129)(lambda: None)
    tool(name="ok.name-1_2")(lambda: None)


class Point(msgspec.Struct):
    x: int
    y: int = 0


class Db:
    pass


def test_input_schema_from_signature_and_docstring() -> None:
    server = Server("s").provide(Db, Db())

    @server.tool
    async def move(
        ctx: McpContext,
        db: Db,
        point: Point,
        speed: Annotated[float, msgspec.Meta(ge=0, description="metres per second")] = 1.0,
        label: Annotated[str, "shown to the user"] = "",
        tags: list[str] | None = None,
    ) -> None:
        """Move a point.

        Args:
            point: where to go
            tags: free-form tags
        """

    definition = server.registry.tools["move"].definition
    assert definition.description == "Move a point."
    schema = definition.input_schema
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {"point", "speed", "label", "tags"}  # no ctx, no db
    assert schema["required"] == ["point"]
    assert schema["properties"]["point"]["description"] == "where to go"
    assert schema["properties"]["point"]["required"] == ["x"]  # inlined: no $ref to follow
    assert "$defs" not in schema
    assert schema["properties"]["speed"] == {
        "type": "number",
        "minimum": 0,
        "description": "metres per second",
        "default": 1.0,
    }
    assert schema["properties"]["label"]["description"] == "shown to the user"
    assert schema["properties"]["tags"]["description"] == "free-form tags"
    assert definition.output_schema is None


def test_docstring_styles() -> None:
    from fastmcp_server._signature import parse_docstring

    numpy = "Summary.\n\nParameters\n----------\nx : int\n    The x.\ny : str\n    The y.\n\nReturns\n-------\nint\n"
    assert parse_docstring(numpy) == ("Summary.", {"x": "The x.", "y": "The y."})
    sphinx = "Summary.\n\n:param x: the x\n:param int y: the y\n:returns: z"
    assert parse_docstring(sphinx) == ("Summary.", {"x": "the x", "y": "the y"})


@dataclasses.dataclass
class Weather:
    city: str
    celsius: float


@attrs.define
class Forecast:
    days: int


class Summary(TypedDict):
    text: str


@pytest.mark.parametrize(
    ("annotation", "value", "structured", "text"),
    [
        (int, 3, {"result": 3}, "3"),
        (str, "hi", {"result": "hi"}, "hi"),
        (list[int], [1, 2], {"result": [1, 2]}, "[1,2]"),
        (Point, Point(1, 2), {"x": 1, "y": 2}, '{"x":1,"y":2}'),
        (
            Weather,
            Weather("Paris", 21.5),
            {"city": "Paris", "celsius": 21.5},
            '{"city":"Paris","celsius":21.5}',
        ),
        (Forecast, Forecast(3), {"days": 3}, '{"days":3}'),
        (Summary, {"text": "ok"}, {"text": "ok"}, '{"text":"ok"}'),
        (dict[str, int], {"a": 1}, {"a": 1}, '{"a":1}'),
    ],
)
async def test_structured_output_from_the_return_annotation(
    annotation: Any, value: Any, structured: Any, text: str
) -> None:
    def fn() -> None: ...

    fn.__annotations__["return"] = annotation
    compiled = FunctionTool(lambda: value, "t").compile()
    handler = tool(name="t")(fn)
    compiled = handler.compile()
    assert compiled.definition.output_schema is not None
    assert compiled.definition.output_schema["type"] == "object"
    result = compiled.output.convert(value)
    assert result.structured_content == structured
    assert result.content == [TextContent(text=text)]


async def test_content_returns_have_no_output_schema() -> None:
    async def picture() -> Image:
        return Image(data=PNG)

    compiled = tool(picture).compile()
    assert compiled.definition.output_schema is None
    result = compiled.output.convert(await picture())
    assert isinstance(result.content[0], ImageContent)
    assert result.content[0].mime_type == "image/png"

    async def mixed() -> list[TextContent | ImageContent]:
        return []

    assert tool(mixed).compile().definition.output_schema is None

    async def raw() -> CallToolResult:
        return CallToolResult(content=[], is_error=True)

    compiled = tool(raw).compile()
    assert compiled.output.convert(await raw()).is_error is True


def test_unannotated_values_become_content_by_type() -> None:
    compiled = FunctionTool(lambda: None, "t").compile()
    convert = compiled.output.convert
    assert convert(None).content == []
    assert convert("x").content == [TextContent(text="x")]
    assert convert({"a": 1}).content == [TextContent(text='{"a":1}')]
    blob = convert(b"\x00\x01").content[0]
    assert isinstance(blob, EmbeddedResource)
    assert convert(["a", Image(data=PNG)]).content[0] == TextContent(text="a")


def test_verbatim_schemas_and_definition_fields() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
    }

    @tool(
        input_schema=schema,
        title="T",
        annotations=ToolAnnotations(read_only_hint=True),
        meta={"k": 1},
        output_schema=False,
    )
    def t(**kwargs: Any) -> dict[str, Any]:
        return kwargs

    definition = t.definition
    assert definition.input_schema is schema
    assert definition.output_schema is None
    assert (definition.title, definition.annotations, definition.meta) == (
        "T",
        ToolAnnotations(read_only_hint=True),
        {"k": 1},
    )


def test_hand_written_tool_handler() -> None:
    class Echo:
        @property
        def definition(self) -> Tool:
            return Tool(name="echo", input_schema={"type": "object"})

        async def call(self, ctx: McpContext, arguments: dict[str, Any]) -> Any:
            return arguments

    server = Server("s").tool(Echo())
    assert isinstance(server, Server)
    assert server.registry.tools["echo"].handler is not None


def test_resource_templates_need_matching_parameters() -> None:
    server = Server("s")
    with pytest.raises(TypeError, match="not variables"):

        @server.resource("users://{id}")
        def bad(name: str) -> str:
            return name

    with pytest.raises(TypeError, match="takes no parameters"):

        @server.resource("static://x")
        def also_bad(name: str) -> str:
            return name


def test_prompt_arguments_from_signature() -> None:
    @prompt
    def review(code: str, language: Annotated[str, "the language"] = "python") -> str:
        """Review code."""
        return code

    definition = review.definition
    assert definition.description == "Review code."
    assert [(a.name, a.required, a.description) for a in definition.arguments or []] == [
        ("code", True, None),
        ("language", False, "the language"),
    ]


def test_unsupported_parameters_are_refused() -> None:
    with pytest.raises(TypeError, match=r"\*args"):
        tool(name="splat")(lambda *args: None).compile()


class _Opaque:
    def __init__(self, handle: int) -> None:
        self.handle = handle


@pytest.mark.parametrize("annotation", [object, _Opaque, complex, trio.Lock])
def test_a_parameter_no_client_can_send_is_named(annotation: Any) -> None:
    async def needs(count: int, thing: Any) -> str:
        return ""

    needs.__annotations__ = {"count": int, "thing": annotation, "return": str}
    shown = annotation.__name__
    with pytest.raises(TypeError) as caught:
        tool(needs).compile()
    message = str(caught.value)
    assert message.startswith(f"needs: parameter 'thing' has type {shown}, which a client")
    assert "annotate it McpContext, or give its type to Server(dependencies=...)" in message
    assert "schema_hook" not in message
