"""Response caching middleware: answers repeated requests from memory.

``ResponseCachingMiddleware`` keeps the answers of ``tools/call`` (keyed by the tool's
name and its arguments), ``resources/read`` (by URI), ``prompts/get`` (by name and
arguments) and the four lists for ``ttl`` seconds (trio's clock), the least recently
used going first beyond ``max_entries``. Each operation has its settings
(``CallToolSettings(ttl=..., included_tools=[...], excluded_tools=[...])``,
``ReadResourceSettings(enabled=False)``...); without them, every operation is cached
for ``default_ttl`` seconds.

What it never does: answer for a component the session does not see (a hidden
tool stays unknown, a cached answer or not), keep a failed answer (an exception, a
tool's ``isError`` result, a task or an input-required round), or keep answers
across a change of the server's lists - when the server tells its clients a list
changed, the answers of that kind are dropped. A list is kept per view (a session
with visibility rules of its own has its own). The keys do not name the caller:
a tool whose answer depends on who asks (a token, the session's state) rather than
on its arguments must be excluded.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import attrs
import msgspec
import trio

from fastmcp_protocol import CallToolResult
from fastmcp_server._middleware import Middleware, MiddlewareContext, NextHook

__all__ = [
    "CacheSettings",
    "CallToolSettings",
    "GetPromptSettings",
    "ListPromptsSettings",
    "ListResourcesSettings",
    "ListToolsSettings",
    "ReadResourceSettings",
    "ResponseCachingMiddleware",
]


def _names(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


@attrs.frozen(init=False)
class CacheSettings:
    """How one operation is cached: ``enabled``, ``ttl`` (seconds; ``None``: the
    middleware's ``default_ttl``), and which names (or URIs) - all but ``excluded``,
    or only ``included``."""

    enabled: bool
    ttl: float | None
    included: frozenset[str] | None
    excluded: frozenset[str]

    def __init__(
        self,
        *,
        enabled: bool = True,
        ttl: float | None = None,
        included: Iterable[str] | None = None,
        excluded: Iterable[str] | None = None,
    ) -> None:
        self.__attrs_init__(enabled, ttl, _names(included), _names(excluded) or frozenset())

    def covers(self, name: str | None) -> bool:
        if not self.enabled:
            return False
        if name is None:
            return True
        return name not in self.excluded and (self.included is None or name in self.included)


class CallToolSettings(CacheSettings):
    def __init__(
        self,
        *,
        enabled: bool = True,
        ttl: float | None = None,
        included_tools: Iterable[str] | None = None,
        excluded_tools: Iterable[str] | None = None,
    ) -> None:
        super().__init__(enabled=enabled, ttl=ttl, included=included_tools, excluded=excluded_tools)


class ReadResourceSettings(CacheSettings):
    def __init__(
        self,
        *,
        enabled: bool = True,
        ttl: float | None = None,
        included_uris: Iterable[str] | None = None,
        excluded_uris: Iterable[str] | None = None,
    ) -> None:
        super().__init__(enabled=enabled, ttl=ttl, included=included_uris, excluded=excluded_uris)


class GetPromptSettings(CacheSettings):
    def __init__(
        self,
        *,
        enabled: bool = True,
        ttl: float | None = None,
        included_prompts: Iterable[str] | None = None,
        excluded_prompts: Iterable[str] | None = None,
    ) -> None:
        super().__init__(
            enabled=enabled, ttl=ttl, included=included_prompts, excluded=excluded_prompts
        )


class ListToolsSettings(CacheSettings):
    def __init__(self, *, enabled: bool = True, ttl: float | None = None) -> None:
        super().__init__(enabled=enabled, ttl=ttl)


class ListResourcesSettings(CacheSettings):
    def __init__(self, *, enabled: bool = True, ttl: float | None = None) -> None:
        super().__init__(enabled=enabled, ttl=ttl)


class ListPromptsSettings(CacheSettings):
    def __init__(self, *, enabled: bool = True, ttl: float | None = None) -> None:
        super().__init__(enabled=enabled, ttl=ttl)


# the kind of list each cached method belongs to (what a list change drops)
_KIND = {
    "tools/call": "tools",
    "tools/list": "tools",
    "resources/read": "resources",
    "resources/list": "resources",
    "resources/templates/list": "resources",
    "prompts/get": "prompts",
    "prompts/list": "prompts",
}


@attrs.define(eq=False)
class _Entry:
    value: Any
    expires: float
    view: Any
    """The view a list was taken from, the handler that answered a call."""


@attrs.define(eq=False, init=False)
class ResponseCachingMiddleware(Middleware):
    """Caches answers (see the module docstring)."""

    default_ttl: float
    max_entries: int
    settings: dict[str, CacheSettings]
    _entries: OrderedDict[tuple[Any, ...], _Entry]
    hits: int
    misses: int

    def __init__(
        self,
        *,
        default_ttl: float = 300.0,
        max_entries: int = 1024,
        call_tool_settings: CacheSettings | None = None,
        read_resource_settings: CacheSettings | None = None,
        get_prompt_settings: CacheSettings | None = None,
        list_tools_settings: CacheSettings | None = None,
        list_resources_settings: CacheSettings | None = None,
        list_prompts_settings: CacheSettings | None = None,
    ) -> None:
        self.default_ttl = default_ttl
        self.max_entries = max_entries
        every = CacheSettings()
        lists_of_resources = list_resources_settings or every
        self.settings = {
            "tools/call": call_tool_settings or every,
            "resources/read": read_resource_settings or every,
            "prompts/get": get_prompt_settings or every,
            "tools/list": list_tools_settings or every,
            "resources/list": lists_of_resources,
            "resources/templates/list": lists_of_resources,
            "prompts/list": list_prompts_settings or every,
        }
        self._entries = OrderedDict()
        self.hits = self.misses = 0

    async def on_request(self, context: MiddlewareContext, call_next: NextHook) -> Any:
        method = context.method
        settings = self.settings.get(method)
        if settings is None or not settings.enabled:
            return await call_next(context)
        listing = method.endswith("/list")
        if listing:
            view = context.connection.view() if context.connection is not None else None
            if getattr(context.params, "cursor", None) is not None:
                return await call_next(context)  # the server pages the cached list
            key: tuple[Any, ...] = (method, id(view))
        else:
            name = context.name
            if not settings.covers(name) or getattr(context.params, "task", None) is not None:
                return await call_next(context)
            offered = context.offered()
            if offered is None:  # not one this session sees: no answer here
                return await call_next(context)
            view = offered.handler  # this very component (a session may see another version)
            arguments = context.arguments
            encoded = None if arguments is None else msgspec.json.encode(arguments, order="sorted")
            key = (method, name, encoded)
        now = trio.current_time()
        entry = self._entries.get(key)
        if entry is not None and entry.expires > now and entry.view is view:
            self._entries.move_to_end(key)
            self.hits += 1
            return list(entry.value) if listing else entry.value
        self.misses += 1
        value = await call_next(context)
        if _keepable(value):
            ttl = settings.ttl if settings.ttl is not None else self.default_ttl
            self._entries[key] = _Entry(list(value) if listing else value, now + ttl, view)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def on_list_changed(self, kinds: tuple[str, ...]) -> None:
        dropped = {"resources" if kind == "templates" else kind for kind in kinds}
        for key in [key for key in self._entries if _KIND.get(key[0]) in dropped]:
            del self._entries[key]

    def clear(self) -> None:
        """Forget every answer."""
        self._entries.clear()


def _keepable(value: Any) -> bool:
    if isinstance(value, list):
        return True
    if isinstance(value, CallToolResult):
        return not value.is_error
    return getattr(value, "result_type", None) in (None, "complete")  # not input_required
