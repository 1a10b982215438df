"""Tool transformation: a new tool made from another - renamed, described anew, with
arguments renamed, re-described, given new defaults, hidden or fixed, and its call
wrapped by a function of your own.

::

    find_products = TransformedTool.from_tool(
        search,
        name="find_products",
        transform_args={
            "q": ArgTransform(name="query", description="what to look for"),
            "api_key": ArgTransform(hide=True, default=KEY),  # fixed: clients never see it
        },
    )
    server.add_tool(find_products)

Everything about the new tool is decided once, when it is made and registered: its
input schema (the parent's, transformed), how its arguments map back to the
parent's. A call maps the arguments it was given (hidden ones get their default, or
their ``default_factory()`` per call) and calls the parent - with the parent's own
argument checks, dependencies and result conversion.

``transform_fn`` replaces the call: an ``async`` function whose parameters are the
new tool's arguments (its schema adds those the parent does not have; a ``**kwargs``
parameter receives all of them), returning the result. Inside it, ``await
forward(**arguments)`` calls the parent with the new tool's argument names
(mapped back), ``await forward_raw(**arguments)`` with the parent's own names; both
return the parent's ``CallToolResult``, which the new tool may return as it is.
This is PrefectHQ fastmcp's ``Tool.from_tool`` (``fastmcp_protocol.Tool`` is the wire
definition here, so the class method lives on ``TransformedTool``).
"""

from __future__ import annotations

import contextvars
import copy
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs
import msgspec

from fastmcp_core import McpContext, ToolError
from fastmcp_protocol import (
    INVALID_PARAMS,
    UNSET,
    CallToolResult,
    Icon,
    McpError,
    Tool,
    ToolAnnotations,
    ToolExecution,
)
from fastmcp_server._handlers import (
    FunctionTool,
    Resolver,
    ToolHandler,
    _missing,
    _no_dependencies,
    _scope_tuple,
    _tag_set,
    _version_text,
    tool,
)
from fastmcp_server._results import ToolOutput, _to_result, tool_output
from fastmcp_server._signature import (
    DEFAULT_OPTIONS,
    CompiledSignature,
    CompilerOptions,
    compile_signature,
    json_schema,
    type_hints,
)

__all__ = ["ArgTransform", "TransformedTool", "forward", "forward_raw"]


class _NotSet:
    def __repr__(self) -> str:
        return "NotSet"


NotSet: Any = _NotSet()
"""An option left as the parent has it."""


@attrs.frozen
class ArgTransform:
    """How one argument of the parent changes in the new tool (every option left
    unset keeps the parent's): ``name``, ``description``, ``default`` (or, for a
    hidden argument, ``default_factory``, called per call), ``type`` (a new annotation
    for its schema), ``hide`` (clients never see it: it needs a default, its own or
    the parent's), ``required``, ``examples``."""

    name: str | None = None
    description: str | None = NotSet
    default: Any = NotSet
    default_factory: Callable[[], Any] | None = None
    type: Any = NotSet
    hide: bool = False
    required: bool | None = NotSet
    examples: Any = NotSet

    def __attrs_post_init__(self) -> None:
        if self.default_factory is not None and not self.hide:
            raise ValueError("default_factory needs hide=True (a schema cannot show it)")
        if self.default_factory is not None and self.default is not NotSet:
            raise ValueError("give default or default_factory, not both")
        if self.required is True and (self.default is not NotSet or self.hide):
            raise ValueError("a required argument has no default and is not hidden")


