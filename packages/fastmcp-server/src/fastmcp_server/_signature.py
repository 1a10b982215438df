"""From a Python function to what MCP needs to call it - computed once, at registration.

``compile_signature`` reads a handler's parameters and docstring and produces:

* a msgspec Struct type of the parameters a client provides (its JSON Schema 2020-12
  is the tool's ``inputSchema``; parameter descriptions come from ``Annotated[...,
  msgspec.Meta(description=...)]``, a plain string in ``Annotated``, or the
  docstring's ``Args:`` / ``:param x:`` / numpydoc ``Parameters`` section);
* a decoder that turns the raw ``arguments`` JSON straight into that Struct (so
  validation errors name the offending field: ``Expected `int`, got `str` - at
  `$.a```);
* the plan for the other parameters: the ``McpContext``, dependencies injected by
  type and those made per request by a ``Depends(...)`` default (never part of the
  schema).

Nothing here runs per call except ``CompiledSignature.call_arguments``.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import attrs
import msgspec

from fastmcp_core import McpContext
from fastmcp_server._depends import Dependency, FactoryPlan, plan_of

__all__ = [
    "CompiledSignature",
    "CompilerOptions",
    "Injection",
    "compile_signature",
    "json_schema",
    "parse_docstring",
    "type_hints",
]


@attrs.frozen
class CompilerOptions:
    """How a server compiles its handlers (``Server(strict_input_validation=...,
    dereference_schemas=...)``)."""

    strict: bool = False
    """Arguments must have their schema's JSON types exactly; when ``False`` (the
    default) a string holding a number or a boolean (``"5"``, ``"true"``) is accepted
    for a number or boolean parameter, as models often send them."""
    dereference: bool = True
    """Inline ``$ref``s in the schemas (recursive types keep their ``$defs``)."""


DEFAULT_OPTIONS = CompilerOptions()


@attrs.frozen
class Injection:
    """A parameter the runtime fills: the context, or a dependency of ``type``."""

    name: str
    type: Any  # McpContext for the context, else the dependency's type
    optional: bool = False


@attrs.frozen(repr=False)
class CompiledSignature:
    """What a handler takes, decided once."""

    args_type: type[msgspec.Struct]
    """The Struct of client-provided parameters."""
    input_schema: dict[str, Any]
    fields: tuple[str, ...]
    """Client-provided parameter names, in order (Struct attribute names)."""
    injections: tuple[Injection, ...]
    extra_kwargs: bool
    """The function takes ``**kwargs``: unknown arguments are passed through."""
    description: str | None
    """The docstring's summary (before any parameter section)."""
    decoder: msgspec.json.Decoder[Any] = attrs.field(repr=False)
    depends: tuple[tuple[str, FactoryPlan], ...] = ()
    """The parameters whose default is ``Depends(...)``, made per call."""

    def call_arguments(
        self,
        args: msgspec.Struct,
        ctx: McpContext,
        resolve: Callable[[Injection], Any],
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The keyword arguments for one call."""
        kwargs = msgspec.structs.asdict(args)  # its fields are exactly ``fields``
        for injection in self.injections:
            kwargs[injection.name] = ctx if injection.type is McpContext else resolve(injection)
        if extra:
            for key, value in extra.items():
                kwargs.setdefault(key, value)
        return kwargs


_EMPTY = inspect.Parameter.empty


def type_hints(fn: Callable[..., Any], name: str) -> dict[str, Any]:
    """``fn``'s resolved annotations (with ``Annotated`` extras); ``TypeError`` if they
    cannot be resolved. The result is shared between alike functions: do not mutate it."""
    key = _function_key(fn)
    found = _HINTS.get(key) if key is not None else None
    if found is None:
        try:
            found = typing.get_type_hints(fn, include_extras=True)
        except Exception as exc:  # report any resolution failure the same way
            raise TypeError(f"{name}: cannot resolve the type annotations: {exc}") from exc
        if key is not None:
            _HINTS[key] = found
    return found


def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    key = _function_key(fn)
    found = _SIGNATURES.get(key) if key is not None else None
    if found is None:
        found = inspect.signature(fn)
        if key is not None:
            _SIGNATURES[key] = found
    return found


# Functions made by one ``def`` (a factory of alike tools, say) share a code object;
# with the same annotations and defaults they have the same hints and signature, which
# are then resolved once (string annotations are otherwise compiled anew each time).
_HINTS: dict[Any, dict[str, Any]] = {}
_SIGNATURES: dict[Any, inspect.Signature] = {}


def _function_key(fn: Callable[..., Any]) -> Any:
    """What a plain function's hints and signature depend on; ``None`` for anything
    else, or when part of it is unhashable."""
    if not inspect.isfunction(fn):
        return None
    key = (
        fn.__code__,
        fn.__module__,
        tuple(fn.__annotations__.items()),
        fn.__defaults__,
        tuple(fn.__kwdefaults__.items()) if fn.__kwdefaults__ else None,
    )
    try:
        hash(key)
    except TypeError:
        return None
    return key


# Handlers with the same parameters (names, types, defaults, descriptions) share one
# argument struct, schema and decoder: registering a thousand alike tools is cheap.
_SHAPES: dict[Any, tuple[type[msgspec.Struct], dict[str, Any], msgspec.json.Decoder[Any]]] = {}


def compile_signature(
    fn: Callable[..., Any],
    *,
    name: str,
    is_dependency: Callable[[Any], bool] = lambda t: False,
    hints: dict[str, Any] | None = None,
    options: CompilerOptions = DEFAULT_OPTIONS,
) -> CompiledSignature:
    """Compile ``fn``'s signature (see the module docstring).

    A parameter is injected when it is annotated ``McpContext`` (or a subclass, or
    ``McpContext | None``) or when ``is_dependency(annotation)`` says so. Raises
    ``TypeError`` for ``*args`` or for an annotation msgspec cannot decode. ``options``
    decide how lenient the decoder is and whether the schema's ``$ref``s are inlined.
    """
    signature = _signature(fn)
    if hints is None:
        hints = type_hints(fn, name)
    summary, param_docs = parse_docstring(inspect.getdoc(fn) or "")
    struct_fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    names: list[str] = []
    injections: list[Injection] = []
    depends: list[tuple[str, FactoryPlan]] = []
    extra_kwargs = False
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            raise TypeError(
                f"{name}: *{param.name} cannot be given by a client; use a list parameter"
            )
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            extra_kwargs = True
            continue
        if isinstance(param.default, Dependency):
            depends.append(
                (
                    param.name,
                    plan_of(
                        param.default,
                        is_dependency,
                        lambda n, a: _injection(n, a, is_dependency),
                    ),
                )
            )
            continue
        annotation = hints.get(param.name, Any)
        injected = _injection(param.name, annotation, is_dependency)
        if injected is not None:
            injections.append(injected)
            continue
        described = _describe(annotation, param_docs.get(param.name))
        if param.default is _EMPTY:
            struct_fields.append((param.name, described))
        else:
            struct_fields.append((param.name, described, param.default))
        names.append(param.name)
    try:
        shape: Any = (options, tuple(struct_fields))
        hash(shape)
    except TypeError:  # an unhashable default or annotation: no sharing
        shape = None
    cached = _SHAPES.get(shape) if shape is not None else None
    if cached is None:
        args_type = msgspec.defstruct(
            _struct_name(name), struct_fields, kw_only=True, forbid_unknown_fields=False
        )
        try:
            decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
                args_type, strict=options.strict
            )
            schema = json_schema(args_type, dereference=options.dereference)
        except Exception as exc:  # NameError too: a class whose hints do not resolve
            raise _unsupported_parameter(name, struct_fields) or TypeError(
                f"{name}: unsupported parameter type: {exc}"
            ) from exc
        cached = (args_type, schema, decoder)
        if shape is not None:
            _SHAPES[shape] = cached
    args_type, schema, decoder = cached  # schemas are shared values: never mutate one
    return CompiledSignature(
        args_type=args_type,
        input_schema=schema,
        fields=tuple(names),
        injections=tuple(injections),
        extra_kwargs=extra_kwargs,
        description=summary or None,
        decoder=decoder,
        depends=tuple(depends),
    )


def _unsupported_parameter(
    name: str, fields: list[tuple[str, Any] | tuple[str, Any, Any]]
) -> TypeError | None:
    """The error naming the first parameter whose type a client cannot send as JSON
    (``None`` when each one alone is fine)."""
    for field in fields:
        param, annotation = field[0], field[1]
        try:
            msgspec.json.Decoder(annotation)
            msgspec.json.schema(annotation)
        except Exception as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            shown = getattr(_strip_annotated(annotation), "__name__", repr(annotation))
            return TypeError(
                f"{name}: parameter {param!r} has type {shown}, which a client cannot send "
                f"as JSON ({reason}). Use JSON-shaped types (str, int, float, bool, None, "
                "list, dict, Literal, an Enum, a msgspec.Struct, dataclass, attrs class or "
                "TypedDict), or have it injected: annotate it McpContext, or give its "
                "type to Server(dependencies=...) or a lifespan"
            )
    return None


def json_schema(type_: Any, *, dereference: bool = True) -> dict[str, Any]:
    """The JSON Schema 2020-12 of ``type_``, self-contained: the root is inlined, and
    so (``dereference``) is every schema it refers to that is not recursive; what is
    left stays in ``$defs`` (a recursive type, or everything without
    ``dereference``)."""
    (root,), components = msgspec.json.schema_components([type_], ref_template="#/$defs/{name}")
    ref = root.get("$ref")
    if ref is not None:
        name = _name_of(ref)
        root = dict(components[name])
        if name not in _refs_in(root, components):  # a recursive root stays a definition too
            del components[name]
    root.pop("title", None)
    if root.get("type") == "object" and "properties" not in root:
        root["properties"] = {}
    if components and dereference:
        recursive = _recursive(components)
        root = _inline(root, components, recursive)
        components = {
            name: _inline(schema, components, recursive)
            for name, schema in components.items()
            if name in recursive and name in _refs_in(root, components)
        }
    if components:
        root["$defs"] = components
    return root


def _name_of(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _direct_refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(_name_of(ref))
        for value in node.values():
            found |= _direct_refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _direct_refs(value)
    return found


def _refs_in(node: Any, components: Mapping[str, Any]) -> set[str]:
    """Every definition ``node`` refers to, directly or through others."""
    seen: set[str] = set()
    todo = list(_direct_refs(node))
    while todo:
        name = todo.pop()
        if name in seen or name not in components:
            continue
        seen.add(name)
        todo.extend(_direct_refs(components[name]))
    return seen


def _recursive(components: Mapping[str, Any]) -> set[str]:
    """The definitions that refer to themselves, directly or through others: they
    stay definitions (inlining them would never end)."""
    return {name for name, schema in components.items() if name in _refs_in(schema, components)}


def _inline(node: Any, components: Mapping[str, Any], keep: set[str]) -> Any:
    """``node`` with every ``$ref`` to a definition outside ``keep`` replaced by the
    (inlined) definition; sibling keywords of a ``$ref`` (a default, a description)
    stay beside it."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and _name_of(ref) in components and _name_of(ref) not in keep:
            target = _inline(components[_name_of(ref)], components, keep)
            siblings = {k: _inline(v, components, keep) for k, v in node.items() if k != "$ref"}
            return {**target, **siblings}
        return {k: _inline(v, components, keep) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, components, keep) for v in node]
    return node


