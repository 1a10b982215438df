"""Dependencies made per request: ``Depends(factory)`` as a parameter's default.

::

    @asynccontextmanager
    async def database() -> AsyncIterator[Db]:
        db = await connect()
        try:
            yield db
        finally:
            await db.close()

    @server.tool
    async def query(sql: str, db: Db = Depends(database)) -> list[Row]: ...

The parameter is not part of the schema; for each request the server calls the
factory and passes what it gives. A factory may be a function or an ``async``
function (its return value, awaited), a generator or async generator function (what
it yields; the rest of it runs after the request), or return a context manager or an
async context manager (entered; exited after the request). Its own parameters are
filled the same way: another ``Depends``, the ``McpContext`` (by annotation), a
dependency the server provides by type; others keep their defaults.

Within one request a factory runs once: every parameter (and every factory) that
depends on it gets the same value (``use_cache=False`` to call it each time). What
the factories entered is exited when the handler has returned or raised - cancelled
included - in reverse order, each exit seeing the handler's exception; the exits run
shielded from cancellation (like a masked section: keep them short). A sync factory
runs in the event loop: keep it quick.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    AsyncExitStack,
    asynccontextmanager,
    contextmanager,
)
from typing import Any, TypeVar, overload

import attrs
import trio

from fastmcp_core import McpContext

__all__ = ["CurrentContext", "Dependency", "Depends", "FactoryPlan", "call_with", "plan_of"]

T = TypeVar("T")


@attrs.frozen(eq=False)
class Dependency:
    """What ``Depends(factory)`` puts in a parameter's default."""

    factory: Callable[..., Any]
    use_cache: bool = True

    def __repr__(self) -> str:
        return f"Depends({getattr(self.factory, '__qualname__', self.factory)!r})"


@overload
def Depends(
    dependency: Callable[..., AbstractAsyncContextManager[T]], *, use_cache: bool = True
) -> T: ...
@overload
def Depends(
    dependency: Callable[..., AbstractContextManager[T]], *, use_cache: bool = True
) -> T: ...
@overload
def Depends(dependency: Callable[..., AsyncIterator[T]], *, use_cache: bool = True) -> T: ...
@overload
def Depends(dependency: Callable[..., Iterator[T]], *, use_cache: bool = True) -> T: ...
@overload
def Depends(dependency: Callable[..., Awaitable[T]], *, use_cache: bool = True) -> T: ...
@overload
def Depends(dependency: Callable[..., T], *, use_cache: bool = True) -> T: ...
def Depends(dependency: Callable[..., Any], *, use_cache: bool = True) -> Any:
    """A parameter default: the value ``dependency`` gives, made for each request (see
    the module docstring). Typed as what the factory gives, so
    ``db: Db = Depends(database)`` checks."""
    if not callable(dependency):
        raise TypeError(f"Depends() takes a callable, not {dependency!r}")
    return Dependency(dependency, use_cache)


def _the_context(ctx: McpContext) -> McpContext:
    return ctx


def CurrentContext() -> Any:
    """A parameter default that is the request's ``McpContext`` (the same as annotating
    the parameter ``McpContext``; PrefectHQ fastmcp's explicit spelling)."""
    return Dependency(_the_context)


# -- plans (made once, when a handler is compiled) -------------------------------------------