@attrs.frozen(eq=False)
class _Mapping:
    """How the new tool's arguments become the parent's (fixed when compiled)."""

    to_parent: dict[str, str]
    """New name -> parent name, for every visible argument."""
    hidden: dict[str, ArgTransform]
    """Parent name -> its transform, for every hidden argument with a value to give."""
    defaults: dict[str, tuple[str, Any]]
    """New name -> (parent name, new default), for visible arguments given a default."""

    def parent_arguments(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        mapped: dict[str, Any] = {}
        for name, value in arguments.items():
            parent = self.to_parent.get(name)
            if parent is None:
                if name in self.hidden:
                    raise ToolError(f"unknown argument {name!r}")
                parent = name  # not ours to rename: the parent decides
            mapped[parent] = value
        for new, (parent, default) in self.defaults.items():
            if new not in arguments:
                mapped[parent] = copy.deepcopy(default)
        for parent, transform in self.hidden.items():
            if transform.default_factory is not None:
                mapped[parent] = transform.default_factory()
            elif transform.default is not NotSet:
                mapped[parent] = copy.deepcopy(transform.default)
        return mapped


@attrs.frozen(eq=False)
class _ParentCall:
    """The parent tool, ready to call with raw arguments."""

    definition: Tool
    call_raw: Callable[[McpContext, Any, Resolver], Any]


def _parent_of(
    parent: FunctionTool | TransformedTool | ToolHandler,
    is_dependency: Callable[[Any], bool],
    options: CompilerOptions,
) -> _ParentCall:
    if isinstance(parent, FunctionTool | TransformedTool):
        compiled = parent.compile(is_dependency, options)
        return _ParentCall(compiled.definition, compiled.call_raw)
    handler = parent

    async def call_raw(ctx: McpContext, raw: Any, resolve: Resolver) -> CallToolResult:
        arguments = {} if raw is None or raw is UNSET else msgspec.json.decode(raw)
        if not isinstance(arguments, dict):
            raise McpError(INVALID_PARAMS, "Invalid params: arguments must be an object")
        return _to_result(await handler.call(ctx, arguments))

    return _ParentCall(handler.definition, call_raw)


@attrs.frozen(eq=False)
class _Running:
    compiled: _CompiledTransform
    ctx: McpContext
    resolve: Resolver


_RUNNING: contextvars.ContextVar[_Running] = contextvars.ContextVar("fastmcp_transform")


@attrs.frozen(eq=False)
class _CompiledTransform:
    definition: Tool
    parent: _ParentCall
    mapping: _Mapping
    fn_signature: CompiledSignature | None
    fn: Callable[..., Any] | None
    output: ToolOutput | None

    async def call_raw(self, ctx: McpContext, raw: Any, resolve: Resolver) -> CallToolResult:
        data = b"{}" if raw is None or raw is UNSET else raw
        if self.fn is None:
            try:
                arguments = msgspec.json.decode(data)
            except msgspec.DecodeError as exc:
                raise ToolError(
                    f"Invalid arguments for tool {self.definition.name}: {exc}"
                ) from None
            if not isinstance(arguments, dict):
                arguments = {}
            return await self.forward(ctx, resolve, arguments)
        signature = self.fn_signature
        assert signature is not None
        try:
            args = signature.decoder.decode(data)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise ToolError(f"Invalid arguments for tool {self.definition.name}: {exc}") from None
        extra = None
        if signature.extra_kwargs:
            extra = msgspec.json.decode(data)
            for name in signature.fields:
                extra.pop(name, None)
        kwargs = signature.call_arguments(args, ctx, resolve, extra)
        token = _RUNNING.set(_Running(self, ctx, resolve))
        try:
            value = self.fn(**kwargs)
            if inspect.isawaitable(value):
                value = await value
        finally:
            _RUNNING.reset(token)
        if isinstance(value, CallToolResult) or self.output is None:
            return _to_result(value)
        return self.output.convert(value)

    async def forward(
        self, ctx: McpContext, resolve: Resolver, arguments: Mapping[str, Any]
    ) -> CallToolResult:
        mapped = self.mapping.parent_arguments(arguments)
        result: CallToolResult = await self.parent.call_raw(
            ctx, msgspec.json.encode(mapped), resolve
        )
        return result


async def forward(**arguments: Any) -> CallToolResult:
    """Inside a ``transform_fn``: call the parent tool with ``arguments`` named as the
    new tool names them (renamed back, hidden ones and new defaults added)."""
    running = _running()
    return await running.compiled.forward(running.ctx, running.resolve, arguments)


async def forward_raw(**arguments: Any) -> CallToolResult:
    """Inside a ``transform_fn``: call the parent tool with ``arguments`` as the parent
    names them, nothing added."""
    running = _running()
    result: CallToolResult = await running.compiled.parent.call_raw(
        running.ctx, msgspec.json.encode(arguments), running.resolve
    )
    return result


def _running() -> _Running:
    try:
        return _RUNNING.get()
    except LookupError:
        raise RuntimeError(
            "forward() works inside the transform_fn of a transformed tool"
        ) from None


@attrs.define(eq=False, repr=False)
class TransformedTool:
    """A tool made from another (see the module docstring); register it like any
    tool (``server.add_tool``). Calling it in a test needs an ``McpContext``:
    ``await tool.call(ctx, arguments)``."""

    parent: FunctionTool | TransformedTool | ToolHandler
    name: str
    title: str | None = None
    description: str | None = None
    annotations: ToolAnnotations | None = None
    icons: list[Icon] | None = None
    meta: dict[str, Any] | None = None
    output_schema: dict[str, Any] | Literal[False] | None = None
    transform_args: Mapping[str, ArgTransform] = attrs.field(factory=dict)
    transform_fn: Callable[..., Any] | None = None
    scopes: tuple[str, ...] = attrs.field(default=(), converter=_scope_tuple)
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=_tag_set)
    version: str | None = attrs.field(default=None, converter=_version_text)
    enabled: bool = True
    task: Literal["forbidden", "optional", "required"] = "forbidden"
    defer_task: bool = False
    _compiled: _CompiledTransform | None = attrs.field(default=None, init=False)

    def __repr__(self) -> str:
        return f"<TransformedTool {self.name!r} from {_name_of(self.parent)!r}>"

    @classmethod
    def from_tool(
        cls,
        tool: FunctionTool | TransformedTool | ToolHandler | Callable[..., Any],
        *,
        name: str | None = None,
        title: str | None = NotSet,
        description: str | None = NotSet,
        tags: str | Iterable[str] | None = None,
        annotations: ToolAnnotations | None = NotSet,
        meta: dict[str, Any] | None = NotSet,
        output_schema: dict[str, Any] | Literal[False] | None = None,
        transform_args: Mapping[str, ArgTransform] | None = None,
        transform_fn: Callable[..., Any] | None = None,
        version: str | float | None = None,
        enabled: bool = True,
        scopes: str | Sequence[str] | None = None,
    ) -> TransformedTool:
        """A new tool from ``tool`` (a tool handler, or a function registered with
        ``@server.tool`` or made one with ``@tool``). Options left out are the
        parent's (``meta=None`` and ``title=None`` remove them); ``transform_args``
        maps the parent's argument names to their ``ArgTransform``; ``transform_fn``
        replaces the call (see the module docstring). Raises ``ValueError`` for a
        transform of an argument the parent does not have, a hidden argument without
        a default, or two arguments given one name."""
        parent = _as_handler(tool)
        inherited = parent if isinstance(parent, FunctionTool | TransformedTool) else None
        parent_definition = None if inherited is not None else parent.definition

        def keep(value: Any, attribute: str) -> Any:
            if value is not NotSet:
                return value
            if inherited is not None:
                return getattr(inherited, attribute)
            return getattr(parent_definition, attribute, None)

        transformed = cls(
            parent,
            name or _name_of(parent),
            title=keep(title, "title"),
            description=keep(description, "description"),
            annotations=keep(annotations, "annotations"),
            icons=keep(NotSet, "icons"),
            meta=keep(meta, "meta"),
            output_schema=output_schema,
            transform_args=dict(transform_args or {}),
            transform_fn=transform_fn,
            scopes=_scope_tuple(scopes) if scopes is not None else keep(NotSet, "scopes") or (),
            tags=tags if tags is not None else keep(NotSet, "tags") or (),
            version=version,
            enabled=enabled,
        )
        try:  # the mistakes show now, not at the first call
            definition = parent.definition
        except TypeError:  # its parameters need the server it is registered on
            definition = None
        if definition is not None:
            _transformed_schema(definition, transformed.transform_args)
        return transformed

    def compile(
        self,
        is_dependency: Callable[[Any], bool] = _no_dependencies,
        options: CompilerOptions = DEFAULT_OPTIONS,
    ) -> _CompiledTransform:
        """Compile against a server's dependencies and options (at registration)."""
        parent = _parent_of(self.parent, is_dependency, options)
        properties, required, mapping = _transformed_schema(parent.definition, self.transform_args)
        fn_signature = None
        output = None
        if self.transform_fn is not None:
            hints = type_hints(self.transform_fn, self.name)
            fn_signature = compile_signature(
                self.transform_fn,
                name=self.name,
                is_dependency=is_dependency,
                hints=hints,
                options=options,
            )
            properties, required = _with_function(properties, required, fn_signature)
            if "return" in hints:
                output = tool_output(hints["return"], dereference=options.dereference)
        input_schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            input_schema["required"] = required
        defs = parent.definition.input_schema.get("$defs")
        if defs:
            input_schema["$defs"] = defs
        if self.output_schema is False:
            output_schema = None
        elif self.output_schema is not None:
            output_schema = self.output_schema
        elif output is not None:
            output_schema = output.output_schema
        else:
            output_schema = parent.definition.output_schema
        definition = Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=input_schema,
            output_schema=output_schema,
            annotations=self.annotations,
            icons=self.icons,
            meta=self.meta,
            execution=None if self.task == "forbidden" else ToolExecution(task_support=self.task),
        )
        compiled = _CompiledTransform(
            definition, parent, mapping, fn_signature, self.transform_fn, output
        )
        self._compiled = compiled
        return compiled

    @property
    def definition(self) -> Tool:
        return (self._compiled or self.compile()).definition

    async def call(self, ctx: McpContext, arguments: dict[str, Any]) -> CallToolResult:
        """Call with decoded arguments (outside a server: no provided dependencies)."""
        compiled = self._compiled or self.compile()
        return await compiled.call_raw(ctx, msgspec.json.encode(arguments), _missing)


