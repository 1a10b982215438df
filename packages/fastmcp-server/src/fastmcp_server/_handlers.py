"""Tools, resources and prompts: the handler protocols and their function-backed forms.

A handler is a definition (what ``*/list`` shows) and an async call. Write one by
hand by implementing ``ToolHandler``, ``ResourceHandler`` or ``PromptHandler``, or let
the decorators build one from a function: ``@tool``, ``@resource(uri)`` and
``@prompt`` (free, for the builder chain: ``Server(...).tool(add)``) or the same
methods on a server instance. A function handler is compiled when it is registered
(schema, argument decoder, injections, result conversion) and is still callable like
the function it wraps, so unit tests can call it directly.

``scopes=[...]`` on any of them names the OAuth scopes a caller's token must hold
to call the tool, read the resource or get the prompt when the server runs over HTTP
with authorization (``fastmcp_server.auth``); without authorization it has no effect.
A hand-written handler declares them with a ``scopes`` attribute.

Sync ``def`` handlers run in a worker thread (``trio.to_thread``, abandoned on
cancellation so a stuck handler cannot hold a request); use
``ctx.checkpoint_sync()`` inside them to notice cancellation. Pass ``thread=False``
for handlers that are fast and never block.
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, overload, runtime_checkable

import attrs
import msgspec
import trio

from fastmcp_core import Budget, McpContext, ToolError, is_async_callable
from fastmcp_protocol import (
    INVALID_PARAMS,
    UNSET,
    Annotations,
    CallToolResult,
    GetPromptResult,
    Icon,
    McpError,
    Prompt,
    PromptArgument,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    Tool,
    ToolAnnotations,
    ToolExecution,
)
from fastmcp_server._depends import call_with
from fastmcp_server._results import (
    ToolOutput,
    _to_result,
    prompt_messages,
    resource_contents,
    tool_output,
)
from fastmcp_server._signature import (
    DEFAULT_OPTIONS,
    CompiledSignature,
    CompilerOptions,
    Injection,
    compile_signature,
    type_hints,
)

if TYPE_CHECKING:
    from fastmcp_server._uri_template import UriTemplate

__all__ = [
    "Completer",
    "FunctionPrompt",
    "FunctionResource",
    "FunctionResourceTemplate",
    "FunctionTool",
    "PromptHandler",
    "ResourceHandler",
    "ResourceTemplateHandler",
    "ToolHandler",
    "prompt",
    "resource",
    "tool",
]

F = TypeVar("F", bound=Callable[..., Any])
TaskSupport = Literal["forbidden", "optional", "required"]
Resolver = Callable[[Injection], Any]
"""Finds the value of an injected dependency (given by the server)."""

_NULL = msgspec.Raw(b"null")
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


# -- protocols ---------------------------------------------------------------------------


@runtime_checkable
class ToolHandler(Protocol):
    """A tool: its definition and how to call it.

    ``call`` returns a ``CallToolResult`` (or any value, converted like a function
    tool's unannotated return). Raise ``ToolError`` for failures the model should
    see; an unexpected exception becomes a masked ``isError`` result.
    """

    @property
    def definition(self) -> Tool: ...

    async def call(self, ctx: McpContext, arguments: dict[str, Any]) -> Any: ...


@runtime_checkable
class ResourceHandler(Protocol):
    """A resource with a fixed URI: its definition and how to read it."""

    @property
    def definition(self) -> Resource: ...

    async def read(self, ctx: McpContext, uri: str) -> ReadResourceResult: ...


@runtime_checkable
class ResourceTemplateHandler(Protocol):
    """A family of resources named by an RFC 6570 URI template."""

    @property
    def definition(self) -> ResourceTemplate: ...

    def match(self, uri: str) -> dict[str, str] | None: ...

    async def read(
        self, ctx: McpContext, uri: str, variables: dict[str, str]
    ) -> ReadResourceResult: ...


@runtime_checkable
class PromptHandler(Protocol):
    """A prompt: its definition and how to fill it with arguments."""

    @property
    def definition(self) -> Prompt: ...

    async def get(self, ctx: McpContext, arguments: dict[str, str]) -> GetPromptResult: ...


Completer = Callable[..., Any]
"""Completes an argument: called with the partial ``value`` (and, if it accepts them,
``context``: the other arguments already given, and an ``McpContext``); returns
(or awaits to) a list of strings."""


# -- calling user functions --------------------------------------------------------------


@attrs.frozen(repr=False)
class _Call:
    """How to call one user function (fixed at registration)."""

    fn: Callable[..., Any]
    is_async: bool
    thread: bool
    timeout: float | None

    async def __call__(self, ctx: McpContext, kwargs: dict[str, Any]) -> Any:
        if self.timeout is not None:
            ctx.restrict(Budget.with_timeout(self.timeout))
        if self.is_async:
            return await self.fn(**kwargs)
        if self.thread:
            return await trio.to_thread.run_sync(
                functools.partial(self.fn, **kwargs), abandon_on_cancel=True
            )
        return self.fn(**kwargs)


async def _run(
    signature: CompiledSignature,
    call: _Call,
    ctx: McpContext,
    resolve: Resolver,
    kwargs: dict[str, Any],
) -> Any:
    """``call`` with ``kwargs``, the ``Depends`` parameters made first (and cleaned up
    after) when there are any."""
    if signature.depends:
        return await call_with(signature.depends, ctx, resolve, kwargs, partial(call, ctx))
    return await call(ctx, kwargs)


def _call_plan(fn: Callable[..., Any], thread: bool | None, timeout: float | None) -> _Call:
    is_async = is_async_callable(fn)
    return _Call(fn, is_async, thread is not False and not is_async, timeout)


def _return_annotation(hints: dict[str, Any]) -> Any:
    from fastmcp_server._results import _MISSING

    return hints.get("return", _MISSING)


def _scope_tuple(scopes: str | Iterable[str]) -> tuple[str, ...]:
    """``scopes=`` as given: a list of scopes, or one space-separated string."""
    if isinstance(scopes, str):
        return tuple(scopes.split())
    return tuple(scopes)


def _tag_set(tags: str | Iterable[str] | None) -> frozenset[str]:
    """``tags=`` as given: a set (or any iterable) of tags, or one tag."""
    if not tags:
        return frozenset()
    if isinstance(tags, str):
        return frozenset({tags})
    return frozenset(tags)


def _version_text(version: str | float | None) -> str | None:
    return None if version is None else str(version)


def _no_dependencies(_: Any) -> bool:
    return False


def _missing(injection: Injection) -> Any:
    if injection.optional:
        return None
    raise LookupError(
        f"no dependency of type {getattr(injection.type, '__name__', injection.type)} is registered"
    )


class _StandsForFunction:
    """Base of the ``Function*`` handlers: the decorated name still works as the
    function (calling the handler calls it; ``functools.update_wrapper`` in each
    ``__attrs_post_init__`` gives it the function's name and docstring)."""

    fn: Callable[..., Any]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


# -- tools -------------------------------------------------------------------------------


@attrs.define(eq=False, slots=False)
class FunctionTool(_StandsForFunction):
    """A tool made from a function (see ``tool``). Calling it calls the function."""

    fn: Callable[..., Any]
    name: str
    title: str | None = None
    description: str | None = None
    annotations: ToolAnnotations | None = None
    icons: list[Icon] | None = None
    meta: dict[str, Any] | None = None
    timeout: float | None = None
    thread: bool | None = None
    task: TaskSupport = "forbidden"
    defer_task: bool = False
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | Literal[False] | None = None
    scopes: tuple[str, ...] = attrs.field(default=(), converter=_scope_tuple)
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=_tag_set)
    version: str | None = attrs.field(default=None, converter=_version_text)
    enabled: bool = True
    _compiled: _CompiledTool | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        if not _TOOL_NAME.match(self.name):
            raise ValueError(
                f"invalid tool name {self.name!r}: use 1-128 characters among A-Z a-z 0-9 _ . -"
            )
        functools.update_wrapper(self, self.fn, updated=())

    def compile(
        self,
        is_dependency: Callable[[Any], bool] = _no_dependencies,
        options: CompilerOptions = DEFAULT_OPTIONS,
    ) -> _CompiledTool:
        """Compile against a server's dependency registry (done at registration)."""
        hints = type_hints(self.fn, self.name)
        signature = compile_signature(
            self.fn, name=self.name, is_dependency=is_dependency, hints=hints, options=options
        )
        output = tool_output(_return_annotation(hints), dereference=options.dereference)
        if self.output_schema is False:
            output = ToolOutput(None, _to_result)
        elif self.output_schema is not None:
            output = ToolOutput(self.output_schema, output.convert)
        definition = Tool(
            name=self.name,
            title=self.title,
            description=self.description or signature.description,
            input_schema=self.input_schema
            if self.input_schema is not None
            else signature.input_schema,
            output_schema=output.output_schema,
            annotations=self.annotations,
            icons=self.icons,
            meta=self.meta,
            execution=None if self.task == "forbidden" else ToolExecution(task_support=self.task),
        )
        compiled = _CompiledTool(
            definition, signature, output, _call_plan(self.fn, self.thread, self.timeout), self.task
        )
        self._compiled = compiled
        return compiled

    @property
    def definition(self) -> Tool:
        return (self._compiled or self.compile()).definition

    async def call(self, ctx: McpContext, arguments: dict[str, Any]) -> CallToolResult:
        """Call with already-decoded arguments (the server uses the raw fast path)."""
        compiled = self._compiled or self.compile()
        return await compiled.call_raw(ctx, msgspec.json.encode(arguments), _missing)


@attrs.frozen(repr=False)
class _CompiledTool:
    definition: Tool
    signature: CompiledSignature
    output: ToolOutput
    call: _Call
    task: TaskSupport

    async def call_raw(self, ctx: McpContext, raw: Any, resolve: Resolver) -> CallToolResult:
        """Decode ``raw`` arguments, call, convert. Invalid arguments are a tool error
        naming the field (the model can correct itself)."""
        data = b"{}" if raw is None or raw is UNSET or raw == _NULL else raw
        try:
            args = self.signature.decoder.decode(data)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # a string not UTF-8, too
            raise ToolError(f"Invalid arguments for tool {self.definition.name}: {exc}") from None
        extra = None
        if self.signature.extra_kwargs:
            extra = msgspec.json.decode(data)
            for name in self.signature.fields:
                extra.pop(name, None)
        kwargs = self.signature.call_arguments(args, ctx, resolve, extra)
        call = self.call
        if self.signature.depends:
            return await call_with(
                self.signature.depends, ctx, resolve, kwargs, partial(self._finish, ctx)
            )
        if call.is_async and call.timeout is None:  # the common case, one frame less
            return self.output.convert(await call.fn(**kwargs))
        return self.output.convert(await call(ctx, kwargs))

    async def _finish(self, ctx: McpContext, kwargs: dict[str, Any]) -> CallToolResult:
        return self.output.convert(await self.call(ctx, kwargs))


@overload
def tool(fn: F, /) -> FunctionTool: ...
@overload
def tool(
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    annotations: ToolAnnotations | None = None,
    icons: list[Icon] | None = None,
    meta: dict[str, Any] | None = None,
    timeout: float | None = None,
    thread: bool | None = None,
    task: TaskSupport = "forbidden",
    defer_task: bool = False,
    input_schema: dict[str, Any] | None = None,
    output_schema: dict[str, Any] | Literal[False] | None = None,
    scopes: str | Sequence[str] = (),
    tags: str | Iterable[str] | None = None,
    version: str | float | None = None,
    enabled: bool = True,
) -> Callable[[F], FunctionTool]: ...
def tool(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a tool handler from a function, for ``Server(...).tool(handler)``.

    The input schema comes from the parameters (``McpContext`` and dependencies are
    injected, not part of it), the description from the docstring, the output schema
    from the return annotation. ``timeout`` (seconds) tightens the request's budget
    for this tool; ``task`` says whether it may (``"optional"``) or must
    (``"required"``) run as a task (when the client supports tasks), from the start
    or, with ``defer_task``, from when it calls ``ctx.start_task()``. ``scopes`` are
    the OAuth scopes a caller needs (HTTP with authorization only). ``tags`` group
    tools for ``Server.enable``/``disable`` (and middleware); ``version`` lets several
    versions of one tool be registered (clients see the highest);
    ``enabled=False`` registers it disabled. The result is callable like the function.
    """

    def make(fn: Callable[..., Any]) -> FunctionTool:
        name = options.pop("name", None) or fn.__name__
        return FunctionTool(fn, name, **options)

    return make(fn) if fn is not None else make


# -- resources ---------------------------------------------------------------------------


@attrs.define(eq=False, slots=False)
class FunctionResource(_StandsForFunction):
    """A resource with a fixed URI, read by calling a function."""

    fn: Callable[..., Any]
    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    size: int | None = None
    annotations: Annotations | None = None
    icons: list[Icon] | None = None
    meta: dict[str, Any] | None = None
    timeout: float | None = None
    thread: bool | None = None
    scopes: tuple[str, ...] = attrs.field(default=(), converter=_scope_tuple)
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=_tag_set)
    version: str | None = attrs.field(default=None, converter=_version_text)
    enabled: bool = True
    _signature: CompiledSignature | None = attrs.field(default=None, init=False)
    _call: _Call | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        functools.update_wrapper(self, self.fn, updated=())

    def compile(
        self,
        is_dependency: Callable[[Any], bool] = _no_dependencies,
        options: CompilerOptions = DEFAULT_OPTIONS,
    ) -> None:
        signature = compile_signature(
            self.fn, name=self.name, is_dependency=is_dependency, options=options
        )
        if signature.fields:
            raise TypeError(
                f"resource {self.uri!r}: a fixed URI takes no parameters "
                f"({', '.join(signature.fields)}); use a URI template such as 'scheme://{{id}}'"
            )
        self._signature = signature
        self._call = _call_plan(self.fn, self.thread, self.timeout)
        if self.description is None:
            self.description = signature.description

    @property
    def definition(self) -> Resource:
        if self._signature is None:
            self.compile()
        return Resource(
            uri=self.uri,
            name=self.name,
            title=self.title,
            description=self.description,
            mime_type=self.mime_type,
            size=self.size,
            annotations=self.annotations,
            icons=self.icons,
            meta=self.meta,
        )

    async def read(
        self, ctx: McpContext, uri: str, resolve: Resolver = _missing
    ) -> ReadResourceResult:
        if self._signature is None or self._call is None:
            self.compile()
        assert self._signature is not None
        assert self._call is not None
        kwargs = self._signature.call_arguments(self._signature.args_type(), ctx, resolve)
        value = await _run(self._signature, self._call, ctx, resolve, kwargs)
        return resource_contents(value, uri, self.mime_type)


@attrs.define(eq=False, slots=False)
class FunctionResourceTemplate(_StandsForFunction):
    """Resources named by a URI template, read by calling a function with the
    template's variables (converted to the parameters' types)."""

    fn: Callable[..., Any]
    uri_template: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    annotations: Annotations | None = None
    icons: list[Icon] | None = None
    meta: dict[str, Any] | None = None
    timeout: float | None = None
    thread: bool | None = None
    complete: Mapping[str, Completer] | None = None
    scopes: tuple[str, ...] = attrs.field(default=(), converter=_scope_tuple)
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=_tag_set)
    version: str | None = attrs.field(default=None, converter=_version_text)
    enabled: bool = True
    template: UriTemplate = attrs.field(init=False)
    _signature: CompiledSignature | None = attrs.field(default=None, init=False)
    _call: _Call | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        from fastmcp_server._uri_template import UriTemplate  # loaded by the first template

        self.template = UriTemplate(self.uri_template)
        functools.update_wrapper(self, self.fn, updated=())

    def compile(
        self,
        is_dependency: Callable[[Any], bool] = _no_dependencies,
        options: CompilerOptions = DEFAULT_OPTIONS,
    ) -> None:
        signature = compile_signature(
            self.fn, name=self.name, is_dependency=is_dependency, options=options
        )
        unknown = set(signature.fields) - set(self.template.variables)
        if unknown:
            raise TypeError(
                f"resource template {self.uri_template!r}: parameters {sorted(unknown)} are not "
                "variables of the template"
            )
        self._signature = signature
        self._call = _call_plan(self.fn, self.thread, self.timeout)
        if self.description is None:
            self.description = signature.description

    @property
    def definition(self) -> ResourceTemplate:
        if self._signature is None:
            self.compile()
        return ResourceTemplate(
            uri_template=self.uri_template,
            name=self.name,
            title=self.title,
            description=self.description,
            mime_type=self.mime_type,
            annotations=self.annotations,
            icons=self.icons,
            meta=self.meta,
        )

    def match(self, uri: str) -> dict[str, str] | None:
        return self.template.match(uri)

    async def read(
        self, ctx: McpContext, uri: str, variables: dict[str, str], resolve: Resolver = _missing
    ) -> ReadResourceResult:
        if self._signature is None or self._call is None:
            self.compile()
        assert self._signature is not None
        assert self._call is not None
        values = {k: v for k, v in variables.items() if k in self._signature.fields}
        try:
            args = msgspec.convert(values, self._signature.args_type, strict=False)
        except msgspec.ValidationError as exc:
            raise McpError(
                INVALID_PARAMS, f"Invalid resource URI {uri}: {exc}", {"uri": uri}
            ) from None
        kwargs = self._signature.call_arguments(args, ctx, resolve)
        value = await _run(self._signature, self._call, ctx, resolve, kwargs)
        return resource_contents(value, uri, self.mime_type)


def resource(
    uri: str,
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    mime_type: str | None = None,
    size: int | None = None,
    annotations: Annotations | None = None,
    icons: list[Icon] | None = None,
    meta: dict[str, Any] | None = None,
    timeout: float | None = None,
    thread: bool | None = None,
    complete: Mapping[str, Completer] | None = None,
    scopes: str | Sequence[str] = (),
    tags: str | Iterable[str] | None = None,
    version: str | float | None = None,
    enabled: bool = True,
) -> Callable[[Callable[..., Any]], FunctionResource | FunctionResourceTemplate]:
    """Make a resource handler from a function, for ``Server(...).resource(handler)``.

    A URI with ``{variables}`` (RFC 6570) makes a resource template: the function's
    parameters receive the variables. The function returns ``str`` (text), ``bytes``
    (a blob), an ``Image``/``File``, contents structs, or any value (as JSON).
    ``complete`` maps a template variable to its completer. ``scopes`` are the OAuth
    scopes a caller needs to read it (HTTP with authorization only); ``tags``,
    ``version`` and ``enabled`` as for ``tool``.
    """

    def make(fn: Callable[..., Any]) -> FunctionResource | FunctionResourceTemplate:
        resolved = name or fn.__name__
        if "{" in uri:
            return FunctionResourceTemplate(
                fn, uri, resolved, title=title, description=description, mime_type=mime_type,
                annotations=annotations, icons=icons, meta=meta, timeout=timeout, thread=thread,
                complete=complete, scopes=_scope_tuple(scopes), tags=_tag_set(tags),
                version=_version_text(version), enabled=enabled,
            )  # fmt: skip
        if complete:
            raise TypeError("complete= applies to resource templates (URIs with {variables})")
        return FunctionResource(
            fn, uri, resolved, title=title, description=description, mime_type=mime_type,
            size=size, annotations=annotations, icons=icons, meta=meta, timeout=timeout, thread=thread,
            scopes=_scope_tuple(scopes), tags=_tag_set(tags), version=_version_text(version),
            enabled=enabled,
        )  # fmt: skip

    return make


# -- prompts -----------------------------------------------------------------------------


@attrs.define(eq=False, slots=False)
class FunctionPrompt(_StandsForFunction):
    """A prompt made from a function whose parameters are the prompt's arguments."""

    fn: Callable[..., Any]
    name: str
    title: str | None = None
    description: str | None = None
    icons: list[Icon] | None = None
    meta: dict[str, Any] | None = None
    timeout: float | None = None
    thread: bool | None = None
    complete: Mapping[str, Completer] | None = None
    scopes: tuple[str, ...] = attrs.field(default=(), converter=_scope_tuple)
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=_tag_set)
    version: str | None = attrs.field(default=None, converter=_version_text)
    enabled: bool = True
    _signature: CompiledSignature | None = attrs.field(default=None, init=False)
    _call: _Call | None = attrs.field(default=None, init=False)
    _definition: Prompt | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        functools.update_wrapper(self, self.fn, updated=())

    def compile(
        self,
        is_dependency: Callable[[Any], bool] = _no_dependencies,
        options: CompilerOptions = DEFAULT_OPTIONS,
    ) -> None:
        signature = compile_signature(
            self.fn, name=self.name, is_dependency=is_dependency, options=options
        )
        properties = signature.input_schema.get("properties", {})
        required = set(signature.input_schema.get("required", []))
        arguments = [
            PromptArgument(
                name=field,
                description=properties.get(field, {}).get("description"),
                required=field in required,
            )
            for field in signature.fields
        ]
        self._signature = signature
        self._call = _call_plan(self.fn, self.thread, self.timeout)
        self._definition = Prompt(
            name=self.name,
            title=self.title,
            description=self.description or signature.description,
            arguments=arguments or None,
            icons=self.icons,
            meta=self.meta,
        )

    @property
    def definition(self) -> Prompt:
        if self._definition is None:
            self.compile()
        assert self._definition is not None
        return self._definition

    async def get(
        self, ctx: McpContext, arguments: dict[str, str], resolve: Resolver = _missing
    ) -> GetPromptResult:
        if self._signature is None or self._call is None:
            self.compile()
        assert self._signature is not None
        assert self._call is not None
        try:
            args = msgspec.convert(arguments, self._signature.args_type, strict=False)
        except msgspec.ValidationError as exc:
            raise McpError(
                INVALID_PARAMS, f"Invalid arguments for prompt {self.name}: {exc}"
            ) from None
        kwargs = self._signature.call_arguments(args, ctx, resolve)
        value = await _run(self._signature, self._call, ctx, resolve, kwargs)
        return prompt_messages(value, self.definition.description)


