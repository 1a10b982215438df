"""fastmcp-server: MCP servers on trio, for both protocol eras, over stdio and HTTP.

::

    from fastmcp_server import Server

    server = Server("demo", "1.0", request_timeout=30)

    @server.tool
    async def add(a: int, b: int) -> int:
        \"\"\"Add two integers.\"\"\"
        return a + b

    server.run()  # stdio; server.run("http", port=8000) for Streamable HTTP

Tools, resources and prompts are plain functions (or hand-written ``ToolHandler``,
``ResourceHandler``, ``PromptHandler`` objects); their schemas, argument decoding and
result conversion are derived once, at registration. ``McpContext`` gives a handler
cancellation, its budget, child tasks, progress, logging and questions to the client
(elicitation, sampling, roots) in both protocol eras.

Each name has one home: this package exports what it defines. The context, budgets
and the errors a handler raises are ``fastmcp_core``'s (``McpContext``, ``Budget``,
``ToolError``, ``ProtocolError``) and ``fastmcp_protocol``'s (``McpError``);
``fastmcp`` hands them all on in one place.
"""

import importlib as _importlib
import typing as _typing

from fastmcp_server._components import Component, VersionFilter, VersionSpec
from fastmcp_server._depends import CurrentContext, Depends
from fastmcp_server._dispatch import Connection
from fastmcp_server._handlers import (
    Completer,
    FunctionPrompt,
    FunctionResource,
    FunctionResourceTemplate,
    FunctionTool,
    PromptHandler,
    ResourceHandler,
    ResourceTemplateHandler,
    ToolHandler,
    prompt,
    resource,
    tool,
)
from fastmcp_server._server import Lifespan, Server
from fastmcp_server._settings import Settings, SettingsError
from fastmcp_server._tasks import TaskState

if _typing.TYPE_CHECKING:
    from fastmcp_server._caching import (
        CacheSettings,
        CallToolSettings,
        GetPromptSettings,
        ListPromptsSettings,
        ListResourcesSettings,
        ListToolsSettings,
        ReadResourceSettings,
        ResponseCachingMiddleware,
    )
    from fastmcp_server._error_handling import (
        ErrorHandlingMiddleware,
        RetryMiddleware,
    )
    from fastmcp_server._files import FileResources
    from fastmcp_server._media import Audio, File, Image
    from fastmcp_server._middleware import (
        CallNext,
        ErrorMappingMiddleware,
        LoggingMiddleware,
        Middleware,
        MiddlewareContext,
        MiddlewareFunction,
        NextHook,
        TimingMiddleware,
    )
    from fastmcp_server._rate_limiting import (
        RateLimitError,
        RateLimitingMiddleware,
        SlidingWindowRateLimitingMiddleware,
    )
    from fastmcp_server._transform import ArgTransform, TransformedTool, forward, forward_raw
    from fastmcp_server._uri_template import UriTemplate

    __version__: str
    """The installed distribution's version: its ``pyproject.toml`` is the one source."""

# Loaded on first use, so that a server that does not use them starts faster.
_LAZY = {
    "Audio": "_media",
    "File": "_media",
    "FileResources": "_files",
    "Image": "_media",
    "CallNext": "_middleware",
    "ErrorMappingMiddleware": "_middleware",
    "LoggingMiddleware": "_middleware",
    "Middleware": "_middleware",
    "MiddlewareContext": "_middleware",
    "MiddlewareFunction": "_middleware",
    "NextHook": "_middleware",
    "TimingMiddleware": "_middleware",
    "UriTemplate": "_uri_template",
    "RateLimitError": "_rate_limiting",
    "RateLimitingMiddleware": "_rate_limiting",
    "SlidingWindowRateLimitingMiddleware": "_rate_limiting",
    "ErrorHandlingMiddleware": "_error_handling",
    "RetryMiddleware": "_error_handling",
    "ResponseCachingMiddleware": "_caching",
    "CacheSettings": "_caching",
    "CallToolSettings": "_caching",
    "ReadResourceSettings": "_caching",
    "GetPromptSettings": "_caching",
    "ListToolsSettings": "_caching",
    "ListResourcesSettings": "_caching",
    "ListPromptsSettings": "_caching",
    "ArgTransform": "_transform",
    "TransformedTool": "_transform",
    "forward": "_transform",
    "forward_raw": "_transform",
}


if not _typing.TYPE_CHECKING:  # (for mypy, the names above and nothing else)

    def __getattr__(name: str) -> _typing.Any:
        if name == "__version__":  # read when asked: importlib.metadata is slow to import
            from importlib.metadata import version

            globals()[name] = value = version("fastmcp-server")
            return value
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'fastmcp_server' has no attribute {name!r}")
        value = getattr(_importlib.import_module(f"fastmcp_server.{module}"), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "Server",
    "tool",
    "resource",
    "prompt",
    "ToolHandler",
    "ResourceHandler",
    "ResourceTemplateHandler",
    "PromptHandler",
    "FunctionTool",
    "FunctionResource",
    "FunctionResourceTemplate",
    "FunctionPrompt",
    "TransformedTool",
    "ArgTransform",
    "forward",
    "forward_raw",
    "Completer",
    "Depends",
    "CurrentContext",
    "Component",
    "VersionFilter",
    "VersionSpec",
    "Connection",
    "Lifespan",
    "Image",
    "Audio",
    "File",
    "FileResources",
    "Middleware",
    "MiddlewareContext",
    "MiddlewareFunction",
    "CallNext",
    "NextHook",
    "LoggingMiddleware",
    "TimingMiddleware",
    "ErrorMappingMiddleware",
    "RateLimitError",
    "RateLimitingMiddleware",
    "SlidingWindowRateLimitingMiddleware",
    "ErrorHandlingMiddleware",
    "RetryMiddleware",
    "ResponseCachingMiddleware",
    "CacheSettings",
    "CallToolSettings",
    "ReadResourceSettings",
    "GetPromptSettings",
    "ListToolsSettings",
    "ListResourcesSettings",
    "ListPromptsSettings",
    "TaskState",
    "UriTemplate",
    "Settings",
    "SettingsError",
]