def _injection(
    name: str, annotation: Any, is_dependency: Callable[[Any], bool]
) -> Injection | None:
    base, optional = _unwrap_optional(_strip_annotated(annotation))
    if isinstance(base, type) and issubclass(base, McpContext):
        return Injection(name, McpContext, optional)
    if base is not Any and is_dependency(base):
        return Injection(name, base, optional)
    return None


def _strip_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    args = typing.get_args(annotation)
    if args and type(None) in args and _is_union(annotation):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0], True
    return annotation, False


def _is_union(annotation: Any) -> bool:
    import types

    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _describe(annotation: Any, doc: str | None) -> Any:
    """``annotation`` with a description attached (from ``Annotated`` strings or docs)."""
    extras: tuple[Any, ...] = ()
    base = annotation
    if typing.get_origin(annotation) is Annotated:
        base, *rest = typing.get_args(annotation)
        extras = tuple(rest)
    text = [e for e in extras if isinstance(e, str)]
    metas = [e for e in extras if isinstance(e, msgspec.Meta)]
    others = [e for e in extras if not isinstance(e, str | msgspec.Meta)]
    has_description = any(m.description for m in metas)
    description = text[0] if text else doc
    if description and not has_description:
        metas.append(msgspec.Meta(description=description))
    if not metas and not others:
        return base
    return Annotated[(base, *metas, *others)]