@attrs.frozen(eq=False)
class FactoryPlan:
    """How to call one factory: what each of its parameters gets."""

    factory: Callable[..., Any]
    use_cache: bool
    kind: str
    """``"asyncgen"``, ``"gen"``, ``"async"`` or ``"call"``."""
    nested: tuple[tuple[str, FactoryPlan], ...]
    context: tuple[str, ...]
    injected: tuple[tuple[str, Any], ...]
    """``(parameter, Injection)``: what the server provides by type."""

    async def value(
        self,
        ctx: McpContext,
        resolve: Callable[[Any], Any],
        made: dict[Callable[..., Any], Any],
        stack: AsyncExitStack,
    ) -> Any:
        if self.use_cache and self.factory in made:
            return made[self.factory]
        kwargs: dict[str, Any] = {}
        for name, plan in self.nested:
            kwargs[name] = await plan.value(ctx, resolve, made, stack)
        for name in self.context:
            kwargs[name] = ctx
        for name, injection in self.injected:
            kwargs[name] = resolve(injection)
        kind = self.kind
        if kind == "asyncgen":
            value = await stack.enter_async_context(asynccontextmanager(self.factory)(**kwargs))
        elif kind == "gen":
            value = stack.enter_context(contextmanager(self.factory)(**kwargs))
        else:
            value = self.factory(**kwargs)
            if kind == "async" or inspect.isawaitable(value):
                value = await value
            if isinstance(value, AbstractAsyncContextManager):
                value = await stack.enter_async_context(value)
            elif isinstance(value, AbstractContextManager):
                value = stack.enter_context(value)
        if self.use_cache:
            made[self.factory] = value
        return value


def plan_of(
    dependency: Dependency,
    is_dependency: Callable[[Any], bool],
    injection_of: Callable[[str, Any], Any],
    seen: tuple[Callable[..., Any], ...] = (),
) -> FactoryPlan:
    """The plan of ``dependency`` and the factories it depends on; ``TypeError`` for a
    cycle or a parameter nothing can fill."""
    factory = dependency.factory
    if factory in seen:
        raise TypeError(f"Depends({factory.__qualname__}) depends on itself")
    target = factory if inspect.isroutine(factory) else type(factory).__call__
    try:
        hints = typing.get_type_hints(target)
    except Exception:
        hints = {}
    nested: list[tuple[str, FactoryPlan]] = []
    context: list[str] = []
    injected: list[tuple[str, Any]] = []
    for param in inspect.signature(factory).parameters.values():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if isinstance(param.default, Dependency):
            nested.append(
                (param.name, plan_of(param.default, is_dependency, injection_of, (*seen, factory)))
            )
            continue
        annotation = hints.get(param.name)
        injection = injection_of(param.name, annotation) if annotation is not None else None
        if injection is not None and injection.type is McpContext:
            context.append(param.name)
        elif injection is not None and is_dependency(injection.type):
            injected.append((param.name, injection))
        elif param.default is inspect.Parameter.empty:
            raise TypeError(
                f"Depends({getattr(factory, '__qualname__', factory)}): nothing fills its "
                f"parameter {param.name!r} (give it a default, Depends(...), an McpContext "
                "annotation or a type the server provides)"
            )
    if inspect.isasyncgenfunction(factory):
        kind = "asyncgen"
    elif inspect.isgeneratorfunction(factory):
        kind = "gen"
    elif inspect.iscoroutinefunction(factory):
        kind = "async"
    else:
        kind = "call"
    return FactoryPlan(
        factory, dependency.use_cache, kind, tuple(nested), tuple(context), tuple(injected)
    )


async def call_with(
    plans: tuple[tuple[str, FactoryPlan], ...],
    ctx: McpContext,
    resolve: Callable[[Any], Any],
    kwargs: dict[str, Any],
    call: Callable[[dict[str, Any]], Awaitable[T]],
) -> T:
    """``await call(kwargs)`` with the values of ``plans`` added, then what the
    factories entered exited (see the module docstring)."""
    stack = AsyncExitStack()
    made: dict[Callable[..., Any], Any] = {}
    failure: BaseException | None = None
    try:
        for name, plan in plans:
            kwargs[name] = await plan.value(ctx, resolve, made, stack)
        return await call(kwargs)
    except BaseException as exc:
        failure = exc
        raise
    finally:
        with trio.CancelScope(shield=True):
            if failure is None:
                await stack.aclose()
            else:
                await stack.__aexit__(type(failure), failure, failure.__traceback__)