def _as_handler(
    tool_: FunctionTool | TransformedTool | ToolHandler | Callable[..., Any],
) -> FunctionTool | TransformedTool | ToolHandler:
    if isinstance(tool_, FunctionTool | TransformedTool):
        return tool_
    registered = getattr(tool_, "__fastmcp_tool__", None)
    if isinstance(registered, FunctionTool):
        return registered  # the function @server.tool registered, with its options
    if inspect.isroutine(tool_):
        return tool(tool_)
    if isinstance(tool_, ToolHandler):
        return tool_
    raise TypeError(f"from_tool takes a tool or a function, not {tool_!r}")


def _name_of(handler: FunctionTool | TransformedTool | ToolHandler) -> str:
    if isinstance(handler, FunctionTool | TransformedTool):
        return handler.name
    return handler.definition.name


def _transformed_schema(
    parent: Tool, transforms: Mapping[str, ArgTransform]
) -> tuple[dict[str, Any], list[str], _Mapping]:
    schema = parent.input_schema
    parent_properties: dict[str, Any] = schema.get("properties") or {}
    parent_required = set(schema.get("required") or ())
    unknown = set(transforms) - set(parent_properties)
    if unknown:
        raise ValueError(f"{parent.name} has no arguments {sorted(unknown)} to transform")
    properties: dict[str, Any] = {}
    required: list[str] = []
    to_parent: dict[str, str] = {}
    hidden: dict[str, ArgTransform] = {}
    defaults: dict[str, tuple[str, Any]] = {}
    for name, prop in parent_properties.items():
        transform = transforms.get(name, ArgTransform())
        has_default = "default" in prop or name not in parent_required
        if transform.hide:
            if transform.default is NotSet and transform.default_factory is None:
                if not has_default:
                    raise ValueError(
                        f"{parent.name}: argument {name!r} has no default to hide it with: "
                        "give one (ArgTransform(hide=True, default=...))"
                    )
                continue  # the parent's own default applies
            hidden[name] = transform
            continue
        new_name = transform.name or name
        if new_name in properties:
            raise ValueError(f"{parent.name}: two arguments would be named {new_name!r}")
        new = dict(prop)
        if transform.type is not NotSet:
            typed = json_schema(transform.type)
            new = {**typed, **{k: v for k, v in new.items() if k in ("description", "default")}}
        if transform.description is not NotSet:
            if transform.description is None:
                new.pop("description", None)
            else:
                new["description"] = transform.description
        if transform.examples is not NotSet:
            new["examples"] = transform.examples
        is_required = name in parent_required
        if transform.default is not NotSet:
            new["default"] = msgspec.to_builtins(transform.default)
            defaults[new_name] = (name, transform.default)
            is_required = False
        if transform.required is True:
            is_required = True
        elif transform.required is False and is_required:
            is_required = False
        properties[new_name] = new
        to_parent[new_name] = name
        if is_required:
            required.append(new_name)
    return properties, required, _Mapping(to_parent, hidden, defaults)


def _with_function(
    properties: dict[str, Any], required: list[str], signature: CompiledSignature
) -> tuple[dict[str, Any], list[str]]:
    """The schema of a tool whose call is ``transform_fn``: its parameters (the
    transformed parent's schema of those it shares with the parent), and, with
    ``**kwargs``, every transformed argument of the parent too."""
    fn_properties: dict[str, Any] = signature.input_schema.get("properties") or {}
    fn_required = set(signature.input_schema.get("required") or ())
    merged: dict[str, Any] = dict(properties) if signature.extra_kwargs else {}
    needed = [name for name in required if name in merged]
    for name in signature.fields:
        merged[name] = properties.get(name, fn_properties.get(name, {}))
        if name in fn_required and name not in needed:
            needed.append(name)
        elif name not in fn_required and name in needed:
            needed.remove(name)
    return merged, needed