def _struct_name(name: str) -> str:
    cleaned = re.sub(r"\W", "_", name).strip("_") or "tool"
    return "".join(part[:1].upper() + part[1:] for part in cleaned.split("_")) + "Arguments"


_GOOGLE_HEADER = re.compile(
    r"^(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments):\s*$"
)
_SECTION_HEADER = re.compile(
    r"^(Returns?|Raises|Yields|Examples?|Notes?|See Also|Attributes|Warnings?|References|Todo):\s*$"
)
_NUMPY_UNDERLINE = re.compile(r"^-{3,}\s*$")
_SPHINX_PARAM = re.compile(r"^:param\s+(?:[^:]+\s+)?(\w+):\s*(.*)$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary of a docstring and the descriptions of its parameters.

    Understands Google (``Args:``), numpydoc (``Parameters`` + dashes) and Sphinx
    (``:param name:``) styles; the summary is everything before the first section.
    """
    lines = doc.splitlines()
    summary: list[str] = []
    params: dict[str, str] = {}
    i = 0
    in_summary = True
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if _GOOGLE_HEADER.match(stripped):
            in_summary = False
            i = _google_section(lines, i + 1, params)
            continue
        if (
            stripped in ("Parameters", "Arguments", "Args", "Other Parameters")
            and i + 1 < len(lines)
            and _NUMPY_UNDERLINE.match(lines[i + 1].strip())
        ):
            in_summary = False
            i = _numpy_section(lines, i + 2, params)
            continue
        sphinx = _SPHINX_PARAM.match(stripped)
        if sphinx:
            in_summary = False
            text = [sphinx.group(2)]
            i += 1
            while i < len(lines) and lines[i].startswith((" ", "\t")) and lines[i].strip():
                text.append(lines[i].strip())
                i += 1
            params[sphinx.group(1)] = " ".join(t for t in text if t)
            continue
        if (
            _SECTION_HEADER.match(stripped)
            or stripped.startswith(":")
            or (i + 1 < len(lines) and _NUMPY_UNDERLINE.match(lines[i + 1].strip()) and stripped)
        ):
            in_summary = False
        if in_summary:
            summary.append(line)
        i += 1
    return "\n".join(summary).strip(), params


def _google_section(lines: list[str], i: int, params: dict[str, str]) -> int:
    base_indent: int | None = None
    current: str | None = None
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            break
        if base_indent is None:
            base_indent = indent
        if indent == base_indent:
            head, _, text = line.strip().partition(":")
            current = head.split("(")[0].strip().lstrip("*")
            params[current] = text.strip()
        elif current is not None:
            params[current] = (params[current] + " " + line.strip()).strip()
        i += 1
    return i


def _numpy_section(lines: list[str], i: int, params: dict[str, str]) -> int:
    current: str | None = None
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if i + 1 < len(lines) and _NUMPY_UNDERLINE.match(lines[i + 1].strip()) and stripped:
            break
        if not stripped:
            i += 1
            continue
        if not line.startswith((" ", "\t")):
            current = stripped.split(":")[0].strip().lstrip("*")
            params[current] = ""
        elif current is not None:
            params[current] = (params[current] + " " + stripped).strip()
        i += 1
    return i