@overload
def prompt(fn: F, /) -> FunctionPrompt: ...
@overload
def prompt(
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    icons: list[Icon] | None = None,
    meta: dict[str, Any] | None = None,
    timeout: float | None = None,
    thread: bool | None = None,
    complete: Mapping[str, Completer] | None = None,
    scopes: str | Sequence[str] = (),
    tags: str | Iterable[str] | None = None,
    version: str | float | None = None,
    enabled: bool = True,
) -> Callable[[F], FunctionPrompt]: ...
def prompt(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a prompt handler from a function, for ``Server(...).prompt(handler)``.

    The parameters are the prompt's arguments (values arrive as strings and are
    converted to the annotated types). Return a string (one user message), messages,
    content blocks, or a ``GetPromptResult``. ``scopes`` are the OAuth scopes a caller
    needs to get it (HTTP with authorization only); ``tags``, ``version`` and
    ``enabled`` as for ``tool``.
    """

    def make(fn: Callable[..., Any]) -> FunctionPrompt:
        name = options.pop("name", None) or fn.__name__
        return FunctionPrompt(fn, name, **options)

    return make(fn) if fn is not None else make


# -- completion --------------------------------------------------------------------------


@attrs.frozen
class CompleterCall:
    """How to call one completer (which optional arguments it takes)."""

    fn: Completer
    takes_context: bool
    context_param: str | None
    is_async: bool

    @classmethod
    def of(cls, fn: Completer) -> CompleterCall:
        params = inspect.signature(fn).parameters
        try:
            hints = typing.get_type_hints(fn)
        except Exception:
            hints = {}
        ctx_param = next(
            (
                n
                for n in params
                if isinstance(hints.get(n), type) and issubclass(hints[n], McpContext)
            ),
            None,
        )
        return cls(fn, "context" in params, ctx_param, is_async_callable(fn))

    async def __call__(self, ctx: McpContext, value: str, context: dict[str, str]) -> list[str]:
        kwargs: dict[str, Any] = {}
        if self.takes_context:
            kwargs["context"] = context
        if self.context_param:
            kwargs[self.context_param] = ctx
        result = self.fn(value, **kwargs)
        if self.is_async:
            result = await result
        return [str(v) for v in result]
